"""A version's metrics under stable names, whatever the framework called them: Ultralytics' `metrics/precision(B)`
becomes `precision`, mask metrics get a `mask_` prefix, F1 is derived; names without a slash (a regression's `mse`,
say) pass through. Losses and learning rates describe training, not the model, and stay with the job."""

from __future__ import annotations

import re

_ULTRALYTICS = re.compile(r"^metrics/(?P<name>[^()]+)(?:\((?P<kind>[BMP])\))?$")
_NAMES = {
    "precision": "precision",
    "recall": "recall",
    "mAP50": "map50",
    "mAP50-95": "map50_95",
    "accuracy_top1": "accuracy",
    "accuracy_top5": "accuracy_top5",
}
_PREFIX = {"B": "", None: "", "M": "mask_", "P": "pose_"}


def normalize(raw: dict[str, float]) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in raw.items():
        if match := _ULTRALYTICS.match(key):
            name = _NAMES.get(match["name"], match["name"].lower().replace("-", "_"))
            out[_PREFIX[match["kind"]] + name] = float(value)
        elif "/" not in key and not key.startswith("lr"):
            out[key] = float(value)
    for prefix in ("", "mask_"):
        p, r = out.get(f"{prefix}precision"), out.get(f"{prefix}recall")
        if p is not None and r is not None:
            out[f"{prefix}f1"] = 2 * p * r / (p + r) if p + r > 0 else 0.0
    return out

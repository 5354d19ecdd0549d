"""Make Ultralytics run with no network and no shared state, in the training child only.

`prepare(config_dir)` must run before the first `import ultralytics`, because Ultralytics decides at import time
whether it is online (`YOLO_OFFLINE`) and where its settings live (`YOLO_CONFIG_DIR`). What it does:

- env: YOLO_OFFLINE=1 (no DNS probe, no download attempts), YOLO_AUTOINSTALL=0 (never pip-installs), a private
  YOLO_CONFIG_DIR, MPLCONFIGDIR beside it (matplotlib's font cache, used only when plots are on);
- settings: sync (telemetry) and every logger integration off; runs, weights and datasets dirs inside config_dir;
- font: loading a dataset calls `check_font("Arial.ttf")`, which downloads the font unless it is in the config dir.
  A TTF found on the machine (matplotlib's DejaVuSans, then system fonts) is copied there as Arial.ttf and
  Arial.Unicode.ttf (non-ASCII class names ask for the latter). Whether or not one was found, `check_font` is then
  replaced by a lookup that never downloads: it returns the copied font or None (Ultralytics only draws with it
  when plotting; without one, plots fall back to Pillow's built-in bitmap font). The replacement also skips the
  `import matplotlib.font_manager` that the original does on every call (seconds on a cold font cache);
- AMP: on a CUDA device `amp=True` runs `check_amp`, which downloads yolo26n.pt to compare FP32 and AMP results.
  Offline it is replaced by a check that trusts AMP on CUDA unless those weights are already present (CPU and MPS
  keep the original, which turns AMP off without downloading anything).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

FONT_NAMES = ("Arial.ttf", "Arial.Unicode.ttf")
_SYSTEM_FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "/Library/Fonts", "C:/Windows/Fonts")
_PREFERRED_FONTS = ("DejaVuSans.ttf", "LiberationSans-Regular.ttf", "Arial.ttf", "arial.ttf")


def prepare_environment(config_dir: Path) -> Path | None:
    """Set the environment and place a font. Returns the font file copied, or None if no TTF exists here."""
    config_dir.mkdir(parents=True, exist_ok=True)
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ["YOLO_AUTOINSTALL"] = "0"
    os.environ["YOLO_CONFIG_DIR"] = str(config_dir)
    os.environ.setdefault("MPLCONFIGDIR", str(config_dir / "matplotlib"))
    user_dir = config_dir / "Ultralytics"  # what Ultralytics makes of YOLO_CONFIG_DIR
    user_dir.mkdir(parents=True, exist_ok=True)
    source = find_font()
    if source is None:
        return None
    for name in FONT_NAMES:
        target = user_dir / name
        if not target.exists():
            tmp = target.with_name(f".{name}.{os.getpid()}.tmp")
            shutil.copyfile(source, tmp)
            tmp.replace(target)
    return source


def find_font(extra_dirs: Iterable[str] = ()) -> Path | None:
    """A TrueType font on this machine: matplotlib's bundled DejaVuSans if matplotlib is installed (found without
    importing it), else the first preferred or any .ttf under the system font folders."""
    bundled = _matplotlib_font()
    if bundled is not None:
        return bundled
    roots = [Path(d) for d in (*extra_dirs, *_SYSTEM_FONT_DIRS) if Path(d).is_dir()]
    for root in roots:
        for name in _PREFERRED_FONTS:
            for found in root.rglob(name):
                return found
    for root in roots:
        for found in root.rglob("*.ttf"):
            return found
    return None


def _matplotlib_font() -> Path | None:
    spec = importlib.util.find_spec("matplotlib")
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"
        if candidate.is_file():
            return candidate
    return None


def configure_ultralytics(config_dir: Path) -> None:
    """After `import ultralytics`: settings, and the offline stand-ins for `check_font` and `check_amp`."""
    uu: Any = importlib.import_module("ultralytics.utils")  # a ModuleType: untyped framework code stays Any here

    uu.SETTINGS.update(
        {
            "sync": False,
            "runs_dir": str(config_dir / "runs"),
            "weights_dir": str(config_dir / "weights"),
            "datasets_dir": str(config_dir / "datasets"),
            **dict.fromkeys(("clearml", "comet", "dvc", "mlflow", "raytune", "tensorboard", "wandb"), False),
            **dict.fromkeys(("vscode_msg", "openvino_msg"), False),
        }
    )
    user_dir = Path(uu.USER_CONFIG_DIR)

    def check_font(font: str = "Arial.ttf") -> Path | None:
        file = user_dir / Path(font).name
        return file if file.exists() else None

    checks: Any = importlib.import_module("ultralytics.utils.checks")
    for name in ("ultralytics.utils.checks", "ultralytics.data.utils", "ultralytics.utils.plotting"):
        module: Any = importlib.import_module(name)
        if hasattr(module, "check_font"):  # each module bound its own name at import
            module.check_font = check_font

    original_check_amp = checks.check_amp
    weights = Path(uu.SETTINGS["weights_dir"]) / "yolo26n.pt"

    def check_amp(model: Any) -> bool:
        device = next(model.parameters()).device
        if weights.is_file() or device.type in {"cpu", "mps"}:  # no download on these paths
            return bool(original_check_amp(model))
        uu.LOGGER.info("AMP: check skipped offline (no local yolo26n.pt); training with amp as configured")
        return True

    checks.check_amp = check_amp
    trainer_module: Any = importlib.import_module("ultralytics.engine.trainer")
    if hasattr(trainer_module, "check_amp"):
        trainer_module.check_amp = check_amp

"""Answers questions about the installed Ultralytics from a separate process, one JSON request per line.

Importing Ultralytics patches process-wide functions (it replaces `PIL.Image.open`, for one), so the test process
never imports it: the preset tests ask this child instead. Run as `python ultralytics_probe.py`, offline."""

from __future__ import annotations

import json
import sys
from typing import Any


def main() -> None:
    replies, sys.stdout = sys.stdout, sys.stderr  # whatever Ultralytics prints must not mix with the replies
    from ultralytics.cfg import DEFAULT_CFG_DICT, get_cfg, parse_key_value_pair
    from ultralytics.nn.tasks import guess_model_task, yaml_model_load

    def answer(op: str, arg: Any) -> Any:
        if op == "defaults":
            return DEFAULT_CFG_DICT
        if op == "get_cfg":
            cfg = get_cfg(overrides=arg)
            return {name: getattr(cfg, name) for name in arg}
        if op == "parse":
            return list(parse_key_value_pair(arg))
        if op == "model":
            model = yaml_model_load(arg)
            return {
                "scale": model.get("scale"),
                "backbone": bool(model.get("backbone")),
                "task": guess_model_task(model),
            }
        raise ValueError(f"unknown op {op}")

    for line in sys.stdin:
        request = json.loads(line)
        try:
            reply = {"ok": answer(request["op"], request.get("arg"))}
        except Exception as exc:  # noqa: BLE001 - reported to the test, which fails with it
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        replies.write(json.dumps(reply) + "\n")
        replies.flush()


if __name__ == "__main__":
    main()

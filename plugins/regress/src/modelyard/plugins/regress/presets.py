"""The regress framework's preset: its options, their ranges, which ones user mode may set, and the command line.

User mode sets the run (epochs, imgsz, batch, patience, device); developer mode also the optimiser (adam, adamw or
sgd, lr, a cosine decay to lr * lrf, momentum, weight_decay), the loss, the network (width, dropout), the flips,
the seed and the dataloader workers.

CLI preview: `python -m modelyard.plugins.regress.train --data <dataset.yaml> --workdir <workdir> key=value ...`
with every option, in field-table order. With the placeholders filled in it trains exactly the resolved config
(the child's direct mode reads each key=value back through this field table).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from modelyard.frameworks import presets as registry
from modelyard.frameworks.fields import FieldKind, FieldSpec
from modelyard.frameworks.presets import TaskPreset
from modelyard.plugins.regress import FRAMEWORK, TASK

PRESET_PACKAGE = "modelyard.plugins.regress"
PRESET_FILE = "regress.yaml"
CHILD_MODULE = "modelyard.plugins.regress.train"
DATA_PLACEHOLDER = "<dataset.yaml>"
WORKDIR_PLACEHOLDER = "<workdir>"

_INT, _FLOAT, _CHOICE = FieldKind.INT, FieldKind.FLOAT, FieldKind.CHOICE

FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("epochs", _INT, "number of epochs to train for", user_mode=True, min=1, max=1000),
    FieldSpec(
        "imgsz", _INT, "frames are resized to imgsz x imgsz pixels", user_mode=True, min=32, max=1024, multiple_of=32
    ),
    FieldSpec("batch", _INT, "frames per training batch", user_mode=True, min=1, max=512),
    FieldSpec(
        "patience",
        _INT,
        "stop early after N epochs without a lower validation MSE; 0 never stops",
        user_mode=True,
        min=0,
        max=1000,
    ),
    FieldSpec("device", FieldKind.DEVICE, "'cpu', a GPU index '0' or 'cuda:0'", user_mode=True),
    FieldSpec("optimizer", _CHOICE, "optimizer", choices=("adam", "adamw", "sgd")),
    FieldSpec("lr", _FLOAT, "initial learning rate", min=0.0, max=1.0, exclusive_min=True),
    FieldSpec(
        "lrf", _FLOAT, "final learning rate as a fraction of lr (cosine decay)", min=0.0, max=1.0, exclusive_min=True
    ),
    FieldSpec("momentum", _FLOAT, "SGD momentum, or Adam's beta1", min=0.0, max=1.0, exclusive_max=True),
    FieldSpec("weight_decay", _FLOAT, "weight decay (L2 regularisation)", min=0.0, max=0.1),
    FieldSpec("loss", _CHOICE, "training loss on the 0..1 rating", choices=("mse", "huber", "l1")),
    FieldSpec("width", _INT, "channels of the first convolution (doubled twice deeper in)", min=4, max=128),
    FieldSpec("dropout", _FLOAT, "dropout before the output layer", min=0.0, max=0.9),
    FieldSpec("fliplr", _FLOAT, "horizontal flip probability (training only)", min=0.0, max=1.0),
    FieldSpec("flipud", _FLOAT, "vertical flip probability (training only)", min=0.0, max=1.0),
    FieldSpec("seed", _INT, "random seed (weights, shuffling, flips)", min=0, max=2**32 - 1),
    FieldSpec("workers", _INT, "threads decoding frames; 0 decodes them in the training thread", min=0, max=16),
)


def _format(value: Any) -> str:
    if isinstance(value, float):
        return repr(value)
    return shlex.quote(str(value))


def render_command(task: str, values: Mapping[str, Any]) -> str:
    """The child's direct mode with every option (see the module docstring)."""
    parts = ["python", "-m", CHILD_MODULE, "--data", DATA_PLACEHOLDER, "--workdir", WORKDIR_PLACEHOLDER]
    parts += [f"{name}={_format(value)}" for name, value in values.items()]
    return " ".join(parts)


PRESET = TaskPreset(FRAMEWORK, TASK, FIELDS, PRESET_FILE, render_command, PRESET_PACKAGE)


def register() -> None:
    """The `modelyard.presets` entry point: register the preset once (calling it again changes nothing)."""
    if registry.lookup(FRAMEWORK, TASK) is None:
        registry.register(PRESET)

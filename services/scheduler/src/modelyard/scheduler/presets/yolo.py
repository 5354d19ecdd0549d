"""Ultralytics YOLO11 presets: detect, segment, classify.

Every option is an Ultralytics 8.4 train argument, under its Ultralytics name. The model is a model YAML
(yolo11n.yaml, ...), never .pt weights: training runs offline and starts from scratch (pretrained: false).

CLI preview: `yolo <task> train data=<dataset.yaml> model=<model> key=value ...`, listing, after data and model, every
option whose resolved value differs from Ultralytics' own default (ultralytics/cfg/default.yaml, mirrored in
ULTRALYTICS_DEFAULTS), in field-table order. Running it with the dataset YAML put in place of DATA_PLACEHOLDER trains
with exactly the resolved values. Values are written so that Ultralytics' CLI parser reads them back unchanged:
True/False, ints, floats as Python reprs, strings shell-quoted where needed.

Ranges follow Ultralytics' own checks, narrowed to sensible limits (epochs 1..1000, batch -1 or 1..512, imgsz 32..2048
in steps of 32, lr0 in (0, 1], patience 0..1000, workers 0..16, dropout 0..0.9, ...). Not offered: batch as a
GPU-memory fraction, amp as 'bf16'/'fp16' strings, freeze as a list of layers, cache, and the arguments the scheduler
owns (data, project, name, exist_ok, task, mode).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from modelyard.frameworks.fields import FieldKind, FieldSpec
from modelyard.frameworks.presets import TaskPreset, register

FRAMEWORK = "ultralytics"
DATA_PACKAGE = "modelyard.scheduler.presets.data"
DATA_PLACEHOLDER = "<dataset.yaml>"
SIZES = ("n", "s", "m", "l", "x")

# Ultralytics 8.4 defaults (ultralytics/cfg/default.yaml) for every option below; the tests compare them with the
# installed package. Used only to keep the command-line preview short.
ULTRALYTICS_DEFAULTS: dict[str, Any] = {
    "model": None,
    "epochs": 100,
    "imgsz": 640,
    "batch": 16,
    "patience": 100,
    "save": True,
    "amp": True,
    "device": None,
    "optimizer": "auto",
    "lr0": 0.01,
    "lrf": 0.01,
    "momentum": 0.937,
    "weight_decay": 0.0005,
    "warmup_epochs": 3.0,
    "warmup_momentum": 0.8,
    "warmup_bias_lr": 0.1,
    "cos_lr": False,
    "nbs": 64,
    "box": 7.5,
    "cls": 0.5,
    "dfl": 1.5,
    "hsv_h": 0.015,
    "hsv_s": 0.7,
    "hsv_v": 0.4,
    "degrees": 0.0,
    "translate": 0.1,
    "scale": 0.5,
    "shear": 0.0,
    "perspective": 0.0,
    "flipud": 0.0,
    "fliplr": 0.5,
    "bgr": 0.0,
    "mosaic": 1.0,
    "mixup": 0.0,
    "cutmix": 0.0,
    "copy_paste": 0.0,
    "copy_paste_mode": "flip",
    "auto_augment": "randaugment",
    "erasing": 0.4,
    "close_mosaic": 10,
    "overlap_mask": True,
    "mask_ratio": 4,
    "dropout": 0.0,
    "single_cls": False,
    "freeze": None,
    "workers": 8,
    "save_period": -1,
    "seed": 0,
    "deterministic": True,
    "resume": False,
    "pretrained": True,
    "fraction": 1.0,
    "time": None,
    "val": True,
    "plots": True,
}

_INT, _FLOAT, _BOOL, _CHOICE = FieldKind.INT, FieldKind.FLOAT, FieldKind.BOOL, FieldKind.CHOICE


def _fraction(name: str, help: str) -> FieldSpec:
    return FieldSpec(name, _FLOAT, help, min=0.0, max=1.0)


def _model(suffix: str) -> FieldSpec:
    choices = tuple(f"yolo11{size}{suffix}.yaml" for size in SIZES)
    return FieldSpec(
        "model",
        _CHOICE,
        "model architecture (YAML, trained from scratch): n is smallest and fastest, x largest",
        choices=choices,
    )


# ---- the options, grouped; the order here is the order of values, resolved YAML and command line -----------------

_CORE = (
    FieldSpec("epochs", _INT, "number of epochs to train for", user_mode=True, min=1, max=1000),
    FieldSpec(
        "imgsz", _INT, "train/val image size in pixels (square)", user_mode=True, min=32, max=2048, multiple_of=32
    ),
    FieldSpec(
        "batch", _INT, "batch size; -1 picks one automatically", user_mode=True, min=1, max=512, special_values=(-1,)
    ),
    FieldSpec(
        "patience",
        _INT,
        "stop early after N epochs without improvement; 0 never stops",
        user_mode=True,
        min=0,
        max=1000,
    ),
    FieldSpec("save", _BOOL, "save checkpoints (last.pt and best.pt)", user_mode=True),
    FieldSpec("amp", _BOOL, "automatic mixed precision on GPUs (ignored on CPU)", user_mode=True),
    FieldSpec("device", FieldKind.DEVICE, "'cpu', a GPU index '0', GPU indices '0,1', or 'cuda:0'", user_mode=True),
)

_OPTIMISER = (
    FieldSpec(
        "optimizer",
        _CHOICE,
        "optimizer; auto picks one (and lr0, momentum) from the dataset size",
        choices=("auto", "SGD", "MuSGD", "Adam", "Adamax", "AdamW", "NAdam", "RAdam", "RMSprop"),
    ),
    FieldSpec(
        "lr0", _FLOAT, "initial learning rate (ignored when optimizer is auto)", min=0.0, max=1.0, exclusive_min=True
    ),
    FieldSpec("lrf", _FLOAT, "final learning rate as a fraction of lr0", min=0.0, max=1.0, exclusive_min=True),
    FieldSpec("momentum", _FLOAT, "SGD momentum or Adam beta1", min=0.0, max=1.0, exclusive_max=True),
    FieldSpec("weight_decay", _FLOAT, "weight decay (L2 regularisation)", min=0.0, max=0.1),
    FieldSpec("warmup_epochs", _FLOAT, "warmup epochs (fractions allowed)", min=0.0, max=100.0),
    FieldSpec("warmup_momentum", _FLOAT, "momentum at the start of warmup", min=0.0, max=1.0, exclusive_max=True),
    _fraction("warmup_bias_lr", "bias learning rate at the start of warmup"),
    FieldSpec("cos_lr", _BOOL, "cosine learning-rate schedule instead of linear"),
    FieldSpec("nbs", _INT, "nominal batch size: gradients accumulate up to it", min=1, max=1024),
)

_LOSS = (
    FieldSpec("box", _FLOAT, "box loss gain", min=0.0, max=50.0),
    FieldSpec("cls", _FLOAT, "classification loss gain", min=0.0, max=50.0),
    FieldSpec("dfl", _FLOAT, "distribution focal loss gain", min=0.0, max=50.0),
)

_HSV = (
    _fraction("hsv_h", "hue augmentation (fraction)"),
    _fraction("hsv_s", "saturation augmentation (fraction)"),
    _fraction("hsv_v", "value (brightness) augmentation (fraction)"),
)

_GEOMETRY = (
    FieldSpec("degrees", _FLOAT, "random rotation (+/- degrees)", min=0.0, max=180.0),
    _fraction("translate", "random translation (+/- fraction)"),
    _fraction("scale", "random scaling (+/- gain)"),
    FieldSpec("shear", _FLOAT, "random shear (+/- degrees)", min=0.0, max=90.0),
    FieldSpec("perspective", _FLOAT, "random perspective (fraction)", min=0.0, max=0.001),
    _fraction("flipud", "vertical flip probability"),
    _fraction("fliplr", "horizontal flip probability"),
    _fraction("bgr", "RGB/BGR channel swap probability"),
    _fraction("mosaic", "mosaic probability"),
    _fraction("mixup", "MixUp probability"),
    _fraction("cutmix", "CutMix probability"),
    FieldSpec("close_mosaic", _INT, "turn mosaic off for the last N epochs; 0 keeps it on", min=0, max=1000),
)

_SEGMENT_ONLY = (
    _fraction("copy_paste", "copy-paste probability"),
    FieldSpec("copy_paste_mode", _CHOICE, "copy-paste strategy", choices=("flip", "mixup")),
    FieldSpec("overlap_mask", _BOOL, "merge instance masks into one mask during training"),
    FieldSpec("mask_ratio", _INT, "mask downsample ratio during training", min=1, max=16),
)

_CLASSIFY_AUGMENT = (
    _fraction("scale", "random resized crop: keeps at least (1 - scale) of the image"),
    _fraction("flipud", "vertical flip probability"),
    _fraction("fliplr", "horizontal flip probability"),
    FieldSpec(
        "auto_augment", _CHOICE, "automatic augmentation policy", choices=("randaugment", "autoaugment", "augmix")
    ),
    _fraction("erasing", "random erasing probability"),
    FieldSpec("dropout", _FLOAT, "dropout before the classification head", min=0.0, max=0.9),
)

_DETECT_ONLY = (FieldSpec("single_cls", _BOOL, "train as a single class (object vs background)"),)

_RUN = (
    FieldSpec("freeze", _INT, "freeze the first N layers; null freezes none", min=0, max=100, nullable=True),
    FieldSpec("workers", _INT, "dataloader worker processes", min=0, max=16),
    FieldSpec("save_period", _INT, "also save a checkpoint every N epochs; -1 disables", min=-1, max=1000),
    FieldSpec("seed", _INT, "random seed", min=0, max=2**32 - 1),
    FieldSpec("deterministic", _BOOL, "deterministic algorithms: reproducible, maybe slower"),
    FieldSpec("resume", _BOOL, "resume from the last checkpoint of this run"),
    FieldSpec("pretrained", _BOOL, "start from pretrained weights; needs .pt weights, so false for model YAMLs"),
    FieldSpec("fraction", _FLOAT, "fraction of the training set to use", min=0.0, max=1.0, exclusive_min=True),
    FieldSpec(
        "time",
        _FLOAT,
        "stop after this many hours (overrides epochs); null for no limit",
        min=0.0,
        max=720.0,
        exclusive_min=True,
        nullable=True,
    ),
    FieldSpec("val", _BOOL, "validate during training"),
    FieldSpec("plots", _BOOL, "save plots of labels, metrics and batches"),
)

TASK_FIELDS: dict[str, tuple[FieldSpec, ...]] = {
    "detect": (_model(""), *_CORE, *_OPTIMISER, *_LOSS, *_HSV, *_GEOMETRY, *_DETECT_ONLY, *_RUN),
    "segment": (_model("-seg"), *_CORE, *_OPTIMISER, *_LOSS, *_HSV, *_GEOMETRY, *_SEGMENT_ONLY, *_DETECT_ONLY, *_RUN),
    "classify": (_model("-cls"), *_CORE, *_OPTIMISER, *_HSV, *_CLASSIFY_AUGMENT, *_RUN),
}


def _same(value: Any, default: Any) -> bool:
    if isinstance(value, bool) or isinstance(default, bool) or value is None or default is None:
        return value is default
    return bool(value == default)


def _format(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return shlex.quote(str(value))


def render_command(task: str, values: Mapping[str, Any]) -> str:
    """`yolo <task> train data=<dataset.yaml> model=... key=value ...` (see the module docstring)."""
    parts = ["yolo", task, "train", f"data={DATA_PLACEHOLDER}", f"model={_format(values['model'])}"]
    for name, value in values.items():
        if name != "model" and not _same(value, ULTRALYTICS_DEFAULTS[name]):
            parts.append(f"{name}={_format(value)}")
    return " ".join(parts)


for _task, _fields in TASK_FIELDS.items():
    _unmirrored = {spec.name for spec in _fields} - ULTRALYTICS_DEFAULTS.keys()
    if _unmirrored:  # pragma: no cover - a programming error caught at import
        raise RuntimeError(f"no Ultralytics default for {sorted(_unmirrored)}")
    register(TaskPreset(FRAMEWORK, _task, _fields, f"ultralytics_{_task}.yaml", render_command, DATA_PACKAGE))

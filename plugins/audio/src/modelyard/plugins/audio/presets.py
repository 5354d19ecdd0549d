"""The audio framework's one preset: audio_classify (a small CNN over log-mel spectrograms).

Options follow the training API users know (seed 003): epochs 1..1000, batch_size 1..512, dropout_rate 0..0.9,
lr_scheduler cosine|step|plateau, warmup_epochs, early_stop_patience, weight_decay, n_mels/n_fft/hop_length; plus
what the features need (sample_rate, duration_s) and what the optimiser needs (optimizer, lr, momentum, the step and
plateau schedules' knobs). User mode may set the safe subset: the architecture, epochs, batch size, early stopping
and the clip format (sample rate and duration, which must describe the user's own recordings). Not offered: a
pretrained backbone and freezing (training runs offline from scratch), workers (features are computed once, in
process), the validation split (the dataset version decides it) and the device (the trainer worker decides it).
Combinations the field table cannot express (hop_length <= n_fft, n_mels <= n_fft // 2 + 1, a clip at least n_fft
samples long) are checked when training starts, which then fails at once naming them.

CLI preview: `python -m modelyard.plugins.audio.train data=<dataset.yaml> key=value ...` with every resolved value in
field-table order; run with the dataset YAML in place of DATA_PLACEHOLDER, it trains with exactly those values.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from modelyard.frameworks import presets as registry
from modelyard.frameworks.fields import FieldKind, FieldSpec
from modelyard.frameworks.presets import TaskPreset

FRAMEWORK = "audio"
TASK = "audio_classify"
PRESET_PACKAGE = "modelyard.plugins.audio"
PRESET_FILE = "audio_classify.yaml"
DATA_PLACEHOLDER = "<dataset.yaml>"
ARCHITECTURES = ("cnn_small", "convnext_mini")
OPTIMIZERS = ("adamw", "adam", "sgd")
SCHEDULERS = ("cosine", "step", "plateau")

_INT, _FLOAT, _CHOICE = FieldKind.INT, FieldKind.FLOAT, FieldKind.CHOICE

FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(
        "model_architecture",
        _CHOICE,
        "cnn_small: three conv blocks (16-32-64 channels); convnext_mini: ConvNeXt-style depthwise blocks (32-64-128)",
        user_mode=True,
        choices=ARCHITECTURES,
    ),
    FieldSpec("epochs", _INT, "number of epochs to train for", user_mode=True, min=1, max=1000),
    FieldSpec("batch_size", _INT, "clips per batch", user_mode=True, min=1, max=512),
    FieldSpec(
        "early_stop_patience",
        _INT,
        "stop after N epochs without a better validation accuracy; 0 never stops early",
        user_mode=True,
        min=0,
        max=1000,
    ),
    FieldSpec(
        "sample_rate",
        _INT,
        "sample rate of the clips in Hz; clips at another rate are refused, never resampled",
        user_mode=True,
        min=4000,
        max=192000,
    ),
    FieldSpec(
        "duration_s",
        _FLOAT,
        "clip length in seconds: longer clips keep their middle, shorter ones are padded with silence",
        user_mode=True,
        min=0.05,
        max=60.0,
    ),
    FieldSpec("n_mels", _INT, "mel bands of the spectrogram", min=8, max=256),
    FieldSpec("n_fft", _INT, "FFT size (samples per STFT window)", min=64, max=8192),
    FieldSpec("hop_length", _INT, "samples between STFT windows (at most n_fft)", min=16, max=8192),
    FieldSpec("optimizer", _CHOICE, "optimiser", choices=OPTIMIZERS),
    FieldSpec("lr", _FLOAT, "initial (peak) learning rate", min=0.0, max=1.0, exclusive_min=True),
    FieldSpec("momentum", _FLOAT, "SGD momentum (Adam and AdamW: beta1)", min=0.0, max=1.0, exclusive_max=True),
    FieldSpec("weight_decay", _FLOAT, "weight decay (decoupled for AdamW, L2 otherwise)", min=0.0, max=0.1),
    FieldSpec("dropout_rate", _FLOAT, "dropout before the classifier", min=0.0, max=0.9),
    FieldSpec(
        "lr_scheduler",
        _CHOICE,
        "after warmup: cosine decays to lr * 0.01 by the last epoch; step multiplies by lr_decay_factor every"
        " lr_step_epochs; plateau multiplies by lr_decay_factor after plateau_patience epochs without a lower"
        " validation loss",
        choices=SCHEDULERS,
    ),
    FieldSpec("warmup_epochs", _INT, "epochs of linear warmup up to lr", min=0, max=100),
    FieldSpec("lr_step_epochs", _INT, "step scheduler: epochs between decays", min=1, max=1000),
    FieldSpec(
        "lr_decay_factor",
        _FLOAT,
        "step and plateau schedulers: factor per decay",
        min=0.0,
        max=1.0,
        exclusive_min=True,
        exclusive_max=True,
    ),
    FieldSpec("plateau_patience", _INT, "plateau scheduler: epochs without improvement before a decay", min=0, max=100),
    FieldSpec("seed", _INT, "random seed (weights, shuffling)", min=0, max=2**32 - 1),
)


def _format(value: Any) -> str:
    if isinstance(value, float):
        return repr(value)
    return shlex.quote(str(value))


def render_command(task: str, values: Mapping[str, Any]) -> str:
    """`python -m modelyard.plugins.audio.train data=<dataset.yaml> key=value ...` (see the module docstring)."""
    parts = ["python", "-m", "modelyard.plugins.audio.train", f"data={DATA_PLACEHOLDER}"]
    parts.extend(f"{name}={_format(value)}" for name, value in values.items())
    return " ".join(parts)


PRESET = TaskPreset(FRAMEWORK, TASK, FIELDS, PRESET_FILE, render_command, PRESET_PACKAGE)


def register() -> None:
    """The `modelyard.presets` entry point: make audio/audio_classify resolvable."""
    registry.register(PRESET)

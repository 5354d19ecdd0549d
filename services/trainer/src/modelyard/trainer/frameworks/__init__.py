"""Training framework plugins: the seam (`base`) and the built-in Ultralytics plugin. The child process protocol and
the job spec every plugin reads live in libs/frameworks (`modelyard.frameworks.protocol`, `.jobspec`)."""

from modelyard.frameworks.jobspec import TrainJobSpec
from modelyard.trainer.frameworks.base import Framework, available, get, register

__all__ = ["Framework", "TrainJobSpec", "available", "get", "register"]

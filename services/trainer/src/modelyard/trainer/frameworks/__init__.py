"""Training framework plugins: the seam (`base`), the child process protocol (`protocol`) and the plugins."""

from modelyard.trainer.frameworks.base import Framework, TrainJobSpec, available, get, register

__all__ = ["Framework", "TrainJobSpec", "available", "get", "register"]

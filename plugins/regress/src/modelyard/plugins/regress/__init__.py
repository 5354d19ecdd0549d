"""Frame-importance regression: a small CNN that rates an image 0..1, as a Modelyard framework plugin.

The plugin plugs into three services through entry points, never importing them:
- `presets` (scheduler, `modelyard.presets`): the option table, the YAML preset and the command-line preview;
- `framework` (trainer, `modelyard.trainer.frameworks`): the command of the training child, `train`;
- `edge` (edge agent, `modelyard.edge.runtimes`): the ONNX runtime that serves `{"score": ...}`.
`preprocess` is the image pipeline that training and the edge share. Only `train`, `model`, `data` and `export`
import torch; the edge never imports them.
"""

FRAMEWORK = "regress"
TASK = "regress"

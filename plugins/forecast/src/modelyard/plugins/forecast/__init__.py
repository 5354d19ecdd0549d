"""Time-series forecasting as a Modelyard framework plugin (framework and task "forecast").

A csv_series dataset (every sample one CSV file: a timestamp column and value columns) is cut into windows: the
last `input_steps` rows of every value column, plus calendar features of those rows and of the rows to forecast,
predict the next `output_steps` rows of every value column (after `offset` skipped rows). Values are min-max scaled
with the training split's minimum and maximum. Three models: `linear` and `svr` (scikit-learn, exported with
skl2onnx) and `mlp` (torch, trained by epochs, exported with torch.onnx). The ONNX file carries everything the edge
needs to turn raw rows into the model input and the output back into original units (`features.ForecastSpec`, in
the model's metadata_props).

Modules: `presets` (the field table and packaged preset), `framework` (what the trainer imports: cheap), `train`
(the child process, with `cancel` and `mlp_run`), `series` (reading the dataset directory), `windows` (split,
scaler fit, windows), `features` (shared by training and edge: calendar features, scaling, the model input of a
window, the spec in the metadata), `holidays`, `metrics`, `plots`, `sklearn_models`, `mlp`, `onnx_export`, `edge`
(the agent's runtime: onnxruntime and numpy only).
"""

FRAMEWORK = "forecast"
TASK = "forecast"
VERSION = "0.1.0"

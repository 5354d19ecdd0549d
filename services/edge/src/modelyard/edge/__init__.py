"""The edge agent: receives signed releases, verifies them before loading a byte, hot-swaps ONNX models without
dropping a request, and serves local inference, online or not. It never trains."""

"""Audio classification for Modelyard: log-mel spectrograms (numpy, shared by training and the edge), a small CNN
trained with torch in a child process that speaks the trainer protocol, ONNX export with the class names and feature
parameters in its metadata, and an edge runtime that takes a WAV file.

Entry points: `modelyard.presets` audio -> presets:register; `modelyard.trainer.frameworks` audio ->
framework:AudioFramework; `modelyard.edge.runtimes` audio_classify -> edge:load. Importing this package imports
nothing heavy: torch is imported only by the training child (train, model, export), never by the edge module."""

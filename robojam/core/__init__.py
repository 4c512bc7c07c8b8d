"""The model core, numpy only: performances and corpora, encodings, mixture maths, model files, the engine.

Imports nothing from robojam's other layers."""

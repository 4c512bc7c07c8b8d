"""IMPSY's fast path, as the bench's peer reference: the MDN-RNN step as a LiteRT model.

The step network (explicit LSTM state in and out) is exported by Keras to a
``.tflite`` flat buffer and run by LiteRT's interpreter (``ai-edge-litert``),
one touch per ``invoke``. Needs TensorFlow to export (the ``train`` extra) and
``ai-edge-litert`` to run (the ``bench`` extra).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from robojam import RobojamError
from robojam.core.modelfile import Model


class LiteRTStep:
    """One step of a model in LiteRT's interpreter: touch input and state in, mixture and state out."""

    def __init__(self, model: Model):
        from robojam.train.network import keras_step_model
        from robojam.train.quiet import native_stderr_silenced

        with native_stderr_silenced():
            try:
                from ai_edge_litert.interpreter import Interpreter
            except ImportError:
                raise RobojamError('the LiteRT reference needs ai-edge-litert: pip install "robojam[bench]"') from None
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "step.tflite"
                keras_step_model(model, unroll=True).export(str(path), format="litert", verbose=False)
                self.interpreter = Interpreter(model_path=str(path), num_threads=1)
            self.interpreter.allocate_tensors()
        inputs = {_input_name(d["name"]): d["index"] for d in self.interpreter.get_input_details()}
        outputs = sorted(self.interpreter.get_output_details(), key=lambda d: _output_number(d["name"]))
        self._touch = inputs["touch"]
        self._states_in = [inputs[f"{kind}{i}"] for i in range(model.layers) for kind in "hc"]
        self._params = outputs[0]["index"]                  # the Keras step's outputs, in order:
        self._states_out = [d["index"] for d in outputs[1:]]  # params, h0, c0, h1, c1, ...
        self.states = [np.zeros((1, model.units), np.float32) for _ in self._states_in]

    def _run(self, touch: np.ndarray, states: list[np.ndarray]) -> None:
        self.interpreter.set_tensor(self._touch, touch)
        for index, state in zip(self._states_in, states):
            self.interpreter.set_tensor(index, state)
        self.interpreter.invoke()

    def step(self, touch_input) -> np.ndarray:
        """Feed one encoded touch; returns the mixture parameters for the next (float64)."""
        self._run(np.asarray(touch_input, np.float32).reshape(1, 1, -1), self.states)
        self.states = [self.interpreter.get_tensor(i) for i in self._states_out]
        return self.interpreter.get_tensor(self._params)[0, 0].astype(np.float64)


def _input_name(name: str) -> str:
    """'serving_default_h0:0' -> 'h0'."""
    return name.split(":")[0].removeprefix("serving_default_")


def _output_number(name: str) -> int:
    """'StatefulPartitionedCall_1:3' -> 3: the output's place in the Keras model's outputs."""
    return int(name.rsplit(":", 1)[1])

"""robojam: a live musical performance agent built on a mixture density RNN.

The package is in layers, each importing only those below it:

- ``robojam.core``: numpy only: performances, corpora, encodings, mixture
  maths, model files and the engine;
- ``robojam.live``: the stage server and its I/O (OSC, MIDI, the web page,
  touch logs); ``robojam.train``: the Keras network, training and evaluation,
  the only layer that imports TensorFlow. Neither imports the other;
- ``robojam.tools``: bench, play, plot, demo; and ``robojam.cli`` on top.
"""

from pathlib import Path

__version__ = "0.1.0"

# The source checkout's root, where the shipped models, presets and web page
# live when robojam runs from a checkout rather than an installed wheel.
SOURCE_ROOT = Path(__file__).resolve().parent.parent


class RobojamError(Exception):
    """A problem the user can fix: a bad file, a bad option, a missing model."""

"""robojam: a live musical performance agent built on a mixture density RNN.

The package is in layers, each importing only those below it:

- ``robojam.core``: numpy only: performances, corpora, encodings, mixture
  maths, model files and the engine;
- ``robojam.live``: the stage server and its I/O (OSC, MIDI, the web page,
  touch logs); ``robojam.train``: the Keras network, training and evaluation,
  the only layer that imports TensorFlow. Neither imports the other;
- ``robojam.tools``: bench, play, plot, demo; and ``robojam.cli`` on top.

Modules that once sat at the top (``robojam.engine``, ``robojam.modelfile``,
...) are still importable under their old names: see ``MOVED``.
"""

import importlib
import importlib.abc
import importlib.util
import sys
from pathlib import Path

__version__ = "0.1.0"

# The source checkout's root, where the shipped models, presets and web page
# live when robojam runs from a checkout rather than an installed wheel.
SOURCE_ROOT = Path(__file__).resolve().parent.parent


class RobojamError(Exception):
    """A problem the user can fix: a bad file, a bad option, a missing model."""


# Old import path -> where the module lives now.
MOVED = {
    f"robojam.{name}": f"robojam.{layer}.{name}"
    for layer, names in {
        "core": ("performance", "corpus", "encoding", "mixture", "engine", "modelfile", "touchlog"),
        "live": ("server", "session", "osc", "protocol", "adapters", "midi", "midiparts", "web", "stage"),
        "train": ("network", "training", "evaluate", "yardstick"),
        "tools": ("bench", "bench_live", "play", "plot", "demo"),
    }.items()
    for name in names
}


class _MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports a moved module under its old name as the very same module object."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        module = importlib.import_module(MOVED[spec.name])
        spec.loader_state = module.__spec__
        return module

    def exec_module(self, module):
        # The import system stamped the old name's spec on the module: give it back its own.
        module.__spec__ = module.__spec__.loader_state


sys.meta_path.append(_MovedModuleFinder())

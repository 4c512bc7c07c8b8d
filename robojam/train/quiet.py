"""TensorFlow's start-up lines kept off the console, unless the user asks for them (--verbose).

TensorFlow and LiteRT write lines such as "oneDNN custom operations are on"
straight to the process's standard error from C++, before any of Python's or
absl's logging settings apply, so the only way to keep them out of robojam's
output is to point file descriptor 2 elsewhere while they load.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager

VERBOSE_ENV = "ROBOJAM_VERBOSE"


@contextmanager
def native_stderr_silenced():
    """Discard what native code writes to standard error inside the block (unless ROBOJAM_VERBOSE is set)."""
    if os.environ.get(VERBOSE_ENV) or not hasattr(os, "dup2"):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)

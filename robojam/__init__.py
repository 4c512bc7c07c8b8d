"""robojam: a live musical performance agent built on a mixture density RNN.

The serving path (performances, encoding, mixture maths, model files, the
engine) needs numpy alone; TensorFlow is imported only by training and by
the checks that compare the engine with Keras.
"""

__version__ = "0.1.0"


class RobojamError(Exception):
    """A problem the user can fix: a bad file, a bad option, a missing model."""

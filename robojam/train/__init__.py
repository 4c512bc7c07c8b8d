"""Training and evaluation: the Keras network, training, held-out scores, the yardstick.

The only layer that imports TensorFlow or Keras (lazily, in network and
training); it stands on robojam.core and never imports robojam.live."""

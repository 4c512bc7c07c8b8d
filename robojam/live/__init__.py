"""The stage: the server loop, performer sessions, OSC, MIDI and web I/O, touch logs.

Stands on ``robojam.core``; never imports ``robojam.train`` (so never TensorFlow)."""

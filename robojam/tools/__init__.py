"""Tools on top of the layers: the benchmark, playing a recorded call to a server, plots, the demo call."""

"""bandlimit: alias-free signal-processing building blocks for neural networks."""

__version__ = "0.1.0.dev0"

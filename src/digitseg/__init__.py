"""digitseg: semantic and instance segmentation of handwritten digits."""

__version__ = "0.1.0"

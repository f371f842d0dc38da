"""digitseg: semantic and instance segmentation of handwritten digits."""

__version__ = "0.1.0"


def __getattr__(name: str):
    """``digitseg.Segmenter`` without importing torch for every ``import digitseg``."""
    if name == "Segmenter":
        from digitseg.inference import Segmenter

        return Segmenter
    raise AttributeError(f"module 'digitseg' has no attribute {name!r}")

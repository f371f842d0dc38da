"""digitseg: semantic and instance segmentation of handwritten digits.

The package is built in layers; a module imports from its own layer and those below, never
from an entry point, and no import cycle runs (``tests/unit/test_layering.py`` checks):

1. ``classes``, ``utils``, ``viz``: class names and colours; config, file and image helpers
   (``utils.ink``: light ink, polarity, where the ink is; ``utils.rotation``: an image
   rotated whole); pictures.
2. ``data``: MNIST, the canvas generator, training targets, the Lightning data module.
3. ``postprocess``: class maps into digit instances, reading order, crops (numpy only).
4. ``models``, ``classifier``, ``metrics``, ``callbacks``: the segmentation net and the digit
   classifier, their checkpoints, training measures and callbacks.
5. ``inference``: the Segmenter, from an image to its digits.
6. ``evaluation``, ``reports``: scoring readings and writing report folders.
7. Entry points: ``train``, ``eval``, ``generate``, ``segment``, ``onnx_export`` and
   ``classifier.train``.
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    """``digitseg.Segmenter`` without importing torch for every ``import digitseg``."""
    if name == "Segmenter":
        from digitseg.inference import Segmenter

        return Segmenter
    raise AttributeError(f"module 'digitseg' has no attribute {name!r}")

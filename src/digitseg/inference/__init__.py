"""From images to digit instances: reading files, running a model, post-processing.

The Segmenter and its results are imported on first use, so that reading image files (and
``digitseg-segment --help``) does not import torch.
"""

from digitseg.inference.images import IMAGE_SUFFIXES, ImageReadError, list_images, read_image

__all__ = [
    "IMAGE_SUFFIXES",
    "ImageReadError",
    "NetOutputs",
    "Segmentation",
    "Segmenter",
    "list_images",
    "read_image",
]
_SEGMENTER_NAMES = ("NetOutputs", "Segmentation", "Segmenter")


def __getattr__(name: str):
    """``Segmenter``, ``Segmentation`` and ``NetOutputs`` from :mod:`.segmenter`, on first use."""
    if name in _SEGMENTER_NAMES:
        from digitseg.inference import segmenter

        return getattr(segmenter, name)
    raise AttributeError(f"module 'digitseg.inference' has no attribute {name!r}")

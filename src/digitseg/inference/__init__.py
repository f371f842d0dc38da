"""From images to digit instances: reading files, running a model, post-processing."""

from digitseg.inference.images import IMAGE_SUFFIXES, ImageReadError, list_images, read_image
from digitseg.inference.segmenter import NetOutputs, Segmentation, Segmenter

__all__ = [
    "IMAGE_SUFFIXES",
    "ImageReadError",
    "NetOutputs",
    "Segmentation",
    "Segmenter",
    "list_images",
    "read_image",
]

"""Post-processing: class probabilities to digit instances, reading order and crops."""

from digitseg.postprocess.crops import ink_crop, masked_ink, mnist_crop
from digitseg.postprocess.instance import Instance
from digitseg.postprocess.instances import (
    PostprocessConfig,
    extract_instances,
    typical_height,
)
from digitseg.postprocess.reading_order import order_instances, read_text, reading_order
from digitseg.postprocess.warp import warp_class_map, warp_instances

__all__ = [
    "Instance",
    "PostprocessConfig",
    "extract_instances",
    "ink_crop",
    "masked_ink",
    "mnist_crop",
    "order_instances",
    "read_text",
    "reading_order",
    "typical_height",
    "warp_class_map",
    "warp_instances",
]

"""Training targets made from a canvas's instance map: digit cores and contact borders.

The net's core channel learns :func:`digit_cores`, which post-processing groups digit pixels
around; :func:`instance_borders` marks where digits touch, for the loss and the evaluation.
"""

import math

import cv2
import numpy as np
from scipy import ndimage

# A digit's core (see digit_cores): an ellipse at its box centre, this fraction of the box's
# width and height across each semi-axis, and at least CORE_MIN_RADIUS px.
CORE_FRACTION = 0.15
CORE_MIN_RADIUS = 1.5


def instance_borders(instances: np.ndarray, width: int = 1) -> np.ndarray:
    """Pixels of each instance with a *different* instance at most ``width`` px away.

    ``instances`` is an (H, W) map of ids below 65535, 0 for background; distance is
    Chebyshev (``width=1``: the 8 neighbours), as digit parts are 8-connected and digits
    often touch only diagonally. Only contacts between instances count, not an instance's
    edge with the background or the image frame. The border is marked on both sides of a
    contact. Evaluation uses it to tell touching digits from free-standing ones.
    """
    if width < 1:
        raise ValueError(f"width must be >= 1, got {width}")
    ids = np.ascontiguousarray(instances, dtype=np.uint16)
    # For the minimum, background becomes the largest id, so that only other ids count.
    ids_or_max = np.where(ids == 0, np.iinfo(np.uint16).max, ids).astype(np.uint16)
    square = np.ones((2 * width + 1, 2 * width + 1), np.uint8)
    largest = cv2.dilate(ids, square, borderType=cv2.BORDER_REPLICATE)
    smallest = cv2.erode(ids_or_max, square, borderType=cv2.BORDER_REPLICATE)
    return (ids > 0) & ((largest != ids) | (smallest != ids_or_max))


def digit_cores(instances: np.ndarray) -> np.ndarray:
    """The core of each instance: the pixels of an ellipse at the centre of its box, with
    semi-axes ``CORE_FRACTION`` of the box's width and height (at least ``CORE_MIN_RADIUS``),
    that no other instance's ellipse covers or touches.

    ``instances`` is an (H, W) map of ids, 0 for background. A core lies inside its digit's
    box and is one connected blob, even where the digit's strokes are broken; cores of
    touching or overlapping digits stay apart. This is the training target of the net's core
    channel, which :func:`digitseg.postprocess.extract_instances` groups digit pixels
    around.
    """
    covers = np.zeros(instances.shape, np.uint8)  # how many ellipses cover each pixel
    ellipses = np.zeros(instances.shape, np.uint16)  # the id of one ellipse covering it
    height, width = instances.shape
    for index, box in enumerate(ndimage.find_objects(np.asarray(instances, np.int32)), 1):
        if box is None:
            continue
        (y0, y1), (x0, x1) = [(axis.start, axis.stop) for axis in box]
        centre_y, centre_x = (y0 + y1 - 1) / 2, (x0 + x1 - 1) / 2
        radius_y = max(CORE_FRACTION * (y1 - y0), CORE_MIN_RADIUS)
        radius_x = max(CORE_FRACTION * (x1 - x0), CORE_MIN_RADIUS)
        top, left = max(0, math.ceil(centre_y - radius_y)), max(0, math.ceil(centre_x - radius_x))
        bottom = min(height, math.floor(centre_y + radius_y) + 1)
        right = min(width, math.floor(centre_x + radius_x) + 1)
        rows = (np.arange(top, bottom)[:, None] - centre_y) / radius_y
        cols = (np.arange(left, right)[None, :] - centre_x) / radius_x
        inside = rows**2 + cols**2 <= 1
        covers[top:bottom, left:right] += inside
        ellipses[top:bottom, left:right][inside] = index
    alone = covers == 1
    ellipses[~alone] = 0
    return alone & ~instance_borders(ellipses)

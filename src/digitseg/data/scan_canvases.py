"""Training canvases made of real scans labelled with a box per digit (COCO).

Each scan becomes a canvas the size of the generated ones, with targets made from its boxes:

- **Size.** The scan is resized so that its digits' median box height is the training
  digits' mean ink height (times a random factor in ``jitter``), or less where the scan
  would not fit the canvas; it is placed at a random position on paper of its own median
  grey (the reading also resizes an image to the training digits' height).
- **Ink.** A pixel is ink where it rises above the paper's local level by more than Otsu's
  threshold on that rise (:func:`digitseg.utils.ink.ink_mask`), taken on the resized
  scan with the ink made light: the darker side is the ink when the scan's median grey is
  light, the lighter one otherwise.
- **Classes.** Ink inside a digit's box is that digit; ink outside every box (commas,
  dots, dashes, lines after an amount) and paper are background. Ink inside two or more
  boxes goes to the box whose centre is nearest, in units of each box's size.
- **Instances.** Digit ``k``'s ink is instance ``k``; a box with no ink is left out.
- **Tilt.** With ``tilt``, the scan and its targets are rotated together by a random angle
  within ``tilt`` degrees either way (a photo or a sheet held askew), the image's paper run
  on into the corners, the targets nearest-pixel; the digits' boxes are their ink's after.

A canvas index picks its scan and placement from its own random stream, so canvas ``i``
is a pure function of (scans, seed, split, i), as generated canvases are.
"""

from dataclasses import dataclass

import cv2
import numpy as np

from digitseg.classes import BACKGROUND
from digitseg.data.coco_scans import CocoScans
from digitseg.data.export import rgb_to_gray
from digitseg.data.rng import CounterRandom, split_key
from digitseg.data.spec import MNIST_INK_SIDE, CanvasSpec
from digitseg.data.synth import Canvas, CanvasBatch
from digitseg.utils.ink import ink_mask
from digitseg.utils.rotation import rotate, rotation_matrix

STYLE = "scan"
# The range of the random factor on the height the digits are resized to.
DEFAULT_JITTER = (0.8, 1.25)


@dataclass(frozen=True)
class ScanTargets:
    """A scan at canvas scale with its targets: ``image`` uint8 (h, w), ``semantic`` class
    ids, ``instances`` ids 1..n (0 elsewhere), ``labels`` (n,) and ``boxes`` (n, 4)."""

    image: np.ndarray
    semantic: np.ndarray
    instances: np.ndarray
    labels: np.ndarray
    boxes: np.ndarray


def scan_targets(
    image: np.ndarray, labels: np.ndarray, boxes: np.ndarray, factor: float = 1.0
) -> ScanTargets:
    """``image`` (uint8 grey or RGB) resized by ``factor`` with its class and instance
    targets from its digit ``boxes`` (x0, y0, x1, y1, in the image's pixels) and
    ``labels``."""
    gray = rgb_to_gray(image) if image.ndim == 3 else image
    height, width = gray.shape
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    resized = cv2.resize(
        gray, size, interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
    )
    light_ink = resized if np.median(resized) < 128 else 255 - resized
    ink = ink_mask(light_ink)
    owner = _box_owner(resized.shape, np.asarray(boxes, np.float64) * factor)
    owner[~ink] = 0
    return _targets(resized, owner, np.asarray(labels, np.uint8))


def tilted(targets: ScanTargets, degrees: float) -> ScanTargets:
    """``targets`` rotated ``degrees`` counter-clockwise onto a canvas that holds them all:
    the image as :func:`~digitseg.utils.rotation.rotate` turns it, the instances
    nearest-pixel (none where the corners come in)."""
    if degrees == 0:
        return targets
    image, matrix = rotate(targets.image, degrees)
    size = image.shape[1], image.shape[0]
    owner = cv2.warpAffine(targets.instances, matrix, size, flags=cv2.INTER_NEAREST)
    return _targets(image, owner, targets.labels)


def _targets(image: np.ndarray, owner: np.ndarray, labels: np.ndarray) -> ScanTargets:
    """The targets of ``image`` whose pixels ``owner`` gives to digit ``owner - 1`` of
    ``labels`` (0: to none); digits owning no pixel are left out."""
    kept = [k for k in range(len(labels)) if (owner == k + 1).any()]
    instances = np.zeros(image.shape, np.uint16)
    for new, k in enumerate(kept, start=1):
        instances[owner == k + 1] = new
    kept_labels = labels[kept]
    semantic = np.full(image.shape, BACKGROUND, np.uint8)
    semantic[instances > 0] = kept_labels[instances[instances > 0] - 1]
    return ScanTargets(image, semantic, instances, kept_labels, _tight_boxes(instances, len(kept)))


def _box_owner(shape: tuple[int, int], boxes: np.ndarray) -> np.ndarray:
    """int (H, W): 1 + the index of the box each pixel belongs to (0: none); a pixel inside
    several goes to the one whose centre is nearest in units of each box's half-size."""
    rows, cols = np.mgrid[: shape[0], : shape[1]].astype(np.float64) + 0.5
    owner = np.zeros(shape, np.int64)
    nearest = np.full(shape, np.inf)
    for k, (x0, y0, x1, y1) in enumerate(boxes):
        inside = (cols >= x0) & (cols < x1) & (rows >= y0) & (rows < y1)
        half_w, half_h = max((x1 - x0) / 2, 0.5), max((y1 - y0) / 2, 0.5)
        distance = np.hypot((cols - (x0 + x1) / 2) / half_w, (rows - (y0 + y1) / 2) / half_h)
        closer = inside & (distance < nearest)
        owner[closer], nearest[closer] = k + 1, distance[closer]
    return owner


def _tight_boxes(instances: np.ndarray, count: int) -> np.ndarray:
    boxes = np.zeros((count, 4), np.int32)
    for k in range(count):
        ys, xs = np.nonzero(instances == k + 1)
        boxes[k] = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
    return boxes


class ScanCanvasGenerator:
    """Renders like a :class:`~digitseg.data.synth.CanvasGenerator` (``render(split,
    indices)``), each canvas one of ``scans`` placed on a canvas of ``spec``'s size.

    ``digit_height`` is the ink height the scans' digits are resized to (default: the
    spec's mean digit height), ``jitter`` the range of the random factor on it, ``tilt``
    the most degrees each scan is rotated by, either way (0: level, as scanned).
    """

    def __init__(
        self,
        spec: CanvasSpec,
        scans: CocoScans,
        seed: int = 0,
        digit_height: float | None = None,
        jitter: tuple[float, float] = DEFAULT_JITTER,
        tilt: float = 0.0,
    ) -> None:
        if not len(scans):
            raise ValueError(f"no scans to train on in {scans.annotations} ({scans.folder})")
        self.spec, self.seed = spec, seed
        self.jitter, self.tilt = jitter, tilt
        self.digit_height = digit_height or MNIST_INK_SIDE * sum(spec.scale) / 2
        self._scans = [scans.scan(i) for i in range(len(scans))]

    def __call__(self, split: str, index: int) -> Canvas:
        return self.render(split, [index])[0]

    def render(self, split: str, indices) -> CanvasBatch:
        indices = np.asarray(indices, np.int64).reshape(-1)
        draws = CounterRandom(split_key(self.seed, f"scans/{split}"), indices).uniform(0, 5)
        return CanvasBatch.stacked([self._canvas(draw) for draw in draws], self.spec.is_color)

    def _canvas(self, draw: np.ndarray) -> Canvas:
        """The canvas of one index's five uniform draws: scan, size, x and y placement,
        tilt."""
        scan = self._scans[min(int(draw[0] * len(self._scans)), len(self._scans) - 1)]
        height, width = self.spec.height, self.spec.width
        heights = scan.boxes[:, 3] - scan.boxes[:, 1]
        jitter = self.jitter[0] + draw[1] * (self.jitter[1] - self.jitter[0])
        degrees = (2 * draw[4] - 1) * self.tilt
        factor = self.digit_height * jitter / max(float(np.median(heights)), 1.0)
        _, (tilted_h, tilted_w) = rotation_matrix(scan.image.shape[:2], degrees)
        spare = 1 if degrees else 0  # resized, then rotated, the scan grows by under 1 px
        factor = min(factor, (width - spare) / tilted_w, (height - spare) / tilted_h)
        found = scan_targets(scan.image, scan.labels, scan.boxes, factor)
        found = tilted(found, degrees)
        h, w = found.image.shape
        top, left = int(draw[3] * (height - h + 1)), int(draw[2] * (width - w + 1))
        image = np.full((height, width), np.median(found.image), np.uint8)
        semantic = np.full((height, width), BACKGROUND, np.uint8)
        instances = np.zeros((height, width), np.uint16)
        window = (slice(top, top + h), slice(left, left + w))
        image[window], semantic[window], instances[window] = (
            found.image,
            found.semantic,
            found.instances,
        )
        boxes = found.boxes + np.array([left, top, left, top], np.int32)
        return Canvas(image, semantic, instances, found.labels, boxes, STYLE)

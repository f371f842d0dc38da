"""Training crops for the classifier: the true digits of canvases (generated, or made of
labelled scans), cut as the segmenter's digits are cut at inference
(:func:`~digitseg.classifier.classifier_input`), and optionally the digits a segmenter finds
on the same canvases, with their true labels (:func:`found_labels`); what is no digit (a
comma, a dash, a slash, a stray stroke of a digit already found) is "not a digit" when the
classifier has that class."""

from collections.abc import Iterator

import cv2
import numpy as np

from digitseg.classes import NOT_A_DIGIT
from digitseg.classifier.crops import CROP_SIDE, classifier_input
from digitseg.data.rng import split_key
from digitseg.data.synth import CanvasGenerator
from digitseg.data.transforms import Augment, match_channels
from digitseg.inference.segmenter import Segmenter
from digitseg.metrics.instance import ImageInstances, mask_intersection, mask_iou, match
from digitseg.postprocess import Instance
from digitseg.utils.ink import detect_polarity, light_ink

# Predicted masks are a little off the truth: each true mask is grown by one pixel all round
# with this probability, or with the next one (digits of at least SHRINK_MIN_AREA pixels)
# shrunk by one pixel on its top and left edges.
GROW_PROB = 0.3
SHRINK_PROB = 0.15
SHRINK_MIN_AREA = 60
# Digits with fewer visible pixels are left out (the generator's min_visible_area).
MIN_AREA = 16


def render_crops(
    generator: CanvasGenerator,
    split: str,
    indices: range,
    augment: Augment | None = None,
    segmenter: Segmenter | None = None,
    batch_size: int = 64,
    not_digits: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (N, 2, CROP_SIDE, CROP_SIDE) crops (ink and mask, 0-255) of the digits of
    canvases ``indices`` of ``split``, and their labels (N,); a pure function of the
    generator's seed, the split and the indices.

    With a ``segmenter``, each canvas also gives the crops of the digits it finds (read with
    its own settings), labelled with a true digit by :func:`found_labels`: crops cut from
    the masks the classifier reads at inference, errors and all; with ``not_digits`` also
    those it labels :data:`~digitseg.classes.NOT_A_DIGIT`.
    """
    key = split_key(generator.seed, f"classifier/{split}")
    crops, digits = [], []
    for start in range(indices.start, indices.stop, batch_size):
        chunk = list(range(start, min(start + batch_size, indices.stop)))
        batch = generator.render(split, chunk)
        for k, index in enumerate(chunk):
            rng = np.random.default_rng([key, index])
            gray = match_channels(batch.images[k], 1)
            instances = batch.instances[k]
            if augment is not None:
                gray, (instances,) = augment(key ^ index, gray, [instances])
            ink = light_ink(gray, detect_polarity(gray))
            for number, digit in enumerate(batch.labels[k], start=1):
                mask = _jitter((instances == number).astype(np.uint8), rng)
                if mask.sum() < MIN_AREA:
                    continue
                ys, xs = np.nonzero(mask)
                box = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
                crops.append(_crop(ink, box, mask[box[1] : box[3], box[0] : box[2]]))
                digits.append(digit)
            if segmenter is not None:
                found_digits = _found_digits(segmenter, gray, instances, batch.labels[k])
                for found, digit in found_digits:
                    if digit == NOT_A_DIGIT and not not_digits:
                        continue
                    crops.append(_crop(ink, found.bbox, found.mask))
                    digits.append(digit)
    if not crops:
        return np.zeros((0, 2, CROP_SIDE, CROP_SIDE), np.uint8), np.zeros(0, np.uint8)
    return np.stack(crops), np.asarray(digits, np.uint8)


def _crop(ink: np.ndarray, box, mask: np.ndarray) -> np.ndarray:
    return np.round(classifier_input(ink, box, mask) * 255).astype(np.uint8)


def _found_digits(
    segmenter: Segmenter, gray: np.ndarray, instances: np.ndarray, labels
) -> Iterator[tuple[Instance, int]]:
    """The digits ``segmenter`` finds in ``gray``, each with its :func:`found_labels` label
    against the true digits of the ``instances`` id map."""
    found = segmenter.segment(gray)
    truth = instances[None] == np.arange(1, len(labels) + 1, dtype=instances.dtype)[:, None, None]
    masks = ImageInstances.from_instances(found, instances.shape).masks
    yield from zip(found, found_labels(truth, masks, labels), strict=True)


def found_labels(truth: np.ndarray, found: np.ndarray, labels) -> list[int]:
    """The label each of the ``found`` masks (m, H, W) gets against the ``truth`` masks
    (n, H, W) with their ``labels``: each true digit labels one found mask at most.

    - A found mask matching a true digit as the evaluation matches them (mask IoU) is that
      digit.
    - A true digit no found mask matches labels, of the unmatched found masks with most of
      their pixels in it, the one that holds most of it: the segmenter's only reading of
      that digit (cut short, or with a bit of its neighbour), which the classifier must
      read and not leave out.
    - Every other found mask is :data:`~digitseg.classes.NOT_A_DIGIT`: a mark, or a stray
      piece of a digit the segmenter also finds whole (the lead-in stroke of a 1).
    """
    matched = match(mask_iou(truth, found))
    result = [int(labels[t]) if t >= 0 else NOT_A_DIGIT for t in matched]
    shared = mask_intersection(truth, found)  # (n, m)
    sizes = found.sum(axis=(1, 2))
    for t in np.setdiff1d(np.arange(len(truth)), matched):
        candidates = (matched < 0) & (shared[t] * 2 > sizes)
        if candidates.any():
            best = int(np.argmax(np.where(candidates, shared[t], -1)))
            result[best] = int(labels[t])
    return result


def _jitter(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``mask`` grown or shrunk at random (see GROW_PROB, SHRINK_PROB)."""
    draw = rng.random()
    if draw < GROW_PROB:
        return cv2.dilate(mask, np.ones((3, 3), np.uint8))
    if draw < GROW_PROB + SHRINK_PROB and mask.sum() >= SHRINK_MIN_AREA:
        return cv2.erode(mask, np.ones((2, 2), np.uint8))
    return mask

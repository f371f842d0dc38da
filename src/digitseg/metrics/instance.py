"""Instance-level metrics: predicted digits matched to true ones, and digits read as text.

A prediction matches a true digit when their masks overlap with IoU >= ``threshold`` (0.5);
where either side has boxes only, the boxes' IoU counts. Matching is greedy by score: from
the most confident prediction down, each takes the still unmatched truth it overlaps most,
so one prediction never matches two truths and one truth never two predictions. Two
matchings are made per image:

- with the label required (only truths of the prediction's digit are candidates): true
  positives, hence precision, recall and F1;
- whatever the label (detection): detection recall, and the 10x10 confusion matrix of the
  detected digits' labels (rows truth, columns prediction).

Text is scored per image by the Levenshtein distance between the true and the predicted
text: exact-match accuracy is the share of images at distance 0, the character error rate
(CER) the summed distances over the summed reference lengths. A ratio whose denominator is
zero (precision without predictions, recall without truths) is NaN.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from digitseg.classes import NUM_DIGITS

if TYPE_CHECKING:
    from digitseg.postprocess import Instance

IOU_THRESHOLD = 0.5


@dataclass(frozen=True)
class ImageInstances:
    """The digits of one image as arrays.

    ``labels`` (n,) digits; ``boxes`` (n, 4) x0, y0, x1, y1 with exclusive ends; ``masks``
    (n, H, W) bool or None (boxes only); ``scores`` (n,) confidences or None (all equal).
    """

    labels: np.ndarray
    boxes: np.ndarray
    masks: np.ndarray | None = None
    scores: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.labels)

    @classmethod
    def from_instances(
        cls, instances: Sequence["Instance"], shape: tuple[int, int] | None
    ) -> "ImageInstances":
        """Post-processed instances (box-sized masks) on an image of ``shape`` (H, W); with
        ``shape`` None, their boxes only (to match against boxes)."""
        masks = None
        if shape is not None:
            masks = np.zeros((len(instances), *shape), bool)
            for mask, instance in zip(masks, instances, strict=True):
                x0, y0, x1, y1 = instance.bbox
                mask[y0:y1, x0:x1] = instance.mask
        return cls(
            labels=np.array([i.label for i in instances], np.int64),
            boxes=np.array([i.bbox for i in instances], np.int64).reshape(-1, 4),
            masks=masks,
            scores=np.array([i.score for i in instances], np.float64),
        )

    @classmethod
    def from_id_map(
        cls, ids: np.ndarray, labels: np.ndarray, boxes: np.ndarray
    ) -> "ImageInstances":
        """Instances 1..n of an (H, W) id map (0 for none), instance i+1 of label ``labels[i]``."""
        n = len(labels)
        masks = ids[None] == np.arange(1, n + 1, dtype=ids.dtype)[:, None, None]
        return cls(np.asarray(labels, np.int64), np.asarray(boxes).reshape(-1, 4), masks)


@dataclass(frozen=True)
class ImageScore:
    """Matching and text results of one image.

    ``matched[i]`` is the prediction true digit ``i`` matched with the label required,
    ``detected[i]`` the one it matched whatever the label; -1 for none. ``edits`` is the
    Levenshtein distance of the texts, ``reference_length`` the true text's length.
    """

    true_labels: np.ndarray
    pred_labels: np.ndarray
    matched: np.ndarray
    detected: np.ndarray
    edits: int
    reference_length: int

    @property
    def tp(self) -> int:
        return int((self.matched >= 0).sum())

    @property
    def fp(self) -> int:
        return len(self.pred_labels) - self.tp

    @property
    def fn(self) -> int:
        return len(self.true_labels) - self.tp

    @property
    def exact(self) -> bool:
        return self.edits == 0

    @property
    def predicted_for_truth(self) -> np.ndarray:
        """(n_true,) label of the prediction each truth was detected by, -1 for none."""
        labels = np.append(self.pred_labels, -1)  # index -1 (no detection) reads -1
        return labels[self.detected]


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, m) IoU of boxes ``a`` (n, 4) and ``b`` (m, 4), x0, y0, x1, y1 with exclusive ends."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(bottom_right - top_left, 0, None).prod(-1)
    area_a = (a[:, 2:] - a[:, :2]).prod(-1)
    area_b = (b[:, 2:] - b[:, :2]).prod(-1)
    union = area_a[:, None] + area_b[None] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def mask_intersection(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, m) pixels shared by bool masks ``a`` (n, H, W) and ``b`` (m, H, W)."""
    a, b = np.asarray(a), np.asarray(b)
    pixels = int(np.prod(a.shape[1:]))  # reshape(n, -1) fails when n is 0
    flat_a = a.reshape(len(a), pixels).astype(np.float32)
    flat_b = b.reshape(len(b), pixels).astype(np.float32)
    return (flat_a @ flat_b.T).astype(np.float64)


def mask_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, m) IoU of bool masks ``a`` (n, H, W) and ``b`` (m, H, W)."""
    a, b = np.asarray(a), np.asarray(b)
    inter = mask_intersection(a, b)
    union = a.sum(axis=(1, 2))[:, None] + b.sum(axis=(1, 2))[None] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def pairwise_iou(truth: ImageInstances, pred: ImageInstances) -> np.ndarray:
    """(n_true, n_pred) IoU of masks where both sides have them, of boxes otherwise."""
    if truth.masks is not None and pred.masks is not None:
        return mask_iou(truth.masks, pred.masks)
    return box_iou(truth.boxes, pred.boxes)


def match(
    iou: np.ndarray,
    scores: np.ndarray | None = None,
    threshold: float = IOU_THRESHOLD,
    allowed: np.ndarray | None = None,
) -> np.ndarray:
    """(m,) index of the truth each prediction matches, -1 for none (greedy by score).

    ``iou`` is (n_true, m); ``scores`` (m,) orders the predictions (ties and None: their
    order); ``allowed`` (n_true, m) bool marks the pairs that may match at all.
    """
    n_true, n_pred = iou.shape
    candidates = iou >= threshold
    if allowed is not None:
        candidates &= allowed
    order = np.argsort(-np.asarray(scores), kind="stable") if scores is not None else range(n_pred)
    taken = np.zeros(n_true, bool)
    result = np.full(n_pred, -1, np.int64)
    for p in order:
        free = candidates[:, p] & ~taken
        if free.any():
            best = int(np.argmax(np.where(free, iou[:, p], -1.0)))
            result[p], taken[best] = best, True
    return result


def edit_distance(reference: str, hypothesis: str) -> int:
    """Levenshtein distance: fewest insertions, deletions and substitutions between the two."""
    previous = list(range(len(hypothesis) + 1))
    for i, r in enumerate(reference, start=1):
        current = [i]
        for j, h in enumerate(hypothesis, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1]


def score_image(
    truth: ImageInstances,
    pred: ImageInstances,
    true_text: str,
    pred_text: str,
    threshold: float = IOU_THRESHOLD,
) -> ImageScore:
    """Both matchings of one image (see the module docstring) and its text distance."""
    iou = pairwise_iou(truth, pred)
    same_label = truth.labels[:, None] == pred.labels[None, :]
    return ImageScore(
        true_labels=truth.labels,
        pred_labels=pred.labels,
        matched=_by_truth(match(iou, pred.scores, threshold, same_label), len(truth)),
        detected=_by_truth(match(iou, pred.scores, threshold), len(truth)),
        edits=edit_distance(true_text, pred_text),
        reference_length=len(true_text),
    )


def _by_truth(pred_to_truth: np.ndarray, n_true: int) -> np.ndarray:
    """Invert a prediction -> truth matching into truth -> prediction (-1 for none)."""
    result = np.full(n_true, -1, np.int64)
    hit = np.flatnonzero(pred_to_truth >= 0)
    result[pred_to_truth[hit]] = hit
    return result


def instance_confusion(scores: Sequence[ImageScore]) -> np.ndarray:
    """10x10 counts of detected digits: rows the true label, columns the predicted one."""
    matrix = np.zeros((NUM_DIGITS, NUM_DIGITS), np.int64)
    for score in scores:
        hit = score.detected >= 0
        np.add.at(matrix, (score.true_labels[hit], score.pred_labels[score.detected[hit]]), 1)
    return matrix


def per_digit_accuracy(confusion: np.ndarray) -> np.ndarray:
    """(10,) share of each digit's detections labelled right; NaN for a digit never detected."""
    totals = confusion.sum(1)
    return np.array([_ratio(confusion[d, d], totals[d]) for d in range(len(totals))])


def summarize(scores: Sequence[ImageScore]) -> dict[str, float]:
    """Counts and ratios over images: precision, recall, F1, detection recall, label
    accuracy of detected digits, exact-match accuracy and CER."""
    tp = sum(s.tp for s in scores)
    fp = sum(s.fp for s in scores)
    fn = sum(s.fn for s in scores)
    n_true = tp + fn
    detected = sum(int((s.detected >= 0).sum()) for s in scores)
    confusion = instance_confusion(scores)
    return {
        "images": len(scores),
        "true_instances": n_true,
        "predicted_instances": tp + fp,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, n_true),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "detection_recall": _ratio(detected, n_true),
        "label_accuracy": _ratio(np.trace(confusion), confusion.sum()),
        "exact_match": _ratio(sum(s.exact for s in scores), len(scores)),
        "cer": _ratio(sum(s.edits for s in scores), sum(s.reference_length for s in scores)),
    }


def summarize_truths(matched: np.ndarray, detected: np.ndarray, correct: np.ndarray) -> dict:
    """Ratios over a set of true digits (bool arrays: matched with the label, detected, and
    detected with the right label): recall, detection recall, label accuracy."""
    return {
        "instances": len(matched),
        "recall": _ratio(matched.sum(), len(matched)),
        "detection_recall": _ratio(detected.sum(), len(detected)),
        "label_accuracy": _ratio(correct.sum(), detected.sum()),
    }


def _ratio(numerator, denominator) -> float:
    return float(numerator) / float(denominator) if denominator else float("nan")

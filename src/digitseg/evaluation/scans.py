"""Readings of real scans scored against their digit boxes (``digitseg-eval source=coco``).

A predicted digit matches a true one at box IoU >= ``iou_threshold``, greedy by score
(:mod:`digitseg.metrics.instance`): instance precision, recall, F1 and label accuracy. Each
image's digits are read in reading order and compared, as text, with its true boxes put in
reading order by the same rule (exact match, CER). Breakdowns by true digit and by digits
per image; scores are checked against correctness (expected calibration error, the score
distributions of right and wrong digits).
"""

import heapq
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from digitseg.data.coco_scans import LabelledScan
from digitseg.inference import Segmentation
from digitseg.metrics.calibration import calibration_summary
from digitseg.metrics.instance import (
    IOU_THRESHOLD,
    ImageInstances,
    ImageScore,
    instance_confusion,
    per_digit_accuracy,
    score_image,
    summarize,
    summarize_truths,
)
from digitseg.postprocess import Instance, read_text


@dataclass(frozen=True)
class ScanCase:
    """One scan with its reading and its error counts, for the worst cases."""

    scan: LabelledScan
    prediction: Segmentation
    true_text: str
    instance_errors: int
    edits: int


def true_text(scan: LabelledScan) -> str:
    """The true digits read in reading order, by the rule that orders predictions."""
    return read_text(
        [
            Instance(int(label), 1.0, tuple(int(v) for v in box), 0, np.ones((1, 1), bool))
            for label, box in zip(scan.labels, scan.boxes, strict=True)
        ]
    )


class ScanEvaluation:
    """Add scans with :meth:`add`, then read :meth:`results` and :meth:`worst_cases`.

    ``images`` holds one record per scan, ``predictions`` one per predicted digit (its
    score and whether it matched a true digit of its label).
    """

    def __init__(self, worst_k: int = 8, iou_threshold: float = IOU_THRESHOLD) -> None:
        self.worst_k = worst_k
        self.iou_threshold = iou_threshold
        self.scores: list[ImageScore] = []
        self.images: list[dict] = []
        self.predictions: list[dict] = []
        self._worst: list[tuple] = []

    def add(self, scan: LabelledScan, prediction: Segmentation) -> ImageScore:
        """Score one scan's reading against its boxes."""
        truth = ImageInstances(scan.labels, scan.boxes)
        found = prediction.instances
        pred = ImageInstances.from_instances(found, shape=None)
        expected = true_text(scan)
        score = score_image(truth, pred, expected, prediction.text, self.iou_threshold)
        self.scores.append(score)
        self.images.append(
            {
                "file": scan.file_name,
                "digits": len(scan.labels),
                "predicted": len(found),
                "tp": score.tp,
                "fp": score.fp,
                "fn": score.fn,
                "edits": score.edits,
                "truth": expected,
                "prediction": prediction.text,
            }
        )
        right = set(score.matched[score.matched >= 0].tolist())
        self.predictions += [
            {"file": scan.file_name, "label": i.label, "score": i.score, "correct": k in right}
            for k, i in enumerate(found)
        ]
        key = (score.fp + score.fn, score.edits, len(self.images))
        case = ScanCase(scan, prediction, expected, *key[:2])
        heapq.heappush(self._worst, (key, case))
        if len(self._worst) > self.worst_k:
            heapq.heappop(self._worst)
        return score

    def results(self) -> dict:
        """Headline metrics, breakdowns, confusion and calibration, as plain values."""
        confusion = instance_confusion(self.scores)
        scores = np.array([p["score"] for p in self.predictions], np.float64)
        correct = np.array([p["correct"] for p in self.predictions], bool)
        return {
            "instances": summarize(self.scores),
            "per_digit_label_accuracy": per_digit_accuracy(confusion).tolist(),
            "instance_confusion": confusion.tolist(),
            "by_true_digit": self._by_true_digit(),
            "by_digits_per_image": self._by_digits_per_image(),
            "calibration": calibration_summary(scores, correct),
        }

    def worst_cases(self) -> list[ScanCase]:
        """The scans with the most instance errors, then the most text edits, worst first."""
        return [case for _, case in sorted(self._worst, key=lambda kv: kv[0], reverse=True)]

    def _by_true_digit(self) -> dict[str, dict]:
        matched, detected, correct = defaultdict(list), defaultdict(list), defaultdict(list)
        for score in self.scores:
            read_as = score.predicted_for_truth
            for k, label in enumerate(score.true_labels.tolist()):
                matched[label].append(score.matched[k] >= 0)
                detected[label].append(score.detected[k] >= 0)
                correct[label].append(read_as[k] == label)
        return {
            str(d): summarize_truths(
                np.array(matched[d], bool), np.array(detected[d], bool), np.array(correct[d])
            )
            for d in sorted(matched)
        }

    def _by_digits_per_image(self) -> dict[str, dict]:
        groups = defaultdict(list)
        for record, score in zip(self.images, self.scores, strict=True):
            groups[record["digits"]].append(score)
        return {str(n): summarize(groups[n]) for n in sorted(groups)}

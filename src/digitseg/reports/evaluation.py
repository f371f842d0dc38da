"""One evaluation, canvas by canvas: pixel metrics, instance matching, breakdowns, worst cases.

Breakdowns that find errors:

- by the number of digits on a canvas and by background style (per canvas: precision,
  recall, F1, detection recall, exact match, CER, mean digit IoU);
- by true digit, by digit height (the true box's, in bins) and by contact (a digit
  touches or overlaps another when its mask grown by 1 px meets another digit; per true
  digit: recall, detection recall, label accuracy).

The worst cases are the canvases with the most instance errors (false positives plus false
negatives), then the most text edits, then the most wrongly classified pixels.

COCO AP and AR for masks and boxes (:mod:`digitseg.metrics.coco`) rank the predicted digits
by score over every canvas, each canvas one COCO image with the canvas index as its id.
"""

import heapq
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import torch

from digitseg.classes import CLASS_NAMES, NUM_DIGITS
from digitseg.data.targets import instance_borders
from digitseg.inference import Segmentation
from digitseg.metrics.coco import CocoEvaluation
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
from digitseg.metrics.semantic import SegmentationMetrics, to_log_dict
from digitseg.reports.inputs import EvalItem

HEIGHT_BINS = (16, 20, 24, 28)
# Breakdowns per canvas (keyed by a canvas record's field) and per true digit.
CANVAS_BREAKDOWNS = {"digits_per_canvas": "digits", "background": "style"}
TRUTH_BREAKDOWNS = ("true_digit", "digit_height", "contact")
# Headline instance metrics as logged: ``<prefix>/<name>``.
LOGGED = {
    "instance_precision": "precision",
    "instance_recall": "recall",
    "instance_f1": "f1",
    "detection_recall": "detection_recall",
    "label_accuracy": "label_accuracy",
    "exact_match": "exact_match",
    "cer": "cer",
}


@dataclass(frozen=True)
class WorstCase:
    """A canvas among the worst: the item, the segmenter's result and the error counts."""

    item: EvalItem
    prediction: Segmentation
    true_text: str
    instance_errors: int
    edits: int
    wrong_pixels: int


class Evaluation:
    """Add canvases with :meth:`add`; read :meth:`results`, :meth:`worst_cases`, the records.

    ``canvases`` holds one record per canvas, ``truths`` one per true digit (its canvas,
    label, the label it was detected as or -1, whether it was matched and detected, box,
    height and contact).
    """

    def __init__(
        self,
        worst_k: int = 8,
        height_bins=HEIGHT_BINS,
        iou_threshold: float = IOU_THRESHOLD,
    ) -> None:
        self.worst_k = worst_k
        self.height_bins = tuple(height_bins)
        self.iou_threshold = iou_threshold
        self.pixels = SegmentationMetrics()
        self.group_pixels: dict[tuple[str, str], SegmentationMetrics] = defaultdict(
            SegmentationMetrics
        )
        self.scores: list[ImageScore] = []
        self.coco = CocoEvaluation()
        self.canvases: list[dict] = []
        self.truths: list[dict] = []
        self._worst: list[tuple] = []

    def add(self, item: EvalItem, prediction: Segmentation) -> ImageScore:
        """Score one canvas against the segmenter's result on it."""
        true_text = item.truth_text()
        truth = item.truth_arrays()
        pred = ImageInstances.from_instances(prediction.instances, item.semantic.shape)
        score = score_image(truth, pred, true_text, prediction.text, self.iou_threshold)
        self.coco.add(item.index, truth, pred)
        wrong_pixels = int((prediction.labels != item.semantic).sum())
        record = {
            "index": item.index,
            "style": item.style,
            "digits": len(item.labels),
            "predicted": len(pred),
            "tp": score.tp,
            "fp": score.fp,
            "fn": score.fn,
            "edits": score.edits,
            "wrong_pixels": wrong_pixels,
            "truth": true_text,
            "prediction": prediction.text,
        }
        self._add_pixels(item, prediction.labels, record)
        self.scores.append(score)
        self.canvases.append(record)
        self.truths += self._truth_records(item, score)
        key = (score.fp + score.fn, score.edits, wrong_pixels, -item.index)
        case = WorstCase(item, prediction, true_text, *key[:3])
        heapq.heappush(self._worst, (key, case))
        if len(self._worst) > self.worst_k:
            heapq.heappop(self._worst)
        return score

    def _add_pixels(self, item: EvalItem, predicted: np.ndarray, record: dict) -> None:
        preds = torch.from_numpy(predicted.astype(np.int64))[None]
        target = torch.from_numpy(item.semantic.astype(np.int64))[None]
        self.pixels.update(preds, target)
        for breakdown, field in CANVAS_BREAKDOWNS.items():
            self.group_pixels[breakdown, str(record[field])].update(preds, target)

    def _truth_records(self, item: EvalItem, score: ImageScore) -> list[dict]:
        touching = set(np.unique(item.instances[instance_borders(item.instances)]).tolist())
        predicted = score.predicted_for_truth
        records = []
        for i, (label, box) in enumerate(zip(item.labels, item.boxes, strict=True)):
            x0, y0, x1, y1 = (int(v) for v in box)
            records.append(
                {
                    "canvas": item.index,
                    "instance": i + 1,
                    "label": int(label),
                    "predicted": int(predicted[i]),
                    "matched": bool(score.matched[i] >= 0),
                    "detected": bool(score.detected[i] >= 0),
                    "x0": x0,
                    "y0": y0,
                    "x1": x1,
                    "y1": y1,
                    "height": y1 - y0,
                    "touching": i + 1 in touching,
                }
            )
        return records

    def worst_cases(self) -> list[WorstCase]:
        """The ``worst_k`` canvases with the most errors, worst first."""
        return [case for _, case in sorted(self._worst, key=lambda entry: entry[0], reverse=True)]

    def results(self) -> dict:
        """Pixel and instance metrics, COCO AP/AR, breakdowns and the worst cases, as plain
        values."""
        confusion = instance_confusion(self.scores)
        accuracy = per_digit_accuracy(confusion)
        instance = summarize(self.scores) | {
            "label_accuracy_per_digit": {str(d): accuracy[d] for d in range(NUM_DIGITS)},
            "confusion_matrix": confusion.tolist(),
        }
        return {
            "pixel": pixel_results(self.pixels.compute()),
            "instance": instance,
            "coco": self.coco.results(),
            "breakdowns": self._canvas_breakdowns() | self._truth_breakdowns(),
            "worst_cases": [
                {
                    "index": case.item.index,
                    "instance_errors": case.instance_errors,
                    "edits": case.edits,
                    "wrong_pixels": case.wrong_pixels,
                    "truth": case.true_text,
                    "prediction": case.prediction.text,
                }
                for case in self.worst_cases()
            ],
        }

    def _canvas_breakdowns(self) -> dict:
        result = {}
        for breakdown, field in CANVAS_BREAKDOWNS.items():
            groups = defaultdict(list)
            for record, score in zip(self.canvases, self.scores, strict=True):
                groups[record[field]].append(score)
            result[breakdown] = {
                str(key): summarize(scores) | {"miou_digits": self._group_miou(breakdown, key)}
                for key, scores in sorted(groups.items())
            }
        return result

    def _group_miou(self, breakdown: str, key) -> float:
        return float(self.group_pixels[breakdown, str(key)].compute()["miou_digits"])

    def _truth_breakdowns(self) -> dict:
        if not self.truths:
            return {name: {} for name in TRUTH_BREAKDOWNS}
        column = {key: np.array([r[key] for r in self.truths]) for key in self.truths[0]}
        correct = column["detected"] & (column["predicted"] == column["label"])
        bins = np.searchsorted(self.height_bins, column["height"], side="right")
        names = height_bin_names(self.height_bins)
        groups = {
            "true_digit": {str(d): column["label"] == d for d in sorted(set(column["label"]))},
            "digit_height": {names[b]: bins == b for b in sorted(set(bins.tolist()))},
            "contact": {
                name: column["touching"] == value
                for name, value in (("apart", False), ("touching", True))
                if (column["touching"] == value).any()
            },
        }
        return {
            breakdown: {
                name: summarize_truths(column["matched"][m], column["detected"][m], correct[m])
                for name, m in members.items()
            }
            for breakdown, members in groups.items()
        }

    def log_dict(self, prefix: str) -> dict[str, float]:
        """Headline metrics flattened for loggers: ``<prefix>/miou_digits``, per-class IoU
        and Dice, ``<prefix>/instance_f1``, ``<prefix>/cer``, ..."""
        summary = summarize(self.scores)
        logs = to_log_dict(self.pixels.compute(), prefix)
        return logs | {f"{prefix}/{name}": summary[key] for name, key in LOGGED.items()}


def pixel_results(result: dict[str, torch.Tensor]) -> dict:
    """A :class:`SegmentationMetrics` result as plain values, per-class keyed by class name."""
    return {
        "miou_digits": float(result["miou_digits"]),
        "miou": float(result["miou"]),
        "pixel_accuracy": float(result["pixel_accuracy"]),
        "iou": dict(zip(CLASS_NAMES, result["iou_per_class"].tolist(), strict=True)),
        "dice": dict(zip(CLASS_NAMES, result["dice_per_class"].tolist(), strict=True)),
        "confusion_matrix": result["confusion_matrix"].tolist(),
    }


def height_bin_names(edges) -> list[str]:
    """Names of the bins that ``edges`` cut heights into: ``<16``, ``16-19``, ..., ``>=28``."""
    edges = list(edges)
    inner = [f"{a}-{b - 1}" for a, b in zip(edges[:-1], edges[1:], strict=True)]
    return [f"<{edges[0]}", *inner, f">={edges[-1]}"]

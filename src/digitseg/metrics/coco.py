"""COCO average precision and recall of predicted digits, for masks and boxes.

pycocotools' ``COCOeval`` compares the true digits of each image (category = digit, as in
``digitseg-generate``'s ``annotations.json``) with the predicted ones, ranked by score.
Reported per kind (``segm``: masks as RLE, ``bbox``: boxes): AP (IoU 0.50:0.95), AP50,
AP75 and AR@100, each the mean over the digits that have true instances. A value COCOeval
cannot compute (no true digit at all) is NaN.
"""

import contextlib
import io

import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from digitseg.classes import NUM_DIGITS
from digitseg.metrics.instance import ImageInstances

IOU_TYPES = ("segm", "bbox")
# Names of the reported values and their index in ``COCOeval.stats``.
STATS = {"AP": 0, "AP50": 1, "AP75": 2, "AR100": 8}
CATEGORIES = [{"id": d, "name": str(d), "supercategory": "digit"} for d in range(NUM_DIGITS)]


class CocoEvaluation:
    """Add images with :meth:`add`; :meth:`results` runs COCOeval once per kind."""

    def __init__(self) -> None:
        self.images: list[dict] = []
        self.truths: list[dict] = []
        self.detections: list[dict] = []

    def add(self, image_id: int, truth: ImageInstances, pred: ImageInstances) -> None:
        """The true and predicted digits of image ``image_id`` (both with masks; the
        predictions with scores)."""
        if truth.masks is None or pred.masks is None or pred.scores is None:
            raise ValueError("COCO AP needs the masks of both sides and the predicted scores")
        height, width = truth.masks.shape[1:]
        self.images.append({"id": int(image_id), "height": height, "width": width})
        self.truths += _annotations(image_id, truth, np.ones(len(truth)))
        self.detections += _annotations(image_id, pred, pred.scores)

    def results(self) -> dict[str, dict[str, float]]:
        """``{"segm": {"AP", "AP50", "AP75", "AR100"}, "bbox": {...}}``."""
        return {iou_type: self._evaluate(iou_type) for iou_type in IOU_TYPES}

    def _evaluate(self, iou_type: str) -> dict[str, float]:
        if not self.truths:
            return {name: float("nan") for name in STATS}
        with contextlib.redirect_stdout(io.StringIO()):  # COCOeval prints as it goes
            truth = self._dataset(self.truths, iou_type)
            evaluation = COCOeval(truth, self._dataset(self.detections, iou_type), iou_type)
            evaluation.evaluate()
            evaluation.accumulate()
            evaluation.summarize()
        stats = evaluation.stats
        return {name: _value(stats[i]) for name, i in STATS.items()}

    def _dataset(self, annotations: list[dict], iou_type: str) -> COCO:
        """A COCO object of ``annotations``, with ``area`` measured as ``iou_type`` counts."""
        area = "mask_area" if iou_type == "segm" else "box_area"
        coco = COCO()
        coco.dataset = {
            "images": self.images,
            "categories": CATEGORIES,
            "annotations": [
                annotation | {"id": i, "area": annotation[area]}
                for i, annotation in enumerate(annotations, start=1)
            ],
        }
        coco.createIndex()
        return coco


def _annotations(image_id: int, instances: ImageInstances, scores) -> list[dict]:
    """COCO annotations of one image's instances (boxes x, y, w, h; masks RLE-encoded)."""
    masks = np.asfortranarray(instances.masks.transpose(1, 2, 0).astype(np.uint8))
    rles = mask_utils.encode(masks) if len(instances) else []
    found = []
    for label, box, rle, score in zip(instances.labels, instances.boxes, rles, scores, strict=True):
        x0, y0, x1, y1 = (int(v) for v in box)
        found.append(
            {
                "image_id": int(image_id),
                "category_id": int(label),
                "bbox": [x0, y0, x1 - x0, y1 - y0],
                "segmentation": rle,
                "mask_area": float(mask_utils.area(rle)),
                "box_area": float((x1 - x0) * (y1 - y0)),
                "score": float(score),
                "iscrowd": 0,
            }
        )
    return found


def _value(stat: float) -> float:
    """COCOeval's -1 (nothing to measure) as NaN."""
    return float("nan") if stat < 0 else float(stat)


def to_log_dict(results: dict[str, dict[str, float]], prefix: str) -> dict[str, float]:
    """``<prefix>/coco_segm_ap``, ``<prefix>/coco_bbox_ar100``, ... for loggers."""
    return {
        f"{prefix}/coco_{iou_type}_{name.lower()}": value
        for iou_type, values in results.items()
        for name, value in values.items()
    }

"""Fit the calibration of digit scores on labelled scans and store it with the classifier.

    python scripts/calibrate_scores.py --classifier models/classifier_scans.ckpt \\
        --out models/classifier_scans_calibrated.ckpt

Reads the scans' validation part (``paths.scans_dir``, or ``--folder``/``--annotations``) as
``digitseg-segment`` does, matches the digits to the true boxes as ``digitseg-eval
source=coco`` does and fits Platt scaling (:class:`digitseg.metrics.calibration.
ScoreCalibration`) of the scores against being right. It prints the expected calibration
error before and after, the latter fitted on one half of the images and measured on the
other (both ways), then writes the classifier with the calibration fitted on every image
to ``--out`` (an existing file only with ``--overwrite``).
"""

import argparse
from pathlib import Path

import numpy as np

from digitseg.data.coco_scans import open_coco_scans
from digitseg.evaluation.scans import ScanEvaluation
from digitseg.inference import Segmenter
from digitseg.metrics.calibration import ScoreCalibration, expected_calibration_error
from digitseg.models.checkpoint import load_model, save_model
from digitseg.utils.compose import compose_eval


def read_scores(args) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per digit read: its uncalibrated score, whether it is right, and its image's index."""
    segmenter = Segmenter.from_checkpoint(args.checkpoint, classifier=args.classifier)
    segmenter.calibration = None  # fit on the scores as the nets give them
    evaluation = ScanEvaluation()
    images = []
    for index, scan in enumerate(open_coco_scans(args.folder, args.annotations, args.part).scans()):
        found = len(evaluation.predictions)
        evaluation.add(scan, segmenter.run(scan.image))
        images += [index] * (len(evaluation.predictions) - found)
    scores = np.array([p["score"] for p in evaluation.predictions], np.float64)
    correct = np.array([p["correct"] for p in evaluation.predictions], bool)
    return scores, correct, np.array(images, np.int64)


def cross_fitted_ece(scores: np.ndarray, correct: np.ndarray, images: np.ndarray) -> float:
    """The ECE of scores calibrated by a fit on the other half of the images (even and odd
    image indices), so that no digit is scored by a fit that saw it."""
    calibrated = np.empty_like(scores)
    for half in (0, 1):
        fitted_on = images % 2 != half
        fit = ScoreCalibration.fit(scores[fitted_on], correct[fitted_on])
        calibrated[~fitted_on] = fit(scores[~fitted_on])
    return expected_calibration_error(calibrated, correct)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    scans_dir = Path(compose_eval().paths.scans_dir)
    parser.add_argument("--checkpoint", default="models/digit_segmenter.ckpt")
    parser.add_argument("--classifier", required=True, help="the classifier model file")
    parser.add_argument("--out", type=Path, required=True, help="the calibrated classifier")
    parser.add_argument("--folder", default=str(scans_dir / "images"))
    parser.add_argument("--annotations", default=None)
    parser.add_argument("--part", default="val", choices=("train", "val", "all"))
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args()
    if args.out.exists() and not args.overwrite:
        parser.error(f"{args.out} exists: pass --overwrite to replace it")
    scores, correct, images = read_scores(args)
    fit = ScoreCalibration.fit(scores, correct)
    print(
        f"{len(scores)} digits read, {correct.mean():.3f} right; ECE "
        f"{expected_calibration_error(scores, correct):.4f} as read, "
        f"{cross_fitted_ece(scores, correct, images):.4f} calibrated (cross-fitted over "
        f"halves of the images); fitted on all: slope {fit.slope:.4f}, "
        f"intercept {fit.intercept:.4f}"
    )
    net, payload = load_model(args.classifier)
    config = payload["config"] | {"calibration": {"slope": fit.slope, "intercept": fit.intercept}}
    print(f"written: {save_model(args.out, net, config, payload.get('metrics'))}")


if __name__ == "__main__":
    main()

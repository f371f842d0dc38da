"""Whether scores mean what they say: expected calibration error and reliability bins.

A prediction's score is a confidence in [0, 1]; it is calibrated when, among predictions
scored about p, a share p is right. The expected calibration error (ECE) is the mean gap
between the share right and the mean score over equal-width score bins, each weighted by
its share of the predictions.
"""

from dataclasses import dataclass

import numpy as np
from scipy import optimize

BINS = 10


def reliability_bins(scores: np.ndarray, correct: np.ndarray, bins: int = BINS) -> list[dict]:
    """Per score bin [k/bins, (k+1)/bins) (the last one closed): its count, mean score and
    share right; empty bins have NaN means."""
    scores, correct = np.asarray(scores, np.float64), np.asarray(correct, bool)
    which = np.clip((scores * bins).astype(np.int64), 0, bins - 1)
    rows = []
    for k in range(bins):
        inside = which == k
        count = int(inside.sum())
        rows.append(
            {
                "low": k / bins,
                "high": (k + 1) / bins,
                "count": count,
                "mean_score": float(scores[inside].mean()) if count else float("nan"),
                "accuracy": float(correct[inside].mean()) if count else float("nan"),
            }
        )
    return rows


def expected_calibration_error(scores: np.ndarray, correct: np.ndarray, bins: int = BINS):
    """ECE of ``scores`` against ``correct`` (bool); NaN without predictions."""
    rows = reliability_bins(scores, correct, bins)
    total = sum(row["count"] for row in rows)
    if not total:
        return float("nan")
    gaps = [row["count"] * abs(row["accuracy"] - row["mean_score"]) for row in rows if row["count"]]
    return float(sum(gaps) / total)


def calibration_summary(scores: np.ndarray, correct: np.ndarray, bins: int = BINS) -> dict:
    """ECE, the reliability bins and the score quartiles of right and of wrong predictions."""
    scores, correct = np.asarray(scores, np.float64), np.asarray(correct, bool)
    return {
        "ece": expected_calibration_error(scores, correct, bins),
        "bins": reliability_bins(scores, correct, bins),
        "right_scores": _quartiles(scores[correct]),
        "wrong_scores": _quartiles(scores[~correct]),
    }


def _quartiles(values: np.ndarray) -> dict:
    if not len(values):
        return {"count": 0}
    q1, median, q3 = np.quantile(values, [0.25, 0.5, 0.75])
    return {
        "count": len(values),
        "mean": float(values.mean()),
        "q1": float(q1),
        "median": float(median),
        "q3": float(q3),
    }


@dataclass(frozen=True)
class ScoreCalibration:
    """Platt scaling of scores: ``sigmoid(slope * logit(score) + intercept)``, fitted so that
    a calibrated score is the share of digits scored so that are right."""

    slope: float = 1.0
    intercept: float = 0.0

    def __call__(self, scores):
        logits = _logit(np.asarray(scores, np.float64))
        return 1.0 / (1.0 + np.exp(-(self.slope * logits + self.intercept)))

    @classmethod
    def fit(cls, scores: np.ndarray, correct: np.ndarray) -> "ScoreCalibration":
        """The slope and intercept of least log loss over ``scores`` and ``correct``."""
        x = _logit(np.asarray(scores, np.float64))
        sign = np.where(np.asarray(correct, bool), -1.0, 1.0)

        def log_loss(weights: np.ndarray) -> float:
            return float(np.logaddexp(0.0, sign * (weights[0] * x + weights[1])).mean())

        found = optimize.minimize(log_loss, np.array([1.0, 0.0]), method="Nelder-Mead")
        return cls(float(found.x[0]), float(found.x[1]))


def _logit(scores: np.ndarray) -> np.ndarray:
    clipped = np.clip(scores, 1e-6, 1 - 1e-6)
    return np.log(clipped / (1 - clipped))

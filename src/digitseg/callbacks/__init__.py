"""Lightning callbacks: prediction gallery and per-class metric reports."""

from digitseg.callbacks.gallery import PredictionGallery
from digitseg.callbacks.report import MetricsReport

__all__ = ["MetricsReport", "PredictionGallery"]

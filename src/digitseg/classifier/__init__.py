"""The digit classifier: a second opinion on the label of each digit the segmenter finds.

The segmenter's class map decides where each digit is; this small net reads each digit
again from a square crop around it (the ink and the digit's mask) and its probabilities are
combined with the segmenter's (see :func:`~digitseg.classifier.reading.combine_labels`).
"""

from digitseg.classifier.crops import CROP_SIDE, classifier_input
from digitseg.classifier.net import DigitClassifier
from digitseg.classifier.reading import (
    classifier_crops,
    classifier_probabilities,
    combine_labels,
)

__all__ = [
    "CROP_SIDE",
    "DigitClassifier",
    "classifier_crops",
    "classifier_input",
    "classifier_probabilities",
    "combine_labels",
]

"""The classifier's probabilities for the segmenter's digits, and the labels both agree on."""

from dataclasses import replace

import numpy as np
import torch
from torch import nn

from digitseg.classes import NUM_DIGITS
from digitseg.classifier.crops import classifier_input
from digitseg.postprocess import Instance

# Added to both probabilities before their product, so that it never is 0 for every digit.
_FLOOR = 1e-6


def classifier_probabilities(
    classifier: nn.Module, ink: np.ndarray, instances: list[Instance]
) -> np.ndarray:
    """(N, 10) digit probabilities of the classifier (in eval mode) for each instance, read
    from ``ink``, the image as light ink on dark."""
    if not instances:
        return np.zeros((0, NUM_DIGITS), np.float32)
    crops = np.stack([classifier_input(ink, i.bbox, i.mask) for i in instances])
    device = next(classifier.parameters()).device
    with torch.inference_mode():
        logits = classifier(torch.from_numpy(crops).to(device))
    return torch.softmax(logits.float(), dim=1).cpu().numpy()


def combine_labels(
    instances: list[Instance], probs: np.ndarray, classifier_probs: np.ndarray
) -> list[Instance]:
    """The instances relabelled by the product of two opinions: the segmenter's digit
    probabilities (``probs``, (11, H, W)) averaged over each instance's mask, and the
    classifier's (``classifier_probs``, (N, 10)). The score becomes the product's normalised
    probability of the chosen digit."""
    relabelled = []
    for instance, theirs in zip(instances, classifier_probs, strict=True):
        x0, y0, x1, y1 = instance.bbox
        ours = probs[:NUM_DIGITS, y0:y1, x0:x1][:, instance.mask].mean(axis=1)
        joint = (ours + _FLOOR) * (theirs + _FLOOR)
        joint /= joint.sum()
        label = int(joint.argmax())
        relabelled.append(replace(instance, label=label, score=float(joint[label])))
    return relabelled

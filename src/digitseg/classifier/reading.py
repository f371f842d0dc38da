"""The classifier's probabilities for the segmenter's digits, and the labels both agree on."""

from dataclasses import replace

import numpy as np
import torch
from torch import nn

from digitseg.classes import NOT_A_DIGIT, NUM_DIGITS
from digitseg.classifier.crops import classifier_input
from digitseg.postprocess import Instance

# Added to both probabilities before their product, so that it never is 0 for every digit.
_FLOOR = 1e-6


def classifier_probabilities(
    classifier: nn.Module, ink: np.ndarray, instances: list[Instance]
) -> np.ndarray:
    """(N, C) probabilities of the classifier (in eval mode) for each instance, read from
    ``ink``, the image as light ink on dark: C is 10 digits, or 11 with "not a digit"."""
    if not instances:
        return np.zeros((0, classifier.head[-1].out_features), np.float32)
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
    classifier's (``classifier_probs``, (N, 10) or (N, 11)). The score becomes the product's
    normalised probability of the chosen digit.

    With an 11th classifier class ("not a digit"), an instance the classifier finds more
    likely a mark than a digit is left out, and the others' scores are multiplied by the
    probability that they are a digit at all."""
    relabelled = []
    for instance, theirs in zip(instances, classifier_probs, strict=True):
        is_digit = 1.0 - float(theirs[NOT_A_DIGIT]) if len(theirs) > NUM_DIGITS else 1.0
        if is_digit < 0.5:
            continue
        x0, y0, x1, y1 = instance.bbox
        ours = probs[:NUM_DIGITS, y0:y1, x0:x1][:, instance.mask].mean(axis=1)
        joint = (ours + _FLOOR) * (theirs[:NUM_DIGITS] + _FLOOR)
        joint /= joint.sum()
        label = int(joint.argmax())
        score = float(joint[label]) * is_digit
        relabelled.append(replace(instance, label=label, score=score))
    return relabelled

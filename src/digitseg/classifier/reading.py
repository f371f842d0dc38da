"""The classifier's probabilities for the segmenter's digits, and the labels both agree on."""

from dataclasses import replace

import numpy as np
import torch
from torch import nn

from digitseg.classes import NOT_A_DIGIT, NUM_DIGITS
from digitseg.classifier.crops import CROP_SIDE, classifier_input
from digitseg.postprocess import Instance

# Added to both probabilities before their product, so that it never is 0 for every digit.
_FLOOR = 1e-6


# Crops the classifier reads at once.
BATCH = 256


def classifier_crops(ink: np.ndarray, instances: list[Instance]) -> np.ndarray:
    """(N, 2, side, side) classifier inputs of ``instances``, read from ``ink``, the image as
    light ink on dark (:func:`~digitseg.classifier.crops.classifier_input`)."""
    crops = [classifier_input(ink, instance.bbox, instance.mask) for instance in instances]
    return np.stack(crops) if crops else np.zeros((0, 2, CROP_SIDE, CROP_SIDE), np.float32)


def classifier_probabilities(classifier: nn.Module, crops: np.ndarray) -> np.ndarray:
    """(N, C) probabilities of the classifier (in eval mode) for each of ``crops``
    (:func:`classifier_crops`), read BATCH at a time: C is 10 digits, or 11 with "not a
    digit"."""
    if not len(crops):
        return np.zeros((0, classifier.head[-1].out_features), np.float32)
    device = next(classifier.parameters()).device
    probs = []
    with torch.inference_mode():
        for start in range(0, len(crops), BATCH):
            logits = classifier(torch.from_numpy(crops[start : start + BATCH]).to(device))
            probs.append(torch.softmax(logits.float(), dim=1).cpu().numpy())
    return np.concatenate(probs)


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

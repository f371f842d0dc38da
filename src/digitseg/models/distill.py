"""Keeping what a model knew while it is fine-tuned: the student's outputs pulled towards a
frozen teacher's (knowledge distillation) where the teacher reads right.

The teacher is a model file (usually the one the fine-tune started from, or an earlier
release); it never enters the student's checkpoint. Only pixels of generated canvases that
the teacher classifies right are pulled (:func:`taught_pixels`): real scans are left out,
where the teacher reads commas and dashes as digits, and so is whatever the teacher gets
wrong on generated canvases (a date's slash it reads as a 1), which the fine-tune is to
unlearn.
"""

import torch
import torch.nn.functional as F

from digitseg.classes import NUM_CLASSES
from digitseg.models.checkpoint import load_model


class Teacher:
    """A frozen net read from a model file, kept outside the student's modules (so outside
    its state dict, optimizer and checkpoints)."""

    def __init__(self, path: str) -> None:
        self.net, _ = load_model(path)
        self.net.requires_grad_(False)

    def to(self, device: torch.device) -> "Teacher":
        self.net.to(device)
        return self

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images)  # load_model's net is in eval mode; the trainer never sees it


def taught_pixels(
    teacher: torch.Tensor, mask: torch.Tensor, generated: torch.Tensor
) -> torch.Tensor:
    """(B, H, W) bool: the pixels of generated canvases (``generated`` (B,) bool) whose class
    the teacher's outputs (B, C, H, W) get right against ``mask`` (B, H, W)."""
    return (teacher[:, :NUM_CLASSES].argmax(dim=1) == mask) & generated[:, None, None]


def distillation_loss(
    student: torch.Tensor, teacher: torch.Tensor, keep: torch.Tensor
) -> torch.Tensor:
    """Mean over the ``keep`` pixels (B, H, W) bool of the KL divergence of the student's
    class distribution from the teacher's, plus, where both nets have the digit-core
    channel, the binary KL of their core probabilities.

    ``student`` and ``teacher`` are (B, C, H, W) raw outputs (11 classes, then the core
    channel if any). 0 where no pixel is kept.
    """
    if not keep.any():
        return student.sum() * 0.0
    student = student.float().permute(0, 2, 3, 1)[keep]  # (pixels, C)
    teacher = teacher.float().permute(0, 2, 3, 1)[keep]
    log_p = F.log_softmax(student[:, :NUM_CLASSES], dim=1)
    log_q = F.log_softmax(teacher[:, :NUM_CLASSES], dim=1)
    loss = (log_q.exp() * (log_q - log_p)).sum(dim=1).mean()
    if student.shape[1] > NUM_CLASSES and teacher.shape[1] > NUM_CLASSES:
        target = torch.sigmoid(teacher[:, NUM_CLASSES])
        core = F.binary_cross_entropy_with_logits(student[:, NUM_CLASSES], target)
        loss = loss + core - F.binary_cross_entropy(target, target)
    return loss

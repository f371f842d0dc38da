"""Distillation from a frozen teacher during fine-tunes."""

import torch
from hydra.utils import instantiate

from digitseg.classes import BACKGROUND, NUM_CLASSES
from digitseg.models.checkpoint import init_weights
from digitseg.models.distill import distillation_loss, taught_pixels
from digitseg.train import build_datamodule
from tests.helpers.config import compose_train
from tests.helpers.models import train_tiny_model


def test_distillation_loss_is_zero_at_the_teacher_and_reads_only_kept_pixels():
    torch.manual_seed(0)
    teacher = torch.randn(3, NUM_CLASSES + 1, 6, 8)
    keep = torch.zeros(3, 6, 8, dtype=torch.bool)
    keep[0], keep[2, :3] = True, True
    assert distillation_loss(teacher.clone(), teacher, keep).abs() < 1e-5

    student = teacher + torch.randn_like(teacher)
    loss = distillation_loss(student, teacher, keep)
    assert loss > 0.05
    other = student.clone()
    other[1] = torch.randn_like(other[1])  # a canvas left out
    other[2, :, 3:] = torch.randn_like(other[2, :, 3:])  # pixels left out
    assert torch.allclose(distillation_loss(other, teacher, keep), loss)
    assert distillation_loss(student, teacher, torch.zeros_like(keep)) == 0


def test_taught_pixels_are_those_of_generated_canvases_the_teacher_reads_right():
    teacher = torch.zeros(2, NUM_CLASSES, 1, 3)
    teacher[:, 7] = 1.0  # reads 7 everywhere
    mask = torch.tensor([[[7, 7, BACKGROUND]], [[7, 7, 7]]])
    generated = torch.tensor([True, False])
    assert taught_pixels(teacher, mask, generated).tolist() == [
        [[True, True, False]],
        [[False, False, False]],
    ]


def test_a_fine_tune_with_a_teacher_learns_towards_it_and_saves_none_of_it(tmp_path):
    teacher_file = train_tiny_model(tmp_path / "teacher.ckpt", steps=3)
    cfg = compose_train([f"+model.teacher={teacher_file}"], tmp_path)
    dm = build_datamodule(cfg)
    dm.setup()
    batch = dm.dataset("train").__getitems__(list(range(4)))
    assert batch["generated"].tolist() == [True] * 4

    model = instantiate(cfg.model)
    model.on_fit_start()
    model.train()
    first = model.compute_loss(batch)[1]["distill"]
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(5):
        optimizer.zero_grad()
        model.compute_loss(batch)[1]["distill"].backward()
        optimizer.step()
    assert model.compute_loss(batch)[1]["distill"] < first * 0.8

    init_weights(model.net, teacher_file)
    model.net.eval()  # the teacher's batch-norm statistics; the module still trains
    assert model.compute_loss(batch)[1]["distill"].abs() < 1e-3
    model.eval()
    assert "distill" not in model.compute_loss(batch)[1]
    assert not any("teacher" in key for key in model.state_dict())

"""``digitseg-train-classifier`` end to end on CPU, and its model file in the segmenter."""

import logging
import re

import numpy as np
import pytest
import torch

from digitseg import Segmenter
from digitseg.classifier import DigitClassifier, classifier_crops, classifier_probabilities
from digitseg.classifier.train import train_classifier
from digitseg.models.checkpoint import CheckpointError, load_model
from digitseg.postprocess import Instance
from tests.helpers.config import compose_app
from tests.helpers.scans import write_coco_set

TINY = [
    "canvases.numbers=24",
    "canvases.canvas=16",
    "val_canvases=8",
    "workers=1",
    "batch_size=16",
    "net.width=4",
    "trainer.max_epochs=1",
    "logger=csv",
    "callbacks.progress_bar=null",
    "extras.print_config=false",
]


def compose_classifier(out, *overrides: str):
    return compose_app("classifier", [*TINY, *overrides], out)


def test_training_exports_a_classifier_the_segmenter_uses(tiny_model, tmp_path, caplog):
    target = tmp_path / "models" / "classifier.ckpt"
    cfg = compose_classifier(tmp_path / "run", f"export.path={target}")
    metrics = train_classifier(cfg)
    assert 0.0 <= metrics["val/acc"] <= 1.0 and np.isfinite(metrics["train/loss"])
    assert (tmp_path / "run" / "digit_classifier.ckpt").is_file() and target.is_file()
    assert list((tmp_path / "run").glob("csv/version_*/metrics.csv"))

    segmenter = Segmenter.from_checkpoint(tiny_model, device="cpu", classifier=target)
    assert isinstance(segmenter.classifier, DigitClassifier) and not segmenter.classifier.training
    ink = np.zeros((28, 28), np.uint8)
    ink[6:22, 12:16] = 255
    digit = Instance(1, 1.0, (12, 6, 16, 22), 64, np.ones((16, 4), bool))
    (probs,) = classifier_probabilities(segmenter.classifier, classifier_crops(ink, [digit]))
    assert probs.shape == (10,) and probs.sum() == pytest.approx(1.0, rel=1e-5)
    with pytest.raises(CheckpointError, match="a digit classifier, not a segmenter"):
        Segmenter.from_checkpoint(target, classifier=target)

    written = target.read_bytes()
    again = compose_classifier(tmp_path / "run2", f"export.path={target}", "seed=7")
    with caplog.at_level(logging.WARNING):
        train_classifier(again)
    assert target.read_bytes() == written and "export.overwrite=true" in caplog.text
    replaced = compose_classifier(
        tmp_path / "run3", f"export.path={target}", "seed=7", "export.overwrite=true"
    )
    train_classifier(replaced)
    assert target.read_bytes() != written


def test_training_without_a_logger(tmp_path):
    cfg = compose_classifier(tmp_path, "logger=none", "export.path=null")
    assert 0.0 <= train_classifier(cfg)["val/acc"] <= 1.0  # no LearningRateMonitor to refuse
    assert (tmp_path / "digit_classifier.ckpt").is_file() and not list(tmp_path.glob("csv"))


def test_fine_tuning_starts_from_a_classifier_and_reads_the_segmenters_digits(
    tiny_model, tmp_path, caplog
):
    start = tmp_path / "start.ckpt"
    with caplog.at_level(logging.INFO):
        train_classifier(compose_classifier(tmp_path / "run", f"export.path={start}"))
    true_crops = _train_crops(caplog.text)
    caplog.clear()
    tuned = tmp_path / "tuned.ckpt"
    cfg = compose_classifier(
        tmp_path / "run2",
        f"export.path={tuned}",
        f"init_weights={start}",
        f"segmenter={tiny_model}",
        "lr=0",  # the weights stay where they started
    )
    with caplog.at_level(logging.INFO):
        train_classifier(cfg)
    assert f"net initialised from {start}" in caplog.text
    assert _train_crops(caplog.text) > true_crops  # the segmenter's digits added theirs
    before, after = load_model(start)[0], load_model(tuned)[0]
    for (name, weight), (_, tuned_weight) in zip(
        before.named_parameters(), after.named_parameters(), strict=True
    ):
        torch.testing.assert_close(tuned_weight, weight, msg=name)

    with pytest.raises(CheckpointError, match="weights do not fit"):  # before any crops
        train_classifier(compose_classifier(tmp_path / "run3", f"init_weights={tiny_model}"))
    with pytest.raises(CheckpointError, match="a digit classifier, not a segmenter"):
        train_classifier(compose_classifier(tmp_path / "run4", f"segmenter={start}"))


def _train_crops(log_text: str) -> int:
    return int(re.search(r"train: (\d+) crops", log_text).group(1))


def test_the_classifier_config_draws_crops_from_both_presets(tmp_path):
    cfg = compose_classifier(tmp_path)
    assert set(cfg.canvases) == {"numbers", "canvas"}  # scans: +canvases.scans=N
    assert set(cfg.sources) == {"numbers", "canvas", "scans"}
    assert cfg.sources.numbers.spec.layout == "line" and cfg.sources.canvas.spec.height == 64
    assert cfg.sources.numbers.seed != cfg.sources.canvas.seed


def test_scans_and_a_segmenter_teach_an_eleven_class_classifier(tiny_model, tmp_path):
    images = write_coco_set(tmp_path / "set")
    cfg = compose_classifier(
        tmp_path / "run",
        "export.path=null",
        "+canvases.scans=6",
        f"sources.scans.scans.folder={images}",
        f"segmenter={tiny_model}",
        "net.classes=11",
    )
    train_classifier(cfg)
    net, payload = load_model(tmp_path / "run" / "digit_classifier.ckpt")
    assert net.head[-1].out_features == 11 and payload["config"]["net"]["classes"] == 11
    segmenter = Segmenter.from_checkpoint(
        tiny_model, device="cpu", classifier=tmp_path / "run" / "digit_classifier.ckpt"
    )
    assert all(0 <= d.label <= 9 for d in segmenter.run(np.zeros((48, 96), np.uint8)).instances)

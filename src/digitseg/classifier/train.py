"""``digitseg-train-classifier`` / ``make train-classifier``: train the digit classifier.

    digitseg-train-classifier canvases.numbers=6000 trainer.max_epochs=2

Crops of the true digits of each ``sources`` preset's train canvases (``canvases`` of each)
train it; the same of their val canvases measure it. A source with a ``scans`` node is made
of real scans labelled in COCO (``sources.scans``: the train part of ``paths.scans_dir``;
its val canvases come from the val part). With ``segmenter`` (a segmenter model file, read
with the ``reading`` preset), the digits it finds on the same canvases give crops too,
labelled with the true digit they match, and with ``net.classes=11`` what matches no digit
is "not a digit" (commas, dashes, slashes, strokes of a digit read as another);
``init_weights`` starts from a classifier model file (a 10-class one gives an 11-class net
all but the new class's weights). The two together fine-tune a classifier on the
segmenter's own masks:

    digitseg-train-classifier init_weights=models/digit_classifier.ckpt \
        segmenter=models/digit_segmenter.ckpt canvases.numbers=7000 canvases.canvas=5000 \
        trainer.max_epochs=2 lr=0.0005 export.overwrite=true

The model file goes to the run folder and to ``export.path``
(``models/digit_classifier.ckpt``), which the segmenter reads.
"""

import logging
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import hydra
import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import DataLoader, TensorDataset

from digitseg.classes import NUM_DIGITS
from digitseg.classifier.data import render_crops
from digitseg.classifier.net import DigitClassifier
from digitseg.data.sources import build_source_generator
from digitseg.data.transforms import build_augment
from digitseg.inference.segmenter import Segmenter
from digitseg.inference.settings import read_settings
from digitseg.models.checkpoint import (
    CheckpointError,
    export_model,
    load_model,
    save_model,
)
from digitseg.utils.config import (
    CONF_DIR,
    apply_extras,
    instantiate_callbacks,
    instantiate_dict,
)
from digitseg.utils.loggers import close_loggers

log = logging.getLogger(__name__)
# Canvases one rendering job draws crops from.
JOB_CANVASES = 2000


class ClassifierModule(L.LightningModule):
    """Cross-entropy with label smoothing, AdamW and a one-cycle learning rate."""

    def __init__(self, net: torch.nn.Module, lr: float, weight_decay: float, smoothing: float):
        super().__init__()
        self.net, self.lr, self.weight_decay, self.smoothing = net, lr, weight_decay, smoothing

    def training_step(self, batch, _):
        crops, digits = batch
        logits = self.net(_shifted(crops.float() / 255))
        loss = F.cross_entropy(logits, digits.long(), label_smoothing=self.smoothing)
        self.log("train/loss", loss, prog_bar=True)
        self.log("train/acc", (logits.argmax(1) == digits).float().mean(), prog_bar=True)
        return loss

    def validation_step(self, batch, _):
        crops, digits = batch
        logits = self.net(crops.float() / 255)
        self.log("val/acc", (logits.argmax(1) == digits).float().mean(), prog_bar=True)

    def configure_optimizers(self):
        optimizer = torch.optim.AdamW(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        steps = int(self.trainer.estimated_stepping_batches)
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, self.lr, total_steps=steps)
        return [optimizer], [{"scheduler": schedule, "interval": "step"}]


def _shifted(crops: torch.Tensor, most: int = 2) -> torch.Tensor:
    """The batch rolled by up to ``most`` px in x and y (one random shift for all; the
    crops' borders are mostly dark, so what wraps round is too)."""
    dy, dx = torch.randint(-most, most + 1, (2,)).tolist()
    return torch.roll(crops, (dy, dx), dims=(2, 3))


def crop_dataset(cfg: DictConfig, split: str, counts: dict[str, int]) -> TensorDataset:
    """Crops of canvases ``0..counts[name]-1`` of ``split`` of each source preset (and of the
    digits ``cfg.segmenter`` finds there), rendered in parallel jobs of ``JOB_CANVASES``
    canvases."""
    if sum(counts.values()) < 1:
        raise ValueError(f"no {split} canvases to cut crops from: give canvases > 0")
    jobs = [
        (
            cfg.sources[name],
            cfg.paths,
            split,
            range(start, min(start + JOB_CANVASES, count)),
            cfg.segmenter,
            cfg.reading,
            cfg.net.get("classes", NUM_DIGITS) > NUM_DIGITS,
        )
        for name, count in counts.items()
        for start in range(0, count, JOB_CANVASES)
    ]
    with ProcessPoolExecutor(cfg.workers) as pool:
        parts = list(pool.map(_render_job, *zip(*jobs, strict=True)))
    crops = np.concatenate([part[0] for part in parts])
    digits = np.concatenate([part[1] for part in parts])
    log.info("%s: %d crops from %d canvases", split, len(digits), sum(counts.values()))
    return TensorDataset(torch.from_numpy(crops), torch.from_numpy(digits.astype(np.int64)))


def _render_job(
    data_cfg, paths_cfg, split: str, indices: range, segmenter_path, reading_cfg, not_digits
):
    augment = build_augment(data_cfg.get("augment")) if split == "train" else None
    segmenter = None
    if segmenter_path is not None:
        torch.set_num_threads(1)  # one per job: the jobs run side by side
        settings = read_settings(reading_cfg)
        segmenter = Segmenter.from_checkpoint(segmenter_path, device="cpu", settings=settings)
    generator = build_source_generator(data_cfg, paths_cfg, split)
    return render_crops(generator, split, indices, augment, segmenter, not_digits=not_digits)


def train_classifier(cfg: DictConfig) -> dict[str, float]:
    """Render the crops, fit the classifier, export it; returns the final metrics."""
    apply_extras(cfg, first=("sources", "canvases", "net"))
    L.seed_everything(cfg.seed, workers=True)
    net = instantiate(cfg.net)
    if cfg.init_weights:  # before the crops, so that a wrong file fails at once
        init_classifier(net, cfg.init_weights)
        log.info("net initialised from %s", cfg.init_weights)
    train_set = crop_dataset(cfg, "train", dict(cfg.canvases))
    val_set = crop_dataset(cfg, "val", {name: cfg.val_canvases for name in cfg.canvases})
    module = ClassifierModule(net, cfg.lr, cfg.weight_decay, cfg.label_smoothing)
    loggers = instantiate_dict(cfg.logger)
    callbacks = instantiate_callbacks(cfg.callbacks, loggers)
    trainer: L.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    train_loader = DataLoader(train_set, cfg.batch_size, shuffle=True, drop_last=True)
    val_loader = DataLoader(val_set, 1024)
    try:
        trainer.fit(module, train_loader, val_loader)
    finally:
        close_loggers(trainer.loggers)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    _export(cfg, net, metrics)
    return metrics


def init_classifier(net: DigitClassifier, path: str | Path) -> None:
    """Start ``net`` from a classifier model file; a 10-class file starts an 11-class net
    too, its digits' rows of the last layer copied and the "not a digit" row left new."""
    stored, _ = load_model(path)
    if not isinstance(stored, DigitClassifier):
        raise CheckpointError(
            f"{path}: weights do not fit the configured net: it holds a "
            f"{type(stored).__name__}, not a digit classifier"
        )
    ours, theirs = net.head[-1].out_features, stored.head[-1].out_features
    if theirs != ours and (theirs, ours) != (NUM_DIGITS, NUM_DIGITS + 1):
        raise CheckpointError(
            f"{path} has {theirs} classes; a {ours}-class net cannot start from it"
        )
    state = stored.state_dict()
    if theirs != ours:  # the digits' rows from the file, the "not a digit" row new
        last = f"head.{len(net.head) - 1}"
        for name in ("weight", "bias"):
            grown = getattr(net.head[-1], name).detach().clone()
            grown[:NUM_DIGITS] = state[f"{last}.{name}"]
            state[f"{last}.{name}"] = grown
    try:
        net.load_state_dict(state)
    except RuntimeError as error:
        raise CheckpointError(f"{path}: weights do not fit the configured net: {error}") from error


def _export(cfg: DictConfig, net: torch.nn.Module, metrics: dict[str, float]) -> None:
    """The model file in the run folder and at ``export.path``."""
    config = OmegaConf.to_container(cfg, resolve=True)
    config["model"] = {"net": config["net"]}  # where load_model finds the net's config
    local = save_model(Path(cfg.paths.output_dir, "digit_classifier.ckpt"), net, config, metrics)
    log.info("model file: %s (val/acc %.4f)", local, metrics.get("val/acc", float("nan")))
    export_model(cfg.export, local, net, config, metrics)


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="classifier")
def main(cfg: DictConfig) -> None:
    """Hydra entry point."""
    train_classifier(cfg)

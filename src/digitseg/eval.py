"""``digitseg-eval`` / ``make eval``: score a model file and write a report folder.

    digitseg-eval checkpoint=models/digit_segmenter.ckpt data=numbers
    digitseg-eval source=folder folder=data/generated/canvas/test logger=wandb
    digitseg-eval source=m2nist folder=path/to/m2nist
    digitseg-eval source=coco folder=path/to/images annotations=path/to/coco.json part=all
    digitseg-eval source=coco enlarge=3 rotate=12     # the scans as a finer, tilted photo

Canvases come from a preset's split (``source=preset``, rendered on the fly: the canvases
``digitseg-generate`` writes), a ``digitseg-generate`` folder or M2NIST's arrays (see
:mod:`digitseg.reports.inputs`). They are read ``batch_size`` at a time by
:meth:`digitseg.Segmenter.run_batch` (the same readings as one at a time) with the reading
preset ``reading`` (:mod:`digitseg.inference.settings`): by default ``document``,
exactly as ``digitseg-segment`` reads; ``reading=canvas`` reads generated canvases as they
are (digits at the training size, level, every digit kept: each has its own MNIST writer).
The report names the preset and lands in the Hydra run folder (``outputs/eval/<time>/``;
see :mod:`digitseg.reports.writing`).

``source=coco`` reads real scans labelled with a box per digit (by default the validation part
of ``paths.scans_dir``: :mod:`digitseg.data.coco_scans`) and scores the readings against the
boxes (:mod:`digitseg.evaluation.scans`), into the report of
:mod:`digitseg.evaluation.scan_report`; ``enlarge`` and ``rotate`` read them as a photo
that many times finer and tilted that many degrees would show them
(:mod:`digitseg.evaluation.photo`).
"""

import logging
from collections.abc import Iterable, Iterator
from pathlib import Path

import hydra
from omegaconf import DictConfig
from tqdm import tqdm

from digitseg.data.coco_scans import CocoScansError, open_coco_scans
from digitseg.evaluation.photo import as_photographed
from digitseg.evaluation.scan_report import scans_source, write_scan_report
from digitseg.evaluation.scans import ScanEvaluation
from digitseg.inference import Segmenter
from digitseg.inference.settings import SettingsError, read_settings
from digitseg.models.checkpoint import CheckpointError
from digitseg.reports.evaluation import Evaluation
from digitseg.reports.inputs import open_source
from digitseg.reports.writing import log_report, write_report
from digitseg.utils.batches import batched
from digitseg.utils.config import CONF_DIR, apply_extras, instantiate_dict

log = logging.getLogger(__name__)


def evaluate(cfg: DictConfig) -> dict:
    """Evaluate ``cfg.checkpoint`` on the configured canvases; returns ``metrics.json``'s dict."""
    apply_extras(cfg, first=("checkpoint", "source", "data"))
    if cfg.worst_k < 1:
        raise ValueError(f"worst_k must be >= 1, got {cfg.worst_k}")
    if cfg.batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {cfg.batch_size}")
    if not cfg.enlarge > 0:
        raise ValueError(f"enlarge must be > 0 (1: the scans as they are), got {cfg.enlarge}")
    if cfg.source != "coco" and (cfg.enlarge != 1 or cfg.rotate != 0):
        raise ValueError(
            f"enlarge and rotate read labelled scans as a photo shows them: give them with "
            f"source=coco, not source={cfg.source}"
        )
    settings = read_settings(cfg.reading)
    segmenter = Segmenter.from_checkpoint(
        cfg.checkpoint, device=cfg.device, settings=settings, classifier=cfg.classifier
    )
    if cfg.source == "coco":
        return evaluate_scans(cfg, segmenter)
    source = open_source(cfg)
    if source.count < 1:
        raise ValueError("nothing to evaluate: count must be >= 1")
    evaluation = Evaluation(cfg.worst_k, cfg.height_bins, cfg.iou_threshold)
    readings = read_in_batches(segmenter, source.items, cfg.batch_size)
    device = segmenter.backend.device
    for item, result in tqdm(
        readings, total=source.count, desc=f"evaluating ({device})", unit="canvas"
    ):
        evaluation.add(item, result)
    metrics = {
        "model": model_info(cfg.checkpoint, segmenter.config),
        "source": source.info | reading_info(cfg, segmenter),
        **evaluation.results(),
    }
    out_dir = Path(cfg.paths.output_dir)
    pictures = write_report(out_dir, metrics, evaluation)
    prefix = cfg.split if cfg.source == "preset" else "eval"
    log_report(instantiate_dict(cfg.logger), evaluation, metrics, pictures, prefix)
    pixel, instance = metrics["pixel"], metrics["instance"]
    log.info(
        "mean IoU (digits) %.4f | instance F1 %.4f | exact match %.4f | CER %.4f (%s reading)",
        pixel["miou_digits"],
        instance["f1"],
        instance["exact_match"],
        instance["cer"],
        segmenter.settings.name,
    )
    log.info("report: %s", out_dir)
    return metrics


def evaluate_scans(cfg: DictConfig, segmenter: Segmenter) -> dict:
    """Read the scans of ``cfg.folder`` (default ``paths.scans_dir``/images), as a photo
    ``cfg.enlarge`` times finer and tilted ``cfg.rotate`` degrees shows them, and score them
    against the boxes of ``cfg.annotations``; returns ``metrics.json``'s dict."""
    folder = cfg.folder or Path(cfg.paths.scans_dir) / "images"
    scans = open_coco_scans(folder, cfg.annotations, cfg.part)
    count = len(scans) if cfg.count is None else min(int(cfg.count), len(scans))
    evaluation = ScanEvaluation(cfg.worst_k, cfg.iou_threshold)
    items = (as_photographed(scans.scan(k), cfg.enlarge, cfg.rotate) for k in range(count))
    readings = read_in_batches(segmenter, items, cfg.batch_size)
    device = segmenter.backend.device
    for scan, result in tqdm(readings, total=count, desc=f"reading scans ({device})", unit="image"):
        evaluation.add(scan, result)
    source = scans_source("coco", scans, cfg.part, count, cfg.enlarge, cfg.rotate)
    metrics = {
        "model": model_info(cfg.checkpoint, segmenter.config),
        "source": source | reading_info(cfg, segmenter),
        **evaluation.results(),
    }
    out_dir = Path(cfg.paths.output_dir)
    write_scan_report(out_dir, metrics, evaluation)
    headline = metrics["instances"]
    log.info(
        "exact match %.4f | CER %.4f | instance F1 %.4f | ECE %.4f (%s reading)",
        headline["exact_match"],
        headline["cer"],
        headline["f1"],
        metrics["calibration"]["ece"],
        segmenter.settings.name,
    )
    log.info("report: %s", out_dir)
    return metrics


def read_in_batches(segmenter: Segmenter, items: Iterable, batch_size: int) -> Iterator[tuple]:
    """Each of ``items`` (canvases or scans: each has an ``image``) with its reading, the
    images read ``batch_size`` at a time."""
    for batch in batched(items, batch_size):
        results = segmenter.run_batch([item.image for item in batch])
        yield from zip(batch, results, strict=True)


def reading_info(cfg: DictConfig, segmenter: Segmenter) -> dict:
    """How the images were read, as the report records it: the preset's name (``reading``)
    and settings, the classifier and the matching threshold."""
    return segmenter.settings.record() | {
        "classifier": cfg.classifier,
        "iou_threshold": cfg.iou_threshold,
    }


def model_info(checkpoint, config: dict) -> dict:
    """What the report says about the model: its file, training preset and net."""
    net = config["model"]["net"]
    return {
        "checkpoint": str(checkpoint),
        "trained_on": config["data"].get("name"),
        "net": " ".join(str(net[k]) for k in ("arch", "encoder_name") if net.get(k)),
    }


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="eval")
def main(cfg: DictConfig) -> None:
    """Hydra entry point; a missing model file or input folder, or a reading setting out of
    range, is a one-line error."""
    try:
        evaluate(cfg)
    except (CheckpointError, CocoScansError, FileNotFoundError, SettingsError) as error:
        raise SystemExit(f"digitseg-eval: error: {error}") from error


if __name__ == "__main__":
    main()

"""``digitseg-eval`` / ``make eval``: score a model file and write a report folder.

    digitseg-eval checkpoint=models/digit_segmenter.ckpt data=numbers
    digitseg-eval source=folder folder=data/generated/canvas/test logger=wandb
    digitseg-eval source=m2nist folder=path/to/m2nist

Canvases come from a preset's split (``source=preset``, rendered on the fly: the canvases
``digitseg-generate`` writes), a ``digitseg-generate`` folder or M2NIST's arrays (see
:mod:`digitseg.reports.inputs`). Each goes through :meth:`digitseg.Segmenter.run`, the
post-processing of ``digitseg-segment``, with ``scale=1.0``: generated digits are at the
size the model trained on, and estimating the scale would only add noise (``scale=null``
estimates it, as ``digitseg-segment`` does; so do ``slant=null`` and ``rotation=null``,
whose defaults read canvases as they are) and ``drop_marks=false``: each generated digit
has its own MNIST writer, and many 1s lean far more than their neighbours, which
``digitseg-segment`` would take for a date's slashes, and scattered digits lie at any
height, where it would take some for commas. The report lands in the Hydra run folder
(``outputs/eval/<time>/``; see :mod:`digitseg.reports.writing`).
"""

import logging
from pathlib import Path

import hydra
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, open_dict
from tqdm import tqdm

from digitseg.inference import Segmenter
from digitseg.models.checkpoint import CheckpointError
from digitseg.reports.evaluation import Evaluation
from digitseg.reports.inputs import open_source
from digitseg.reports.writing import log_report, write_report
from digitseg.utils.config import CONF_DIR, apply_extras, instantiate_dict

log = logging.getLogger(__name__)
REPO_ROOT = Path(CONF_DIR).parent


def evaluate(cfg: DictConfig) -> dict:
    """Evaluate ``cfg.checkpoint`` on the configured canvases; returns ``metrics.json``'s dict."""
    apply_extras(cfg, first=("checkpoint", "source", "data"))
    if cfg.worst_k < 1:
        raise ValueError(f"worst_k must be >= 1, got {cfg.worst_k}")
    segmenter = Segmenter.from_checkpoint(
        cfg.checkpoint, device=cfg.device, zooms=cfg.zooms, classifier=cfg.classifier
    )
    source = open_source(cfg)
    if source.count < 1:
        raise ValueError("nothing to evaluate: count must be >= 1")
    evaluation = Evaluation(cfg.worst_k, cfg.height_bins, cfg.iou_threshold)
    device = segmenter.backend.device
    for item in tqdm(
        source.items, total=source.count, desc=f"evaluating ({device})", unit="canvas"
    ):
        result = segmenter.run(
            item.image, cfg.polarity, cfg.scale, cfg.slant, cfg.rotation, cfg.drop_marks
        )
        evaluation.add(item, result)

    recorded = (
        "scale",
        "slant",
        "rotation",
        "drop_marks",
        "polarity",
        "iou_threshold",
        "classifier",
    )
    settings = {k: cfg[k] for k in recorded}
    settings["zooms"] = list(segmenter.zooms)
    metrics = {
        "model": model_info(cfg.checkpoint, segmenter.config),
        "source": source.info | settings,
        **evaluation.results(),
    }
    out_dir = Path(cfg.paths.output_dir)
    pictures = write_report(out_dir, metrics, evaluation)
    prefix = cfg.split if cfg.source == "preset" else "eval"
    log_report(instantiate_dict(cfg.logger), evaluation, metrics, pictures, prefix)
    pixel, instance = metrics["pixel"], metrics["instance"]
    log.info(
        "mean IoU (digits) %.4f | instance F1 %.4f | exact match %.4f | CER %.4f",
        pixel["miou_digits"],
        instance["f1"],
        instance["exact_match"],
        instance["cer"],
    )
    log.info("report: %s", out_dir)
    return metrics


def model_info(checkpoint, config: dict) -> dict:
    """What the report says about the model: its file, training preset and net."""
    net = config["model"]["net"]
    return {
        "checkpoint": str(checkpoint),
        "trained_on": config["data"].get("name"),
        "net": " ".join(str(net[k]) for k in ("arch", "encoder_name") if net.get(k)),
    }


def compose_eval(overrides=(), output_dir: str | Path | None = None) -> DictConfig:
    """The config ``digitseg-eval`` composes, outside a Hydra run (tests, notebooks).

    Paths are relative to the repository root, whatever the working folder; ``output_dir``
    is the report folder (a run gets Hydra's).
    """
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=CONF_DIR):
        cfg = compose("eval", overrides=[f"paths.root_dir={REPO_ROOT}", *overrides])
    if output_dir is not None:
        with open_dict(cfg):
            cfg.paths.output_dir = str(output_dir)
    return cfg


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="eval")
def main(cfg: DictConfig) -> None:
    """Hydra entry point; a missing model file or input folder is a one-line error."""
    try:
        evaluate(cfg)
    except (CheckpointError, FileNotFoundError) as error:
        raise SystemExit(f"digitseg-eval: error: {error}") from error


if __name__ == "__main__":
    main()

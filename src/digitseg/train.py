"""``digitseg-train`` / ``make train``: train a segmenter on generated canvases.

    digitseg-train model=fcn8 trainer.max_epochs=3 data=canvas logger=csv

Each run gets a Hydra folder (``outputs/train/runs/<time>``) with the config, logs,
checkpoints and pictures. The best model is also written to ``models/digit_segmenter.ckpt``
(``export.path``) with the resolved config inside, so inference needs nothing else.
"""

import logging
import warnings
from pathlib import Path

import hydra
import lightning as L
import torch
from hydra.utils import instantiate
from lightning.pytorch.callbacks import LearningRateMonitor
from omegaconf import DictConfig, OmegaConf

from digitseg.models.checkpoint import save_model
from digitseg.utils.config import CONF_DIR, instantiate_dict, print_config_tree

log = logging.getLogger(__name__)


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit (and test) the configured model; returns the logged metrics as floats."""
    if cfg.extras.get("ignore_warnings"):
        warnings.filterwarnings("ignore")
    if cfg.extras.get("print_config"):
        print_config_tree(cfg, cfg.paths.output_dir)
    L.seed_everything(cfg.seed, workers=True)

    datamodule = instantiate(
        cfg.data, in_channels=cfg.model.net.in_channels, paths=cfg.paths, _convert_="all"
    )
    model = instantiate(cfg.model)
    model.config = OmegaConf.to_container(cfg, resolve=True)
    loggers = instantiate_dict(cfg.logger)
    # The learning-rate monitor needs a logger to write to.
    callbacks = [
        c
        for c in instantiate_dict(cfg.callbacks)
        if loggers or not isinstance(c, LearningRateMonitor)
    ]
    trainer: L.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    for logger in trainer.loggers:
        logger.log_hyperparams(model.config)

    try:
        if cfg.train:
            trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.ckpt_path)
            _export_best(cfg, trainer, model)
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
        if cfg.test:
            best = getattr(trainer.checkpoint_callback, "best_model_path", "") or None
            trainer.test(model, datamodule=datamodule, ckpt_path=best if cfg.train else None)
            metrics.update({k: float(v) for k, v in trainer.callback_metrics.items()})
    finally:
        _close_loggers(trainer)
    return metrics


def _export_best(cfg: DictConfig, trainer: L.Trainer, model) -> None:
    """Write the best weights as a model file in the run folder and at ``export.path``."""
    if not trainer.is_global_zero:
        return
    best = getattr(trainer.checkpoint_callback, "best_model_path", "")
    if best:
        model.load_state_dict(torch.load(best, map_location="cpu", weights_only=True)["state_dict"])
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1}
    local = save_model(
        Path(cfg.paths.output_dir, "digit_segmenter.ckpt"), model.net, model.config, metrics
    )
    log.info("model file: %s", local)
    target = cfg.export.path
    if target is None:
        return
    if Path(target).exists() and not cfg.export.overwrite:
        log.warning(
            "%s exists and was left unchanged; the new model is %s "
            "(pass export.overwrite=true to replace it)",
            target,
            local,
        )
        return
    save_model(target, model.net, model.config, metrics)
    log.info("model exported to %s", target)


def _close_loggers(trainer: L.Trainer) -> None:
    """Finish the W&B run even when training failed, so one failed job never blocks a multirun."""
    for logger in trainer.loggers:
        logger.finalize("success")
    if any(type(logger).__name__ == "WandbLogger" for logger in trainer.loggers):
        import wandb

        wandb.finish()


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="train")
def main(cfg: DictConfig) -> float | None:
    """Hydra entry point; returns ``optimized_metric`` for sweepers."""
    metrics = train(cfg)
    return metrics.get(cfg.get("optimized_metric"))


if __name__ == "__main__":
    main()

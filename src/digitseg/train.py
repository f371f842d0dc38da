"""``digitseg-train`` / ``make train``: train a segmenter on generated canvases.

    digitseg-train model=fcn8 trainer.max_epochs=3 data=canvas logger=csv

Each run gets a Hydra folder (``outputs/train/runs/<run_name>``) with the config, logs,
checkpoints, pictures and the final metrics (``metrics.json``); ``resume=auto`` continues the
run found there (:mod:`digitseg.utils.resume`). The best model is also written to
``models/digit_segmenter.ckpt`` (``export.path``) with the resolved config inside, so
inference needs nothing else.
"""

import json
import logging
import signal
from pathlib import Path

import hydra
import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import DictConfig, OmegaConf, open_dict

from digitseg.models.checkpoint import export_model, init_weights, save_model
from digitseg.utils.config import (
    CONF_DIR,
    apply_extras,
    instantiate_callbacks,
    instantiate_dict,
)
from digitseg.utils.loggers import close_loggers
from digitseg.utils.resume import keep_wandb_id, start_checkpoint

log = logging.getLogger(__name__)


def build_datamodule(cfg: DictConfig) -> L.LightningDataModule:
    """``cfg.data``'s data module, fitted to ``cfg.model``: its input channels, and contact
    maps in the batches when the loss weighs them (``model.loss.contact_weight``)."""
    return instantiate(
        cfg.data,
        in_channels=cfg.model.net.in_channels,
        contacts=cfg.model.loss.get("contact_weight", 0) > 0,
        paths=cfg.paths,
        _convert_="all",
    )


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit (and test) the configured model; returns the logged metrics as floats."""
    keep_wandb_id(cfg)
    apply_extras(cfg)
    L.seed_everything(cfg.seed, workers=True)
    ckpt_path = start_checkpoint(cfg)

    datamodule = build_datamodule(cfg)
    model = instantiate(cfg.model)
    if not cfg.model.get("compile"):  # counting FLOPs would compile the net once more
        model.example_input_array = _blank_canvas(cfg)
    if cfg.get("init_weights"):
        init_weights(model.net, cfg.init_weights)
        log.info("net initialised from %s", cfg.init_weights)
    model.config = OmegaConf.to_container(cfg, resolve=True)
    loggers = instantiate_dict(cfg.logger)
    callbacks = instantiate_callbacks(cfg.callbacks, loggers)
    trainer: L.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    for logger in trainer.loggers:
        logger.log_hyperparams(model.config)

    try:
        if cfg.train:
            trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)
            _export_best(cfg, trainer, model)
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
        if cfg.test:
            best = getattr(trainer.checkpoint_callback, "best_model_path", "") or None
            trainer.test(model, datamodule=datamodule, ckpt_path=best if cfg.train else None)
            metrics.update({k: float(v) for k, v in trainer.callback_metrics.items()})
        if trainer.is_global_zero:
            _write_metrics(Path(cfg.paths.output_dir, "metrics.json"), metrics)
    finally:
        close_loggers(trainer.loggers)
    return metrics


def _blank_canvas(cfg: DictConfig) -> torch.Tensor:
    """One blank canvas of the data's size: the model summary counts the net's FLOPs on it."""
    return torch.zeros(1, cfg.model.net.in_channels, cfg.data.spec.height, cfg.data.spec.width)


def _write_metrics(path: Path, metrics: dict[str, float]) -> None:
    """The final metrics as JSON in the run folder, for summaries of a multirun."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(metrics, indent=1, sort_keys=True))


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
    export_model(cfg.export, local, model.net, model.config, metrics)


def _prepare_sweep_job(cfg: DictConfig) -> None:
    """Refuse DDP inside a multirun; group a sweep's W&B runs, each named by its overrides."""
    trainer = cfg.trainer
    devices, nodes = trainer.get("devices"), trainer.get("num_nodes", 1)
    if "ddp" in str(trainer.get("strategy")) and (devices != 1 or nodes != 1):
        raise ValueError(
            f"trainer.strategy={trainer.strategy} with trainer.devices={devices} and "
            f"trainer.num_nodes={nodes} cannot run inside a multirun (-m): a sweep runs one "
            "process and one GPU per job. Sweep with trainer=gpu or trainer=cpu; run DDP "
            "without -m, one job at a time (trainer=ddp, scripts/slurm_ddp.sbatch)."
        )
    wandb = (cfg.get("logger") or {}).get("wandb")
    if wandb:
        hydra_cfg = HydraConfig.get()
        with open_dict(cfg):
            wandb.group = wandb.get("group") or Path(hydra_cfg.sweep.dir).name
            wandb.name = wandb.get("name") or hydra_cfg.job.override_dirname or None


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="train")
def main(cfg: DictConfig) -> float | None:
    """Hydra entry point; returns ``optimized_metric`` for sweepers."""
    if HydraConfig.get().mode == RunMode.MULTIRUN:
        _prepare_sweep_job(cfg)
    try:
        metrics = train(cfg)
    except SIGTERMException as stopped:  # Lightning's exit code would be 0: the run did not end
        raise SystemExit(128 + signal.SIGTERM) from stopped
    return metrics.get(cfg.get("optimized_metric"))


if __name__ == "__main__":
    main()

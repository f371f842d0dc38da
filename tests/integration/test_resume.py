"""resume=auto: a run killed part-way continues in its folder and ends as if never stopped."""

import logging
import os
import signal

import lightning as L
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.utils import instantiate
from lightning.fabric.plugins.environments import SLURMEnvironment
from omegaconf import OmegaConf

from digitseg.train import train
from digitseg.utils.config import CONF_DIR
from digitseg.utils.resume import (
    WANDB_ID_FILE,
    find_checkpoint,
    keep_wandb_id,
    slurm_plugins,
    slurm_run_name,
    start_checkpoint,
)
from tests.helpers.config import compose_train
from tests.integration.test_sweeps import digitseg_train

RUN = ["trainer.max_epochs=2", "trainer.deterministic=true", "resume=auto"]
SLURM_VARS = ("SLURM_JOB_ID", "SLURM_JOB_NAME", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID")


class SigtermAtEpoch(L.Callback):
    """Send this process SIGTERM as epoch ``epoch`` starts, as SLURM does to a pre-empted job."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.current_epoch == self.epoch:
            os.kill(os.getpid(), signal.SIGTERM)


def test_killed_run_resumes_to_the_same_weights_metrics_and_wandb_run(
    tmp_path, monkeypatch, caplog
):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    reference = train(compose_train(RUN, tmp_path / "reference"))
    kill = [
        "+callbacks.kill._target_=tests.integration.test_resume.SigtermAtEpoch",
        "+callbacks.kill.epoch=1",
    ]
    killed = digitseg_train(*RUN, "logger=wandb", "run_name=killed", *kill, cwd=tmp_path)
    assert killed.returncode == 128 + signal.SIGTERM, killed.stderr[-3000:]
    run_dir = tmp_path / "outputs" / "train" / "runs" / "killed"
    assert torch.load(run_dir / "checkpoints/last.ckpt", weights_only=True)["epoch"] == 0

    with caplog.at_level(logging.INFO):
        resumed = train(compose_train([*RUN, "logger=wandb"], run_dir))  # the requeued job
    assert f"resuming from {run_dir}/checkpoints/last.ckpt" in caplog.text
    assert "Restored all states from the checkpoint" in caplog.text  # Lightning's word
    for name in ("val/miou_digits", "val/miou_digits_best", "val/loss", "train/loss"):
        assert resumed[name] == reference[name], name
    final, expected = (
        torch.load(d / "checkpoints/last.ckpt", weights_only=True)["state_dict"]
        for d in (run_dir, tmp_path / "reference")
    )
    assert all(torch.equal(final[k], expected[k]) for k in expected)
    run_id = (run_dir / WANDB_ID_FILE).read_text().strip()
    assert len(list(run_dir.glob(f"wandb/offline-run-*-{run_id}*"))) == 2


def test_best_value_survives_a_checkpoint(tmp_path):
    cfg = compose_train([], tmp_path)
    module = instantiate(cfg.model)
    module.best_val.update(0.7)
    checkpoint = {}
    module.on_save_checkpoint(checkpoint)
    fresh = instantiate(cfg.model)
    fresh.on_load_checkpoint(checkpoint)
    fresh.best_val.update(0.5)
    assert fresh.best_val.compute().item() == pytest.approx(0.7)


def test_newest_checkpoint_wins(tmp_path):
    assert find_checkpoint(tmp_path) is None
    last = tmp_path / "checkpoints" / "last.ckpt"
    last.parent.mkdir()
    hpc = tmp_path / "hpc_ckpt_1.ckpt"
    for age, path in enumerate([hpc, last]):
        path.write_bytes(b"")
        os.utime(path, (1000 + age, 1000 + age))
    assert find_checkpoint(tmp_path) == last
    os.utime(hpc, (2000, 2000))
    assert find_checkpoint(tmp_path) == hpc


def test_resume_falls_back_to_ckpt_path_and_rejects_other_values(tmp_path):
    cfg = OmegaConf.create({"resume": "auto", "ckpt_path": "given.ckpt"})
    cfg.paths = {"output_dir": str(tmp_path)}
    assert start_checkpoint(cfg) == "given.ckpt"
    (tmp_path / "hpc_ckpt_3.ckpt").write_bytes(b"")
    assert start_checkpoint(cfg) == str(tmp_path / "hpc_ckpt_3.ckpt")
    cfg.resume = None
    assert start_checkpoint(cfg) == "given.ckpt"
    cfg.resume = "last.ckpt"
    with pytest.raises(ValueError, match="ckpt_path=<file>"):
        start_checkpoint(cfg)


def test_wandb_id_is_kept_for_resume_auto_only(tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_RUN_ID", raising=False)

    def run_id(resume):
        cfg = OmegaConf.create({"resume": resume, "paths": {"output_dir": str(tmp_path)}})
        cfg.logger = {"wandb": {"_target_": "WandbLogger", "id": None}}
        keep_wandb_id(cfg)
        assert (tmp_path / WANDB_ID_FILE).read_text().strip() == cfg.logger.wandb.id
        return cfg.logger.wandb.id

    first = run_id(None)
    assert run_id("auto") == first
    assert run_id(None) != first
    monkeypatch.setenv("WANDB_RUN_ID", "agent01")  # set by `wandb agent`
    assert run_id("auto") == "agent01"


def test_run_folder_is_named_after_the_slurm_job(monkeypatch):
    for name in SLURM_VARS:
        monkeypatch.delenv(name, raising=False)
    assert slurm_run_name("2024-01-02_03-04-05") == "2024-01-02_03-04-05"
    monkeypatch.setenv("SLURM_JOB_ID", "812")
    monkeypatch.setenv("SLURM_JOB_NAME", "digitseg-ddp")
    assert slurm_run_name("t") == "slurm-812"
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "800")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "12")
    assert slurm_run_name("t") == "slurm-800_12"
    monkeypatch.setenv("SLURM_JOB_NAME", "interactive")
    assert slurm_run_name("t") == "t"
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=CONF_DIR):
        cfg = compose(config_name="train", overrides=["run_name=mine"], return_hydra_config=True)
    assert cfg.hydra.run.dir == "outputs/train/runs/mine"


def test_slurm_plugins_only_inside_slurm(monkeypatch):
    monkeypatch.delenv("SLURM_NTASKS", raising=False)
    assert slurm_plugins() == []
    monkeypatch.setenv("SLURM_NTASKS", "1")
    monkeypatch.setenv("SLURM_JOB_NAME", "digitseg-ddp")
    (environment,) = slurm_plugins(requeue_signal="SIGUSR2")
    assert isinstance(environment, SLURMEnvironment)
    assert environment.auto_requeue and environment.requeue_signal == signal.SIGUSR2

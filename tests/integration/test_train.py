"""Training end to end on CPU: configs, fast_dev_run, overfitting, resume, model files, W&B."""

import json
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate

from digitseg.models.checkpoint import CheckpointError, load_model, save_model
from digitseg.train import build_datamodule, train
from digitseg.utils.config import CONF_DIR, instantiate_dict
from tests.helpers.config import compose_train, requires_mnist

GROUPS = ("data", "model", "trainer", "logger", "callbacks", "debug")
CPU_TRAINERS = ("default", "cpu")


def _options(group: str) -> list[str]:
    return sorted(p.stem for p in Path(CONF_DIR, group).glob("*.yaml"))


@pytest.mark.parametrize("group", GROUPS)
def test_every_config_option_composes_and_instantiates(group, tmp_path):
    for option in _options(group):
        cfg = compose_train([f"{group}={option}"], tmp_path)
        if group == "data":
            dm = build_datamodule(cfg)
            dm.setup()
            assert dm.dataset("val")[0]["image"].shape[-2:] == (
                cfg.data.spec.height,
                cfg.data.spec.width,
            )
        elif group == "model":
            assert instantiate(cfg.model).net is not None
        elif group == "trainer" and cfg.trainer.accelerator in ("auto", "cpu"):
            assert instantiate(cfg.trainer, logger=False).max_epochs >= 1
        elif group in ("logger", "callbacks"):
            assert all(obj is not None for obj in instantiate_dict(cfg[group]))


@pytest.mark.parametrize("model", ["unet", "fcn8"])
@pytest.mark.parametrize("trainer", CPU_TRAINERS)
def test_fast_dev_run(model, trainer, tmp_path):
    cfg = compose_train([f"model={model}", f"trainer={trainer}", "debug=fdr"], tmp_path)
    metrics = train(cfg)
    assert np.isfinite(metrics["train/loss"])


def test_contact_weight_trains_on_batches_that_carry_contacts(tmp_path):
    plain = build_datamodule(compose_train([], tmp_path))
    cfg = compose_train(["model.loss.contact_weight=4.0", "debug=fdr"], tmp_path)
    weighted = build_datamodule(cfg)
    for dm, has_contacts in ((plain, False), (weighted, True)):
        dm.setup()
        assert all(("contacts" in dm.dataset(s)[0]) == has_contacts for s in ("train", "val"))
    assert np.isfinite(train(cfg)["train/loss"])


def test_overfit_one_batch_loss_falls_and_metric_rises(tmp_path):
    cfg = compose_train(["data.batch_size=2"], tmp_path)
    dm = build_datamodule(cfg)
    dm.setup()
    batch = dm.dataset("val").__getitems__([0, 1])
    model = instantiate(cfg.model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)

    def step() -> tuple[float, float]:
        logits = model(batch["image"])
        loss = model.loss(logits, batch["mask"])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        digits = batch["mask"] != 10
        accuracy = (logits.argmax(1) == batch["mask"])[digits].float().mean()
        return loss.item(), accuracy.item()

    first_loss, first_accuracy = step()
    for _ in range(80):
        last_loss, last_accuracy = step()
    assert last_loss < 0.3 * first_loss
    assert last_accuracy > first_accuracy + 0.3


def test_training_writes_model_file_that_predicts_identically(tmp_path):
    cfg = compose_train([f"export.path={tmp_path}/models/digit_segmenter.ckpt"], tmp_path)
    train(cfg)
    net, payload = load_model(tmp_path / "models" / "digit_segmenter.ckpt")
    assert payload["config"]["model"]["net"]["arch"] == "Unet"
    assert "val/miou_digits" in payload["metrics"]
    image = torch.randn(1, 1, 37, 53)
    resaved = save_model(tmp_path / "again.ckpt", net, payload["config"])
    again, _ = load_model(resaved)
    with torch.no_grad():
        assert torch.equal(net(image), again(image))


def test_existing_model_file_is_not_overwritten_without_flag(tmp_path):
    target = tmp_path / "mine.ckpt"
    target.write_bytes(b"user's file")
    train(compose_train([f"export.path={target}"], tmp_path))
    assert target.read_bytes() == b"user's file"
    assert (tmp_path / "digit_segmenter.ckpt").is_file()
    train(compose_train([f"export.path={target}", "export.overwrite=true"], tmp_path / "b"))
    assert load_model(target)[1]["format_version"] == 1


def test_model_file_errors_are_clear(tmp_path):
    with pytest.raises(CheckpointError, match="make train"):
        load_model(tmp_path / "missing.ckpt")
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="junk.ckpt"):
        load_model(tmp_path / "junk.ckpt")
    torch.save({"format": "digitseg-segmenter", "format_version": 99}, tmp_path / "new.ckpt")
    with pytest.raises(CheckpointError, match="format 99"):
        load_model(tmp_path / "new.ckpt")


def test_resume_continues_from_last_checkpoint(tmp_path):
    stop_early = [
        "+callbacks.stop._target_=tests.helpers.callbacks.StopAfterEpoch",
        "+callbacks.stop.epoch=0",
    ]
    first = compose_train(["trainer.max_epochs=2", *stop_early], tmp_path / "first")
    train(first)
    last = tmp_path / "first" / "checkpoints" / "last.ckpt"
    saved = torch.load(last, weights_only=True)
    assert saved["epoch"] == 0 and saved["global_step"] == 2
    resumed = compose_train(["trainer.max_epochs=2", f"ckpt_path={last}"], tmp_path / "second")
    train(resumed)
    final = torch.load(tmp_path / "second" / "checkpoints" / "last.ckpt", weights_only=True)
    assert final["epoch"] == 1 and final["global_step"] == 4


def test_wandb_offline_writes_run_folder_without_network(tmp_path, monkeypatch):
    real_connect = socket.socket.connect

    def local_only(sock, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(address, tuple) and host not in ("127.0.0.1", "localhost", "::1"):
            raise AssertionError(f"network connection attempted to {address}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", local_only)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    cfg = compose_train(["logger=wandb", "callbacks.lr_monitor=null"], tmp_path)
    assert cfg.logger.wandb.offline is True
    train(cfg)
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    images = list(runs[0].glob("files/media/images/**/*.png"))
    assert any("gallery" in p.name for p in images)
    assert any("confusion_matrix" in p.name for p in images)
    tables = list(runs[0].glob("files/media/table/val/per_class_*.table.json"))
    assert json.loads(tables[0].read_text())["columns"] == ["class", "iou", "dice"]
    history = next(runs[0].glob("run-*.wandb")).read_bytes()  # metrics, protobuf-encoded
    assert b"val/miou_digits" in history and b"train/loss" in history


def test_ddp_cpu_runs_two_processes(tmp_path):
    requires_mnist()
    command = [
        sys.executable,
        "-m",
        "digitseg.train",
        "trainer=ddp_cpu",
        "+trainer.fast_dev_run=true",
        "logger=none",
        "export.path=null",
        "test=false",
        "data.batch_size=2",
        "data.train_size=8",
        "data.val_size=4",
        "model.net.encoder_depth=3",
        "model.net.decoder_channels=[16,8,8]",
        f"hydra.run.dir={tmp_path}",
        "extras.print_config=false",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Initializing distributed: GLOBAL_RANK: 1, MEMBER: 2/2" in done.stderr + done.stdout

"""The real train config, shrunk so that a run takes seconds on CPU."""

import os
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, open_dict

from digitseg.data.mnist import ENV_VAR
from digitseg.utils.config import CONF_DIR

TINY = [
    "logger=none",
    "trainer=cpu",
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=2",
    "trainer.limit_val_batches=1",
    "trainer.limit_test_batches=1",
    "trainer.log_every_n_steps=1",
    "data.batch_size=4",
    "data.num_workers=0",
    "data.train_size=8",
    "data.val_size=4",
    "data.test_size=4",
    "extras.print_config=false",
    "export.path=null",
    "test=false",
    "callbacks.model_summary=null",
    "callbacks.progress_bar=null",
]


def requires_mnist():
    """Skip the test when tests/conftest.py found no MNIST (``make test`` prepares it)."""
    if not os.environ.get(ENV_VAR):
        pytest.skip(f"no MNIST: run `make mnist`, or set {ENV_VAR} to the MNIST files' folder")


def compose_app(config_name: str, overrides: list[str], output_dir: Path) -> DictConfig:
    """An entry point's config (``conf/<config_name>.yaml``) with ``overrides``, writing into
    ``output_dir`` (outside a Hydra run, ``paths.output_dir`` has nothing to resolve to)."""
    requires_mnist()
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=CONF_DIR):
        cfg = compose(config_name=config_name, overrides=overrides)
    with open_dict(cfg):
        cfg.paths.output_dir = str(output_dir)
    return cfg


def compose_train(overrides: list[str], output_dir: Path) -> DictConfig:
    """The train config with ``TINY`` and ``overrides`` applied, writing into ``output_dir``."""
    cfg = compose_app("train", TINY + overrides, output_dir)
    with open_dict(cfg):
        if cfg.model.net.arch == "Unet":  # a small U-Net keeps the tests quick
            cfg.model.net.encoder_depth = 3
            cfg.model.net.decoder_channels = [32, 16, 8]
    return cfg

"""Shared fixtures: the real MNIST splits (when available), fake digits and data presets."""

import os

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from digitseg.data.digits import DigitSet
from digitseg.data.mnist import ENV_VAR, load_mnist, mnist_splits
from digitseg.utils.config import CONF_DIR
from tests.helpers.digits import tiny_splits


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """Tests run many tiny models: one thread each avoids oversubscribing a busy machine."""
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def mnist_digits() -> dict[str, DigitSet]:
    """MNIST's train/val/test digit sets, read once from ``$DIGITSEG_MNIST_DIR``."""
    folder = os.environ.get(ENV_VAR)
    if not folder:
        pytest.skip(f"set {ENV_VAR} to a folder holding the MNIST files to run this test")
    return mnist_splits(load_mnist(folder, download=False))


@pytest.fixture(scope="session")
def fake_digits() -> dict[str, DigitSet]:
    """Per-split sets of blocky fake digits, for tests that do not need real MNIST."""
    return tiny_splits()


@pytest.fixture(scope="session")
def preset_spec():
    """A function from a ``conf/data`` preset name to its ``spec`` node, defaults applied."""

    def compose_spec(name: str):
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
            return compose(overrides=[f"+data={name}"]).data.spec

    return compose_spec

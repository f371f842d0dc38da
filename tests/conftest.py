"""Shared fixtures: the real MNIST splits (when available), fake digits and data presets."""

import os
import tempfile
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from digitseg.data.digits import DigitSet
from digitseg.data.mnist import ENV_VAR, load_mnist, mnist_splits
from digitseg.utils.config import CONF_DIR, mnist_folders
from tests.helpers.config import requires_mnist
from tests.helpers.digits import tiny_splits

REPO = Path(CONF_DIR).parent


def pytest_configure(config):
    """Without ``$DIGITSEG_MNIST_DIR``, point it at the folder runs read MNIST from when that
    holds files (``paths.mnist_dir`` in conf/local, else the cache ``make mnist`` fills), so
    that the tests needing real MNIST run on a clone where ``make test`` prepared it. Model
    files' ONNX exports are cached in a folder of this session's own, not the user's."""
    os.environ.setdefault("DIGITSEG_CACHE_DIR", tempfile.mkdtemp(prefix="digitseg-tests-"))
    if os.environ.get(ENV_VAR):
        return
    mnist_dir, cache = mnist_folders()
    folder = REPO / (mnist_dir or cache)  # relative to the repository, where runs start
    if folder.is_dir() and any(folder.iterdir()):
        os.environ[ENV_VAR] = str(folder.resolve())


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """Tests run many tiny models: one thread each avoids oversubscribing a busy machine."""
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def mnist_digits() -> dict[str, DigitSet]:
    """MNIST's train/val/test digit sets, read once from ``$DIGITSEG_MNIST_DIR``."""
    requires_mnist()
    return mnist_splits(load_mnist(os.environ[ENV_VAR], download=False))


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

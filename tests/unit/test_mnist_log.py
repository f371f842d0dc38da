"""A run that loads MNIST more than once (one generator per split) says where from once."""

import logging

import numpy as np

from digitseg.data.mnist import (
    ENV_VAR,
    TEST_IMAGES,
    TEST_LABELS,
    TRAIN_IMAGES,
    TRAIN_LABELS,
    load_mnist,
    write_idx,
)


def test_each_folder_and_route_is_logged_once(tmp_path, monkeypatch, caplog):
    monkeypatch.delenv(ENV_VAR, raising=False)
    for name, shape in [
        (TRAIN_IMAGES, (12, 28, 28)),
        (TRAIN_LABELS, (12,)),
        (TEST_IMAGES, (4, 28, 28)),
        (TEST_LABELS, (4,)),
    ]:
        write_idx(tmp_path / name, np.zeros(shape, np.uint8))
    with caplog.at_level(logging.INFO, logger="digitseg.data.mnist"):
        for _ in range(2):
            load_mnist(tmp_path, verify=False)
            load_mnist(cache_dir=tmp_path, download=False, verify=False)
    assert [r.getMessage() for r in caplog.records if r.name == "digitseg.data.mnist"] == [
        f"MNIST loaded from {tmp_path} (route: explicit)",
        f"MNIST loaded from {tmp_path} (route: cache)",
    ]

"""Fixtures shared by the inference tests."""

import pytest

from tests.helpers.models import train_tiny_model


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """Path of a model file trained for a few seconds on m2nist canvases."""
    return train_tiny_model(tmp_path_factory.mktemp("model") / "tiny.ckpt")

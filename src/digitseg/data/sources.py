"""Digit sources by name: MNIST (the default) or a folder of the user's own digit images."""

from collections.abc import Mapping
from pathlib import Path

from digitseg.data.digits import DigitSet
from digitseg.data.image_folder import image_folder_splits
from digitseg.data.mnist import load_mnist, mnist_splits
from digitseg.data.spec import spec_from_config
from digitseg.data.synth import CanvasGenerator

SOURCES = ("mnist", "folder")


def load_digits(
    source: str = "mnist", path: str | Path | None = None, mnist_cache: str | Path = "data/mnist"
) -> dict[str, DigitSet]:
    """Per-split digit sets: ``mnist`` (``path`` is an explicit MNIST folder or None) or
    ``folder`` (``path`` holds ``<digit>/*.png|jpg`` images)."""
    if source == "mnist":
        return mnist_splits(load_mnist(path, cache_dir=mnist_cache))
    if source == "folder":
        if path is None:
            raise ValueError("data.digits.path must name the image folder when source=folder")
        return image_folder_splits(path)
    raise ValueError(f"data.digits.source must be one of {SOURCES}, got '{source}'")


def build_generator(data_cfg: Mapping, paths_cfg: Mapping) -> CanvasGenerator:
    """The canvas generator a ``conf/data`` preset describes, with its digits loaded."""
    spec = spec_from_config(data_cfg["spec"])
    digits_cfg = data_cfg.get("digits") or {}
    source = digits_cfg.get("source", "mnist")
    path = digits_cfg.get("path") if source == "folder" else paths_cfg.get("mnist_dir")
    digits = load_digits(source, path, paths_cfg.get("mnist_cache", "data/mnist"))
    return CanvasGenerator(spec, digits, seed=int(data_cfg.get("seed", 0)))

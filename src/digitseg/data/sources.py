"""Digit sources by name: MNIST (the default) or a folder of the user's own digit images."""

from collections.abc import Mapping
from pathlib import Path

from digitseg.data.digits import DigitSet
from digitseg.data.image_folder import image_folder_splits
from digitseg.data.mixture import MixedGenerator
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


def build_generator(data_cfg: Mapping, paths_cfg: Mapping, spec: Mapping | None = None):
    """The canvas generator a ``conf/data`` preset describes (or of ``spec`` with the
    preset's digits and seed), with its digits loaded."""
    digits_cfg = data_cfg.get("digits") or {}
    source = digits_cfg.get("source", "mnist")
    path = digits_cfg.get("path") if source == "folder" else paths_cfg.get("mnist_dir")
    digits = load_digits(source, path, paths_cfg.get("mnist_cache", "data/mnist"))
    canvas_spec = spec_from_config(spec if spec is not None else data_cfg["spec"])
    return CanvasGenerator(canvas_spec, digits, seed=int(data_cfg.get("seed", 0)))


def build_train_generator(data_cfg: Mapping, paths_cfg: Mapping):
    """The generator of training canvases: the preset's spec, mixed with ``data.mixture``'s
    extra specs (``{name: {weight, spec}}``; the preset's own spec has ``mixture_weight``)."""
    main = build_generator(data_cfg, paths_cfg)
    extra = data_cfg.get("mixture") or {}
    if not extra:
        return main
    others = [build_generator(data_cfg, paths_cfg, part["spec"]) for part in extra.values()]
    weights = [data_cfg.get("mixture_weight", 1.0)] + [part["weight"] for part in extra.values()]
    return MixedGenerator([main, *others], weights)

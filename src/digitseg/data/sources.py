"""Digit sources by name: MNIST (the default) or a folder of the user's own digit images."""

from collections.abc import Mapping
from pathlib import Path

from digitseg.data.coco_scans import open_coco_scans
from digitseg.data.digits import DigitSet
from digitseg.data.image_folder import image_folder_splits
from digitseg.data.mixture import MixedGenerator
from digitseg.data.mnist import load_mnist, mnist_splits
from digitseg.data.scan_canvases import DEFAULT_JITTER, ScanCanvasGenerator
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
    extra parts (``{name: {weight, spec}}``, or ``{name: {weight, scans}}`` for real scans:
    see :func:`scan_generator`; the preset's own spec has ``mixture_weight``)."""
    main = build_generator(data_cfg, paths_cfg)
    extra = data_cfg.get("mixture") or {}
    if not extra:
        return main
    others = [
        scan_generator(main.spec, main.seed, part["scans"])
        if "scans" in part
        else build_generator(data_cfg, paths_cfg, part["spec"])
        for part in extra.values()
    ]
    weights = [data_cfg.get("mixture_weight", 1.0)] + [part["weight"] for part in extra.values()]
    return MixedGenerator([main, *others], weights)


def build_source_generator(data_cfg: Mapping, paths_cfg: Mapping, split: str = "train"):
    """The canvases of a ``conf/data`` preset, or of real scans where the preset has a
    ``scans`` node (see :func:`scan_generator`): its ``part`` for train, the scans'
    ``val`` part for any other split, which training never sees."""
    if "scans" not in data_cfg:
        return build_generator(data_cfg, paths_cfg)
    scans_cfg = dict(data_cfg["scans"])
    if split != "train":
        scans_cfg["part"] = "val"
    spec = spec_from_config(data_cfg["spec"])
    return scan_generator(spec, int(data_cfg.get("seed", 0)), scans_cfg)


def scan_generator(spec, seed: int, scans_cfg: Mapping) -> ScanCanvasGenerator:
    """Canvases of ``spec``'s size made of real scans: ``scans_cfg`` has ``folder`` (the
    images), ``annotations`` (their COCO file; null: ``annotations.json`` beside or in the
    folder), ``part`` (train, val or all: see :func:`~digitseg.data.coco_scans.part_of`) and
    optionally ``jitter`` (the range of the random factor on the digits' height) and ``tilt``
    (the most degrees a scan is rotated by, either way)."""
    if not scans_cfg.get("folder"):
        raise ValueError("scans need scans.folder=<images folder>")
    scans = open_coco_scans(
        scans_cfg["folder"], scans_cfg.get("annotations"), scans_cfg.get("part", "train")
    )
    jitter = tuple(scans_cfg.get("jitter", DEFAULT_JITTER))
    tilt = float(scans_cfg.get("tilt", 0.0))
    return ScanCanvasGenerator(spec, scans, seed=seed, jitter=jitter, tilt=tilt)

"""The Python API behind ``digitseg-segment``: image in, digit instances in reading order out.

    from digitseg import Segmenter
    segmenter = Segmenter.from_checkpoint(
        "models/digit_segmenter.ckpt", classifier="models/digit_classifier.ckpt"
    )
    instances = segmenter.segment(image)          # list of Instance, reading order
    result = segmenter.run(image)                 # Segmentation: instances, text, class map
    result = segmenter.run(image, ReadSettings(rotation=0.0))   # other reading settings

How an image is read (polarity, scale, slant, rotation, zooms, and the thresholds of the
estimates and of the post-processing) is one
:class:`~digitseg.inference.settings.ReadSettings`: the segmenter's own (``settings=``, by
default the ``document`` preset), or one given to a call.

Before the net runs, the image is prepared as one
:class:`~digitseg.inference.page.Page`: its channels, its ink polarity (detected from the
image, or forced), its lines of writing (rotated level when they climb or fall across the
image: :mod:`~digitseg.inference.rotation`), its paper (the upright lines of a form's boxes
or of squared paper painted over: :mod:`~digitseg.inference.lines`), its slant (writing
that leans far more than MNIST's sheared upright: :mod:`~digitseg.inference.slant`) and its
digit size (the factor that brings digits to the training height, estimated from the ink's
connected parts, or forced).
The net then reads the image at each of a few ``zooms`` of that size (by default as is and
enlarged 1.3 times: small digits read better enlarged). The first zoom's view decides where
ink and digit centres are; the views' averaged probabilities decide which digit each ink
pixel is. Large images run in overlapping tiles, so the net's memory stays bounded.
Post-processing groups the probabilities into digits at the normalised size, where digits
are as tall as in training whatever the photo's resolution; the digits' boxes and masks,
and the class map, are then carried back into the input's pixels by the inverse of the
page's one map (rotation, shear and scale together).
With a ``classifier`` (:mod:`digitseg.classifier`), each digit found is read again from a
crop around it, and its label is the one both nets' probabilities agree on best; a
classifier with a "not a digit" class leaves out the marks (commas, dots, dashes, slashes)
the segmenter took for digits.
"""

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import torch

from digitseg.classes import BACKGROUND, NUM_CLASSES
from digitseg.classifier import (
    DigitClassifier,
    classifier_crops,
    classifier_probabilities,
    combine_labels,
)
from digitseg.data.spec import MNIST_INK_SIDE, CanvasSpec
from digitseg.data.transforms import match_channels, to_tensor
from digitseg.inference.backend_names import check_backend
from digitseg.inference.backends import load_onnx, net_backend
from digitseg.inference.page import Page, normalise_size, prepare, scaled_size
from digitseg.inference.settings import ReadSettings
from digitseg.metrics.calibration import ScoreCalibration
from digitseg.models.checkpoint import CheckpointError, load_model
from digitseg.postprocess import (
    Instance,
    PostprocessConfig,
    extract_instances,
    order_instances,
    read_text,
    reading_order,
    warp_class_map,
    warp_instances,
)

# The net reads at most this many pixels at once (views of one size batched together).
MAX_BATCH_PIXELS = 1 << 20
# run_batch reads images together until their pages hold this many pixels at the read scale,
# so that a batch of large scans holds about as much memory as one.
MAX_GROUP_PIXELS = 4 << 20


@dataclass(frozen=True, eq=False)
class NetOutputs:
    """What the net said about one prepared :class:`~digitseg.inference.page.Page`, before
    post-processing."""

    probs: np.ndarray  # (11, h, w) class probabilities at the page's read shape
    cores: np.ndarray | None  # (h, w) digit-core probability, for nets with a core output
    ink: np.ndarray | None  # (h, w) its light ink, for the classifier (None without one)
    page: Page


@dataclass(frozen=True)
class Segmentation:
    """Everything one image gave: instances in reading order, their text, the class map."""

    instances: list[Instance]
    text: str
    labels: np.ndarray  # the net's class map, (H, W) uint8, marks left out included
    polarity: str
    scale: float
    slant: float = 0.0  # the shear the image was read with, px per row (0: as it is)
    rotation: float = 0.0  # degrees it was rotated by to level its lines (0: as it is)


class Segmenter:
    """A trained model plus the pre- and post-processing that make it read digits.

    ``settings``: how images are read when a call gives none (default: the ``document``
    preset). Its ``zooms`` are the factors of the normalised size at which the net reads
    each image; order matters, as the first zoom's view alone decides where the ink and the
    digit centres are, and all views' mean probabilities which digit each ink pixel is.
    ``classifier``: a :class:`~digitseg.classifier.DigitClassifier` (on the device the
    segmenter runs on) whose reading of each digit's crop joins the segmenter's in choosing
    its label; None: the segmenter's probabilities alone choose it. ``calibration`` maps
    each digit's final score to a calibrated one (the share of digits so scored that are
    right), as fitted on labelled scans by ``scripts/calibrate_scores.py``.
    """

    def __init__(
        self,
        backend,
        config: dict,
        tile_size: int = 512,
        overlap: int = 64,
        settings: ReadSettings | None = None,
        classifier: torch.nn.Module | None = None,
        calibration: ScoreCalibration | None = None,
    ) -> None:
        if tile_size % backend.multiple or overlap >= tile_size:
            raise ValueError(
                f"tile_size must be a multiple of {backend.multiple} and larger than overlap"
            )
        self.backend, self.config = backend, config
        self.classifier = classifier.eval() if classifier is not None else None
        self.calibration = calibration
        self.settings = settings or ReadSettings()
        self.tile_size, self.overlap = tile_size, overlap
        spec = config["data"]["spec"]
        self.in_channels = int(config["model"]["net"]["in_channels"])
        self.digit_height = MNIST_INK_SIDE * sum(spec["scale"]) / 2
        self.polarities = trained_polarities(spec)

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path,
        backend: str = "auto",
        device: str = "auto",
        classifier: str | Path | None = None,
        **kwargs,
    ) -> "Segmenter":
        """Load a model file and, when ``classifier`` names one, a digit classifier's model
        file. ``path`` is a ``.ckpt``, or an ``.onnx`` export (``digitseg-export``), which
        runs in ONNX Runtime. ``backend`` says how a ``.ckpt``'s net runs
        (:data:`~digitseg.inference.backend_names.BACKENDS`): ``auto`` is ONNX Runtime on the CPU
        and PyTorch on a GPU (``device`` ``auto``: a GPU where there is one)."""
        check_backend(backend)
        onnx_file = Path(path).suffix == ".onnx"
        if onnx_file and backend not in ("auto", "onnxruntime"):
            raise ValueError(
                f"{path} is an ONNX export: read it with --backend auto or onnxruntime"
            )
        if device == "auto":
            on_gpu = torch.cuda.is_available() and backend in ("auto", "torch") and not onnx_file
            device = "cuda" if on_gpu else "cpu"
        if classifier is not None:
            net, kwargs["calibration"] = _load_classifier(Path(classifier))
            kwargs["classifier"] = net.to(device)
        if onnx_file:
            return cls(*load_onnx(Path(path)), **kwargs)
        net, payload = load_model(path)
        if isinstance(net, DigitClassifier):
            raise CheckpointError(
                f"{path} is a digit classifier, not a segmenter model file; "
                "pass it as the classifier"
            )
        return cls(net_backend(net, backend, device, Path(path)), payload["config"], **kwargs)

    @property
    def zooms(self) -> tuple[float, ...]:
        """The zooms of the segmenter's own settings."""
        return self.settings.zooms

    def segment(self, image: np.ndarray, settings: ReadSettings | None = None) -> list[Instance]:
        """Digit instances of ``image`` (uint8 (H, W) or (H, W, 3)) in reading order."""
        return self.run(image, settings).instances

    def run(self, image: np.ndarray, settings: ReadSettings | None = None) -> Segmentation:
        """Instances, text and class map of ``image``, read with ``settings`` (None: the
        segmenter's own). A ``scale`` of None means estimated; a ``slant`` of None too (the
        shear, px per row, that sets writing leaning more than the training digits upright:
        :mod:`~digitseg.inference.slant`), 0 reads it as it is; a ``rotation`` of None too
        (the degrees, counter-clockwise, that level lines of writing climbing or falling
        across the image: :mod:`~digitseg.inference.rotation`), 0 reads it as it is. With
        the rotation estimated, an image the estimate rotates is also read as it is, and
        the rotated reading is kept only where its digits are surer (their mean score):
        digits scattered over a canvas may pile up as if in a tilted line. The reading order
        is that of the upright image; where the image was rotated, the input's, unless that
        puts the digits on more lines (a steep line)."""
        return self.run_batch([image], settings)[0]

    def run_batch(
        self, images: Sequence[np.ndarray], settings: ReadSettings | None = None
    ) -> list[Segmentation]:
        """:meth:`run` of each of ``images`` (any sizes), in order, read together: the net's
        passes over views of one size, and the classifier's crops, run as batches."""
        settings = settings or self.settings
        results, group, pixels = [], [], 0
        for image in images:
            pages = self._pages(image, settings)
            group.append(pages)
            pixels += sum(math.prod(page.read_shape) for page in pages)
            if pixels >= MAX_GROUP_PIXELS:  # the group's outputs would fill the memory
                results += self._read_group(group, settings)
                group, pixels = [], 0
        return results + (self._read_group(group, settings) if group else [])

    def _read_group(self, prepared: list[list[Page]], settings: ReadSettings):
        """The surest reading of each image of ``prepared`` (its pages), read together."""
        outputs = self._net_outputs(sum(prepared, []), settings.zooms)
        readings = iter(self._read_all(outputs, settings))
        results = []
        for pages in prepared:
            candidates = [next(readings) for _ in pages]
            results.append(candidates[_surest(candidates)])
        return results

    def outputs(self, image: np.ndarray, settings: ReadSettings | None = None) -> NetOutputs:
        """The net's outputs on ``image`` prepared as :meth:`run` prepares it (its first
        half), which :meth:`read` groups into digits, with any post-processing, as often as
        asked. Where the rotation is estimated, the page kept is the one whose digits
        ``settings`` reads surer."""
        settings = settings or self.settings
        outputs = self._net_outputs(self._pages(image, settings), settings.zooms)
        if len(outputs) == 1:
            return outputs[0]
        return outputs[_surest(self._read_all(outputs, settings))]

    def read(
        self,
        outputs: NetOutputs,
        postprocess: PostprocessConfig | None = None,
    ) -> Segmentation:
        """The digits of :meth:`outputs`, grouped by ``postprocess`` (None: the segmenter's
        own settings' ``postprocess``) and, with a classifier, relabelled from crops of the
        ink (without the marks it finds are no digit) and their scores calibrated; masks,
        boxes and class map carried back into the input's pixels. The class map is the
        net's."""
        settings = self.settings
        if postprocess is not None:
            settings = replace(settings, postprocess=postprocess)
        return self._read_all([outputs], settings)[0]

    def predict(
        self,
        image: np.ndarray,
        polarity: str = "auto",
        scale: float | None = None,
        zooms: tuple[float, ...] | None = None,
    ):
        """Class probabilities (11, h, w), core probability (h, w) or None, polarity, scale.

        ``scale`` is the factor that normalises the digit size (None: estimated); (h, w) is
        the image's size times it. The net reads the image at that factor times each of
        ``zooms`` (None: the segmenter's). Where the first view and the views' mean agree on
        ink or background, the probabilities are the mean; elsewhere, and for the cores,
        they are the first view's.
        """
        settings = replace(self.settings, polarity=polarity, scale=scale, zooms=zooms or self.zooms)
        page = Page.of(_checked_image(image), settings.polarity, self.digit_height)
        (outputs,) = self._net_outputs([normalise_size(page, settings)], settings.zooms)
        return outputs.probs, outputs.cores, page.polarity, float(outputs.page.scale)

    def _pages(self, image: np.ndarray, settings: ReadSettings) -> list[Page]:
        return prepare(_checked_image(image), settings, self.digit_height)

    def _net_outputs(self, pages: list[Page], zooms: tuple[float, ...]) -> list[NetOutputs]:
        """The net's outputs on each of ``pages`` at each of ``zooms`` of its scale, combined
        as :meth:`predict` says; all pages' views run together."""
        views = []
        for page in pages:
            pixels = match_channels(page.image, self.in_channels)
            if page.polarity not in self.polarities:
                pixels = 255 - pixels
            for zoom in zooms:
                view = _resized(pixels, scaled_size(pixels.shape, page.scale * zoom))
                views.append(to_tensor(view).numpy())
        logits = iter(self._run_views(views))
        results = []
        for page in pages:
            probs, cores = _combined([next(logits) for _ in zooms], page.read_shape)
            ink = _resized(page.light, probs.shape[1:]) if self.classifier is not None else None
            results.append(NetOutputs(probs, cores, ink, page))
        return results

    def _run_views(self, views: list[np.ndarray]) -> list[np.ndarray]:
        """Net outputs (K, H, W) for each of ``views`` (C, H, W), each in overlapping tiles
        when large; tiles of one size run as batches."""
        corners = [self._tile_corners(view.shape[1:]) for view in views]
        tiles = [
            view[:, top : top + self.tile_size, left : left + self.tile_size]
            for view, places in zip(views, corners, strict=True)
            for top, left in places
        ]
        outputs = iter(self._run_tiles(tiles))
        half = self.overlap // 2
        results = []
        for view, places in zip(views, corners, strict=True):
            out = None
            for top, left in places:
                result = next(outputs)
                if out is None:
                    out = np.empty((result.shape[0], *view.shape[1:]), np.float32)
                y0 = 0 if top == 0 else half
                x0 = 0 if left == 0 else half
                out[:, top + y0 : top + result.shape[1], left + x0 : left + result.shape[2]] = (
                    result[:, y0:, x0:]
                )
            results.append(out)
        return results

    def _tile_corners(self, shape: tuple[int, int]) -> list[tuple[int, int]]:
        rows = _tile_starts(shape[0], self.tile_size, self.overlap)
        cols = _tile_starts(shape[1], self.tile_size, self.overlap)
        return [(top, left) for top in rows for left in cols]

    def _run_tiles(self, tiles: list[np.ndarray]) -> list[np.ndarray]:
        """Net outputs (K, h, w) of each of ``tiles`` (C, h, w), each padded on its own to
        the net's multiple; tiles so padded to one size run as batches of at most
        MAX_BATCH_PIXELS."""
        m = self.backend.multiple
        padded = [
            np.pad(t, ((0, 0), (0, -t.shape[1] % m), (0, -t.shape[2] % m)), mode="edge")
            for t in tiles
        ]
        by_size = defaultdict(list)
        for k, tile in enumerate(padded):
            by_size[tile.shape].append(k)
        results: list[np.ndarray | None] = [None] * len(tiles)
        for (_, height, width), indices in by_size.items():
            per_batch = max(1, MAX_BATCH_PIXELS // (height * width))
            for start in range(0, len(indices), per_batch):
                chunk = indices[start : start + per_batch]
                outputs = self.backend(np.stack([padded[k] for k in chunk]))
                for k, output in zip(chunk, outputs, strict=True):
                    results[k] = output[:, : tiles[k].shape[1], : tiles[k].shape[2]]
        return results

    def _read_all(self, outputs: list[NetOutputs], settings: ReadSettings) -> list[Segmentation]:
        """:meth:`read` of each of ``outputs`` with ``settings``' post-processing and
        estimates, the classifier reading all their digits' crops together."""
        found = [extract_instances(o.probs, o.cores, settings.postprocess) for o in outputs]
        if self.classifier is not None and outputs:
            if any(o.ink is None for o in outputs):
                raise ValueError(
                    "these outputs carry no ink for the classifier: make them with "
                    "this segmenter's outputs()"
                )
            crops = [
                classifier_crops(o.ink, digits) for o, digits in zip(outputs, found, strict=True)
            ]
            theirs = classifier_probabilities(self.classifier, np.concatenate(crops))
            ends = np.cumsum([len(c) for c in crops])[:-1]
            found = [
                combine_labels(digits, o.probs, probs)
                for o, digits, probs in zip(outputs, found, np.split(theirs, ends), strict=True)
            ]
        if self.calibration is not None:
            found = [
                [replace(d, score=float(self.calibration(d.score))) for d in digits]
                for digits in found
            ]
        min_line_digits = settings.estimates.min_line_digits
        return [
            _in_input(o, digits, min_line_digits) for o, digits in zip(outputs, found, strict=True)
        ]


def _in_input(outputs: NetOutputs, digits: list[Instance], min_line_digits: int) -> Segmentation:
    """The Segmentation of ``digits`` found in ``outputs``: they and the class map carried
    back into the input's pixels (a rotated page's digits in the input's reading order
    unless they are one steep line of at least ``min_line_digits``)."""
    page = outputs.page
    to_input = page.to_input()
    back = warp_instances(digits, to_input, page.input_shape)
    labels = warp_class_map(outputs.probs, to_input, page.input_shape)
    kept = [k for k, digit in enumerate(back) if digit is not None]
    found = [back[k] for k in kept]
    text = read_text([digits[k] for k in kept])  # the reading order of the upright image
    if page.rotation and not _one_steep_line(found, text, min_line_digits):
        found = order_instances(found)  # scattered digits keep the order they have
        text = read_text(found)
    return Segmentation(found, text, labels, page.polarity, page.scale, page.slant, page.rotation)


def _combined(logits: list[np.ndarray], size: tuple[int, int]):
    """Probabilities (11, h, w) and cores (h, w) or None at ``size`` from the net's outputs
    at each zoom: the mean where it and the first zoom's agree on ink or background, the
    first zoom's elsewhere; the cores the first zoom's."""
    first_logits = _at_size(logits[0], size)
    first = _softmax(first_logits[:NUM_CLASSES])
    cores = _sigmoid(first_logits[NUM_CLASSES]) if len(first_logits) > NUM_CLASSES else None
    mean = first.copy()
    for other in logits[1:]:
        mean += _softmax(_at_size(other[:NUM_CLASSES], size))
    mean /= len(logits)
    agree_on_ink = (mean.argmax(0) == BACKGROUND) == (first.argmax(0) == BACKGROUND)
    return np.where(agree_on_ink, mean, first), cores


def _at_size(outputs: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Net outputs (K, h, w) resized linearly to ``size``."""
    if outputs.shape[1:] == size:
        return outputs
    return np.stack([_resized(o, size, cv2.INTER_LINEAR) for o in outputs])


def _surest(readings: list[Segmentation]) -> int:
    """The index of the reading whose digits are surest (their mean score; 0 without
    digits), the first of equals."""
    sureness = [
        float(np.mean([d.score for d in r.instances])) if r.instances else 0.0 for r in readings
    ]
    return int(np.argmax(sureness))


def _one_steep_line(digits: list[Instance], text: str, min_line_digits: int) -> bool:
    """Whether ``digits`` (in the input's pixels), read level as ``text``, are one line of
    at least ``min_line_digits`` that the input's own reading order splits into several: a
    number climbing too steeply for it."""
    one_line = len(digits) >= min_line_digits and "\n" not in text
    return one_line and len(reading_order(digits)) > 1


def _checked_image(image: np.ndarray) -> np.ndarray:
    """``image`` if it is what the Segmenter reads: a uint8 (H, W) or (H, W, 3) array."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        kind = image.dtype if isinstance(image, np.ndarray) else type(image).__name__
        raise ValueError(
            f"the Segmenter reads uint8 images, got {kind}; "
            "digitseg.inference.read_image loads any image file as uint8"
        )
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)) or not image.size:
        raise ValueError(
            f"the Segmenter reads (H, W) gray or (H, W, 3) RGB images, got shape {image.shape}"
        )
    return image


def trained_polarities(spec: dict) -> set[str]:
    """Ink polarities a model saw in training, from its canvas spec."""
    styles = spec.get("backgrounds", CanvasSpec().backgrounds)
    backgrounds = {k for k, v in styles.items() if v > 0}
    seen = {"dark_on_light"} if "paper" in backgrounds else set()
    if backgrounds - {"paper"}:
        polarity = spec.get("polarity", "light_on_dark")
        seen |= {"light_on_dark", "dark_on_light"} if polarity == "random" else {polarity}
    return seen


def _resized(array: np.ndarray, size: tuple[int, int], interpolation: int | None = None):
    """``array`` (H, W, ...) resized to ``size`` (h, w): by default area-averaged when
    shrunk, linear when enlarged."""
    if array.shape[:2] == size:
        return array
    if interpolation is None:
        shrunk = size[0] * size[1] < array.shape[0] * array.shape[1]
        interpolation = cv2.INTER_AREA if shrunk else cv2.INTER_LINEAR
    return cv2.resize(array, size[::-1], interpolation=interpolation)


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(0, keepdims=True))
    return shifted / shifted.sum(0, keepdims=True)


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-logits))


def _tile_starts(size: int, tile: int, overlap: int) -> list[int]:
    if size <= tile:
        return [0]
    starts = list(range(0, size - tile, tile - overlap))
    return starts + [size - tile]


def _load_classifier(path: Path) -> tuple[DigitClassifier, ScoreCalibration | None]:
    """The digit classifier of a model file ``digitseg-train-classifier`` wrote, and the
    calibration of scores stored with it (``scripts/calibrate_scores.py``), if any."""
    if not path.is_file():
        raise CheckpointError(
            f"no classifier model file at {path}; train one with `make train-classifier`, "
            "or read without one (--classifier none, classifier=null)"
        )
    net, payload = load_model(path)
    if not isinstance(net, DigitClassifier):
        raise CheckpointError(
            f"{path} is not a digit classifier model file (it builds a {type(net).__name__}); "
            "write one with `make train-classifier`"
        )
    stored = payload["config"].get("calibration")
    return net, ScoreCalibration(**stored) if stored else None

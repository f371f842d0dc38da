"""The Python API behind ``digitseg-segment``: image in, digit instances in reading order out.

    from digitseg import Segmenter
    segmenter = Segmenter.from_checkpoint(
        "models/digit_segmenter.ckpt", classifier="models/digit_classifier.ckpt"
    )
    instances = segmenter.segment(image)          # list of Instance, reading order
    result = segmenter.run(image)                 # Segmentation: instances, text, class map
    result = segmenter.run(image, ReadSettings(rotation=0.0))   # other reading settings

How an image is read (polarity, scale, slant, rotation, zooms) is one
:class:`~digitseg.inference.settings.ReadSettings`: the segmenter's own (``settings=``, by
default the ``document`` preset), or one given to a call.

Before the net runs, the image is brought to what the model was trained on: its channels,
its ink polarity (detected from the image, or forced), its lines of writing (rotated level
when they climb or fall across the image: :mod:`~digitseg.inference.rotation`), its paper
(the upright lines of a form's boxes or of squared paper painted over:
:mod:`~digitseg.inference.lines`), its digit size (digits are scaled to the training height,
estimated from the ink's connected parts, or by a forced factor) and, for writing that leans
far more than MNIST's, its slant (the image is sheared upright and the digits found are
sheared back; :mod:`~digitseg.inference.slant`).
The net then reads the image at each of a few ``zooms`` of that size (by default as is and
enlarged 1.3 times: small digits read better enlarged). The first zoom's view decides where
ink and digit centres are; the views' averaged probabilities decide which digit each ink
pixel is. Large images run in overlapping tiles, so the net's memory stays bounded.
Post-processing groups the probabilities into digits at the normalised size, where digits
are as tall as in training whatever the photo's resolution; the digits' boxes and masks are
then scaled to the input's pixels.
With a ``classifier`` (:mod:`digitseg.classifier`), each digit found is read again from a
crop around it, and its label is the one both nets' probabilities agree on best; a
classifier with a "not a digit" class leaves out the marks (commas, dots, dashes, slashes)
the segmenter took for digits.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import torch
from scipy import ndimage

from digitseg.classes import BACKGROUND, NUM_CLASSES, NUM_DIGITS
from digitseg.classifier import (
    DigitClassifier,
    classifier_probabilities,
    combine_labels,
    light_ink,
)
from digitseg.data.spec import MNIST_INK_SIDE, CanvasSpec
from digitseg.data.transforms import match_channels, to_tensor
from digitseg.inference.backends import TorchBackend, load_onnx
from digitseg.inference.ink import ink_mask, without_rules
from digitseg.inference.lines import without_box_lines
from digitseg.inference.rotation import (
    level_rotation,
    rotate,
    unrotate_instance,
    unrotate_map,
)
from digitseg.inference.settings import POLARITIES, ReadSettings
from digitseg.inference.slant import (
    shear,
    unshear_instance,
    unshear_map,
    upright_shear,
)
from digitseg.metrics.calibration import ScoreCalibration
from digitseg.models.checkpoint import CheckpointError, load_model
from digitseg.postprocess import (
    Instance,
    PostprocessConfig,
    extract_instances,
    order_instances,
    read_text,
    reading_order,
    resize_instances,
    typical_height,
)

# The scale estimate's range: digits up to about 2,500 px tall (a number filling a 12 MP
# photo) down to half the training height.
MIN_SCALE, MAX_SCALE = 1 / 128, 2.0
# Digits read level on one line, this many or more, are a number: where the input's own
# reading order splits them (a steep line), they keep the level order.
MIN_LINE_DIGITS = 4


@dataclass(frozen=True, eq=False)
class NetOutputs:
    """What the net said about one image read upright, before post-processing."""

    probs: np.ndarray  # (11, h, w) class probabilities of the level, upright image times scale
    cores: np.ndarray | None  # (h, w) digit-core probability, for nets with a core output
    ink: np.ndarray | None  # (h, w) its light ink, for the classifier (None without one)
    polarity: str
    scale: float
    slant: float  # the shear it was read with, px per row of the level image
    pad: int  # columns the shear added on each side of the level image
    shape: tuple[int, int]  # the level image's (H, W): the input's when not rotated
    rotation: float  # degrees the input was rotated by to level its lines (0: as it is)
    input_shape: tuple[int, int]  # the input's (H, W)


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
        postprocess: PostprocessConfig | None = None,
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
        self.postprocess = postprocess or PostprocessConfig()
        spec = config["data"]["spec"]
        self.in_channels = int(config["model"]["net"]["in_channels"])
        self.digit_height = MNIST_INK_SIDE * sum(spec["scale"]) / 2
        self.polarities = trained_polarities(spec)

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path,
        backend: str = "torch",
        device: str = "auto",
        classifier: str | Path | None = None,
        **kwargs,
    ) -> "Segmenter":
        """Load a model file (``.ckpt``; or ``.onnx`` with ``backend="onnxruntime"``) and,
        when ``classifier`` names one, a digit classifier's model file."""
        if backend not in ("torch", "onnxruntime"):
            raise ValueError(f"backend must be 'torch' or 'onnxruntime', got {backend!r}")
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() and backend == "torch" else "cpu"
        if classifier is not None:
            net, kwargs["calibration"] = _load_classifier(Path(classifier))
            kwargs["classifier"] = net.to(device)
        if backend == "torch":
            net, payload = load_model(path)
            if isinstance(net, DigitClassifier):
                raise CheckpointError(
                    f"{path} is a digit classifier, not a segmenter model file; "
                    "pass it as the classifier"
                )
            return cls(TorchBackend(net, device), payload["config"], **kwargs)
        return cls(*load_onnx(Path(path)), **kwargs)

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
        across the image: :mod:`~digitseg.inference.rotation`), 0 reads it as it is. The
        reading order is that of the upright image; where the image was rotated, the
        input's, unless that puts the digits on more lines (a steep line)."""
        return self.read(self.outputs(image, settings))

    def run_batch(
        self, images: Sequence[np.ndarray], settings: ReadSettings | None = None
    ) -> list[Segmentation]:
        """:meth:`run` of each of ``images`` (any sizes), in order, read together: the net's
        passes of views of one size, and the classifier's crops, run as batches."""
        return [self.run(image, settings) for image in images]

    def outputs(self, image: np.ndarray, settings: ReadSettings | None = None) -> NetOutputs:
        """The net's outputs on ``image`` brought level and upright (:meth:`run`'s first
        half), which :meth:`read` groups into digits, with any post-processing, as often as
        asked. With ``settings.rotation`` None, the image is also read as it is when the
        estimate rotates it, and the rotated reading is kept only where its digits are surer
        (their mean score): digits scattered over a canvas may pile up as if in a tilted
        line."""
        settings = settings or self.settings
        gray = match_channels(_checked_image(image), 1)
        found = _resolve_polarity(gray, settings.polarity)
        rotation, slant = settings.rotation, settings.slant
        ink = ink_mask(light_ink(gray, found)) if rotation is None or slant is None else None
        if rotation is not None:
            return self._level_outputs(image, found, settings, float(rotation), ink)
        as_is = self._level_outputs(image, found, settings, 0.0, ink)
        degrees = level_rotation(ink)
        if degrees == 0:
            return as_is
        rotated = self._level_outputs(image, found, settings, degrees, ink)
        sureness = [_sureness(self.read(o)) for o in (as_is, rotated)]
        return rotated if sureness[1] > sureness[0] else as_is

    def _level_outputs(
        self,
        image: np.ndarray,
        polarity: str,
        settings: ReadSettings,
        degrees: float,
        ink: np.ndarray | None,
    ) -> NetOutputs:
        """:meth:`outputs` of ``image`` rotated by ``degrees``, with ``polarity`` resolved;
        ``ink`` is the input's ink mask, or None, for the lean's estimate."""
        input_shape = image.shape[:2]
        if degrees:
            image, ink = rotate(image, degrees), None
        gray = match_channels(image, 1)
        cleaned = without_box_lines(image, light_ink(gray, polarity))
        if cleaned is not image:  # lines were painted over
            image, gray, ink = cleaned, match_channels(cleaned, 1), None
        if settings.slant is None:
            amount = upright_shear(ink_mask(light_ink(gray, polarity)) if ink is None else ink)
        else:
            amount = float(settings.slant)
        upright, pad = shear(image, amount)
        probs, cores, _, used_scale = self.predict(
            upright, polarity, settings.scale, settings.zooms
        )
        ink = None
        if self.classifier is not None:
            ink = _resized(light_ink(match_channels(upright, 1), polarity), probs.shape[1:])
        return NetOutputs(
            probs, cores, ink, polarity, used_scale, amount, pad, gray.shape, degrees, input_shape
        )

    def read(
        self,
        outputs: NetOutputs,
        postprocess: PostprocessConfig | None = None,
    ) -> Segmentation:
        """The digits of :meth:`outputs`, grouped by ``postprocess`` (None: the segmenter's)
        and, with a classifier, relabelled from crops of the ink (without the marks it
        finds are no digit) and their scores calibrated; masks, boxes and class map scaled,
        sheared and rotated back into the input's pixels. The class map is the net's."""
        probs = outputs.probs
        digits = extract_instances(probs, outputs.cores, postprocess or self.postprocess)
        if self.classifier is not None:
            if outputs.ink is None:
                raise ValueError(
                    "these outputs carry no ink for the classifier: make them with "
                    "this segmenter's outputs()"
                )
            theirs = classifier_probabilities(self.classifier, outputs.ink, digits)
            digits = combine_labels(digits, probs, theirs)
        if self.calibration is not None:
            digits = [replace(d, score=float(self.calibration(d.score))) for d in digits]
        amount, pad, shape = outputs.slant, outputs.pad, outputs.shape
        upright = (shape[0], shape[1] + 2 * pad)
        resized = resize_instances(digits, probs.shape[1:], upright)
        back = [unshear_instance(digit, amount, pad, shape) for digit in resized]
        labels = unshear_map(_class_map(probs, upright), amount, pad, shape[1], BACKGROUND)
        degrees = outputs.rotation
        if degrees:
            back = [
                digit and unrotate_instance(digit, degrees, outputs.input_shape) for digit in back
            ]
            labels = unrotate_map(labels, degrees, outputs.input_shape, BACKGROUND)
        kept = [k for k, digit in enumerate(back) if digit is not None]
        found = [back[k] for k in kept]
        text = read_text([digits[k] for k in kept])  # the reading order of the upright image
        if degrees and not _one_steep_line(found, text):
            found = order_instances(found)  # scattered digits keep the order they have
            text = read_text(found)
        return Segmentation(found, text, labels, outputs.polarity, outputs.scale, amount, degrees)

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
        pixels = match_channels(_checked_image(image), self.in_channels)
        gray = match_channels(image, 1)
        found = _resolve_polarity(gray, polarity)
        if found not in self.polarities:
            pixels = 255 - pixels
        if scale is not None and not 0 < scale < math.inf:  # NaN too
            raise ValueError(
                f"scale must be above 0 and finite, or None to estimate it; got {scale}"
            )
        zooms = zooms or self.zooms
        factor = (
            estimate_scale(light_ink(gray, found), self.digit_height) if scale is None else scale
        )
        size = _scaled_size(gray.shape, factor)
        first_logits = self._outputs_at(pixels, factor * zooms[0], size)
        first = _softmax(first_logits[:NUM_CLASSES])
        cores = _sigmoid(first_logits[NUM_CLASSES]) if len(first_logits) > NUM_CLASSES else None
        del first_logits
        mean = first.copy()
        for zoom in zooms[1:]:
            mean += _softmax(self._outputs_at(pixels, factor * zoom, size)[:NUM_CLASSES])
        mean /= len(zooms)
        agree_on_ink = (mean.argmax(0) == BACKGROUND) == (first.argmax(0) == BACKGROUND)
        probs = np.where(agree_on_ink, mean, first)
        return probs, cores, found, float(factor)

    def _outputs_at(self, pixels: np.ndarray, resize: float, size: tuple[int, int]) -> np.ndarray:
        """Net outputs (K, h, w) for ``pixels`` resized by ``resize``, at ``size`` (h, w)."""
        pixels = _resized(pixels, _scaled_size(pixels.shape[:2], resize))
        outputs = self._tiled(to_tensor(pixels).numpy())
        if outputs.shape[1:] == size:
            return outputs
        return np.stack([_resized(o, size, cv2.INTER_LINEAR) for o in outputs])

    def _tiled(self, x: np.ndarray) -> np.ndarray:
        """Net outputs (K, H, W) for one input (C, H, W), in overlapping tiles when large."""
        _, height, width = x.shape
        rows = _tile_starts(height, self.tile_size, self.overlap)
        cols = _tile_starts(width, self.tile_size, self.overlap)
        out = None
        half = self.overlap // 2
        for top in rows:
            for left in cols:
                tile = x[:, top : top + self.tile_size, left : left + self.tile_size]
                result = self._run_padded(tile)
                if out is None:
                    out = np.empty((result.shape[0], height, width), np.float32)
                y0 = 0 if top == 0 else half
                x0 = 0 if left == 0 else half
                out[:, top + y0 : top + result.shape[1], left + x0 : left + result.shape[2]] = (
                    result[:, y0:, x0:]
                )
        return out

    def _run_padded(self, tile: np.ndarray) -> np.ndarray:
        _, h, w = tile.shape
        m = self.backend.multiple
        padded = np.pad(tile, ((0, 0), (0, -h % m), (0, -w % m)), mode="edge")
        return self.backend(padded[None])[0, :, :h, :w]


def _one_steep_line(digits: list[Instance], text: str) -> bool:
    """Whether ``digits`` (in the input's pixels), read level as ``text``, are one line of
    at least MIN_LINE_DIGITS that the input's own reading order splits into several: a
    number climbing too steeply for it."""
    return len(digits) >= MIN_LINE_DIGITS and "\n" not in text and len(reading_order(digits)) > 1


def _sureness(result: Segmentation) -> float:
    """The mean score of ``result``'s digits (0 without any)."""
    return float(np.mean([digit.score for digit in result.instances])) if result.instances else 0.0


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


def _resolve_polarity(gray: np.ndarray, polarity: str) -> str:
    """``polarity`` checked, and detected from ``gray`` when it is ``auto``."""
    if polarity not in POLARITIES:
        raise ValueError(f"polarity must be one of {POLARITIES}, got {polarity!r}")
    return detect_polarity(gray) if polarity == "auto" else polarity


def trained_polarities(spec: dict) -> set[str]:
    """Ink polarities a model saw in training, from its canvas spec."""
    styles = spec.get("backgrounds", CanvasSpec().backgrounds)
    backgrounds = {k for k, v in styles.items() if v > 0}
    seen = {"dark_on_light"} if "paper" in backgrounds else set()
    if backgrounds - {"paper"}:
        polarity = spec.get("polarity", "light_on_dark")
        seen |= {"light_on_dark", "dark_on_light"} if polarity == "random" else {polarity}
    return seen


def detect_polarity(gray: np.ndarray) -> str:
    """``dark_on_light`` when most of the image is light (paper), else ``light_on_dark``."""
    return "dark_on_light" if np.median(gray) > 127 else "light_on_dark"


def estimate_scale(light: np.ndarray, digit_height: float) -> float:
    """Factor that brings the typical ink height of ``light`` (uint8 light ink on dark) to
    ``digit_height``, within MIN_SCALE..MAX_SCALE; 1 when no part of the ink is large enough
    to measure, and when the factor is within 0.8..1.25 (digit sizes the net was trained on).

    The typical height is the median height of the connected parts of the ink
    (:func:`~digitseg.inference.ink.ink_mask`, its ruled lines left out:
    :func:`~digitseg.inference.ink.without_rules`) counted by pixels
    (:func:`~digitseg.postprocess.typical_height`), among parts of at least 12 px and 6 rows,
    so that grain, dots and broken strokes do not pull it down (an image without ink gives
    what its grain gives).
    """
    height = typical_height(without_rules(ink_mask(light)), min_area=12, min_height=6)
    if height == 0:
        return 1.0
    factor = float(np.clip(digit_height / height, MIN_SCALE, MAX_SCALE))
    return 1.0 if 0.8 <= factor <= 1.25 else factor


def _scaled_size(shape: tuple[int, ...], factor: float) -> tuple[int, int]:
    """(h, w): an image of ``shape`` (H, W, ...) resized by ``factor``, at least 1 px."""
    return max(1, round(shape[0] * factor)), max(1, round(shape[1] * factor))


def _resized(array: np.ndarray, size: tuple[int, int], interpolation: int | None = None):
    """``array`` (H, W, ...) resized to ``size`` (h, w): by default area-averaged when
    shrunk, linear when enlarged."""
    if array.shape[:2] == size:
        return array
    if interpolation is None:
        shrunk = size[0] * size[1] < array.shape[0] * array.shape[1]
        interpolation = cv2.INTER_AREA if shrunk else cv2.INTER_LINEAR
    return cv2.resize(array, size[::-1], interpolation=interpolation)


def _class_map(probs: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """uint8 (H, W) class map of ``probs`` (11, h, w) at ``size`` (H, W): ink where the most
    probable digit beats the background, that margin resized linearly (smooth outlines
    without resizing all 11 maps), each ink pixel the most probable digit of the nearest ink
    pixel of ``probs``. At ``probs``' own size, its argmax."""
    digits = probs[:NUM_DIGITS]
    margin = probs[BACKGROUND] - digits.max(0)
    best = digits.argmax(0).astype(np.uint8)
    ink = margin <= 0
    if size != probs.shape[1:] and ink.any():
        # A background pixel's best digit means nothing: take its nearest ink pixel's.
        _, (rows, cols) = ndimage.distance_transform_edt(~ink, return_indices=True)
        best = best[rows, cols]
    margin = _resized(margin, size, cv2.INTER_LINEAR)
    best = _resized(best, size, cv2.INTER_NEAREST_EXACT)
    return np.where(margin <= 0, best, BACKGROUND).astype(np.uint8)


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

"""One image on its way to the net: a :class:`Page`, and the steps that prepare it.

A Page is built once per image. Its grey pixels, light ink (ink light on dark) and ink
mask are worked out once, when first asked for, and each step that changes the pixels
makes a new Page whose ``to_image`` adds the step's own 2x3 affine map to those before it.
The steps, in order (:func:`prepare`; after the first, :data:`STEPS`):

1. :func:`level_pages`: lines of writing that climb or fall across the image rotated level
   (:mod:`~digitseg.inference.rotation`); with the rotation estimated, the image as it is
   too, so that the Segmenter can keep the surer reading;
2. :func:`paint_over_box_lines`: the upright lines of a form's boxes or of squared paper
   painted over (:mod:`~digitseg.inference.lines`);
3. :func:`shear_upright`: writing leaning far more than MNIST's sheared upright
   (:mod:`~digitseg.inference.slant`);
4. :func:`normalise_size`: the factor that brings the digits to the training height.

The net reads a prepared Page at that factor (:attr:`Page.read_shape`), and what it finds
is carried back into the input's pixels by one map, :meth:`Page.to_input`.
"""

from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np

from digitseg.data.transforms import match_channels
from digitseg.inference.lines import without_box_lines
from digitseg.inference.rotation import level_rotation
from digitseg.inference.settings import DEFAULT_ESTIMATES, POLARITIES, Estimates, ReadSettings
from digitseg.inference.slant import shear, upright_shear
from digitseg.postprocess import typical_height
from digitseg.postprocess.warp import IDENTITY, compose, invert, resize_matrix
from digitseg.utils.ink import detect_polarity, ink_mask, light_ink, without_rules
from digitseg.utils.rotation import rotate


@dataclass(frozen=True, eq=False)
class Page:
    """An image as the steps have made it so far.

    ``image``: uint8 (H, W) or (H, W, 3) pixels; ``polarity``: its ink's, resolved;
    ``digit_height``: the height, px, of the net's training digits (what
    :func:`normalise_size` brings the digits to); ``to_image``: the (2, 3) map from the
    input's pixels to ``image``'s; ``input_shape``: the input's (H, W); ``rotation``,
    ``slant``: the degrees and the shear (px per row) the steps applied (0: none);
    ``scale``: the factor the net reads ``image`` at (None until :func:`normalise_size`).
    """

    image: np.ndarray
    polarity: str
    digit_height: float
    to_image: np.ndarray = field(default_factory=IDENTITY.copy)
    input_shape: tuple[int, int] = (0, 0)
    rotation: float = 0.0
    slant: float = 0.0
    scale: float | None = None

    @classmethod
    def of(cls, image: np.ndarray, polarity: str, digit_height: float) -> "Page":
        """The Page of an input ``image`` whose ink's ``polarity`` may be ``auto``, for a
        net trained on digits ``digit_height`` px tall."""
        gray = match_channels(image, 1)
        found = resolve_polarity(gray, polarity)
        page = cls(image, found, digit_height, input_shape=image.shape[:2])
        page.__dict__["gray"] = gray  # the cached property, worked out already
        return page

    @cached_property
    def gray(self) -> np.ndarray:
        return match_channels(self.image, 1)

    @cached_property
    def light(self) -> np.ndarray:
        """The grey pixels as light ink on dark."""
        return light_ink(self.gray, self.polarity)

    @cached_property
    def ink(self) -> np.ndarray:
        """Bool (H, W): where the ink is (:func:`~digitseg.utils.ink.ink_mask`)."""
        return ink_mask(self.light)

    def warped(self, image: np.ndarray, matrix: np.ndarray, **changes) -> "Page":
        """A Page of ``image``, made from this one's by ``matrix``; ``changes`` are fields."""
        return replace(self, image=image, to_image=compose(matrix, self.to_image), **changes)

    @property
    def read_shape(self) -> tuple[int, int]:
        """(h, w): the image's size at :attr:`scale`."""
        if self.scale is None:
            raise ValueError("the page has no scale yet: run normalise_size first")
        return scaled_size(self.image.shape, self.scale)

    def to_input(self) -> np.ndarray:
        """The map from the pixels the net reads (:attr:`read_shape`) to the input's."""
        to_read = resize_matrix(self.image.shape[:2], self.read_shape)
        return invert(compose(to_read, self.to_image))


def prepare(image: np.ndarray, settings: ReadSettings, digit_height: float) -> list[Page]:
    """The Pages the net reads ``image`` as: one, or two where the rotation is estimated
    (:func:`level_pages`), each then through :data:`STEPS` in order; ``digit_height`` is the
    training digits' height, px."""
    pages = []
    for page in level_pages(Page.of(image, settings.polarity, digit_height), settings):
        for step in STEPS:
            page = step(page, settings)
        pages.append(page)
    return pages


def level_pages(page: Page, settings: ReadSettings) -> list[Page]:
    """``page`` rotated by ``settings.rotation``; with it None, ``page`` as it is and, where
    :func:`~digitseg.inference.rotation.level_rotation` finds its lines climbing, rotated
    level too."""
    if settings.rotation is not None:
        return [rotated(page, float(settings.rotation))]
    degrees = level_rotation(page.ink, settings.estimates)
    return [page] if degrees == 0 else [page, rotated(page, degrees)]


def rotated(page: Page, degrees: float) -> Page:
    """``page`` rotated by ``degrees`` counter-clockwise onto a canvas that holds it all."""
    if degrees == 0:
        return page
    image, matrix = rotate(page.image, degrees)
    return page.warped(image, matrix, rotation=degrees)


def paint_over_box_lines(page: Page, settings: ReadSettings) -> Page:
    """``page`` with the lines of its boxes or squared paper painted over, if it has any
    (what a line is needs no setting)."""
    cleaned = without_box_lines(page.image, page.light)
    return page if cleaned is page.image else page.warped(cleaned, IDENTITY)


def shear_upright(page: Page, settings: ReadSettings) -> Page:
    """``page`` sheared by ``settings.slant``, or (None) by the shear that sets writing
    leaning far more than the training digits upright
    (:func:`~digitseg.inference.slant.upright_shear`)."""
    if settings.slant is None:
        amount = upright_shear(page.ink, settings.estimates)
    else:
        amount = float(settings.slant)
    if amount == 0:
        return page
    image, matrix = shear(page.image, amount)
    return page.warped(image, matrix, slant=amount)


def normalise_size(page: Page, settings: ReadSettings) -> Page:
    """``page`` with the scale it is read at: ``settings.scale``, or (None) the factor that
    brings its digits to ``page.digit_height`` (:func:`estimate_scale`)."""
    scale = settings.scale
    if scale is None:
        scale = estimate_scale(page.ink, page.digit_height, settings.estimates)
    return replace(page, scale=scale)


# What is done to each levelled Page, in order: each step maps a Page and the reading
# settings to a Page.
STEPS = (paint_over_box_lines, shear_upright, normalise_size)


def resolve_polarity(gray: np.ndarray, polarity: str) -> str:
    """``polarity`` checked, and detected from ``gray`` when it is ``auto``."""
    if polarity not in POLARITIES:
        raise ValueError(f"polarity must be one of {POLARITIES}, got {polarity!r}")
    return detect_polarity(gray) if polarity == "auto" else polarity


def estimate_scale(
    ink: np.ndarray, digit_height: float, estimates: Estimates = DEFAULT_ESTIMATES
) -> float:
    """Factor that brings the typical height of ``ink`` (bool (H, W), an image's ink mask)
    to ``digit_height``, within ``estimates.min_scale..max_scale``; 1 when no part of the
    ink is large enough to measure, and when the factor is within
    ``estimates.trained_scales`` (digit sizes the net was trained on).

    The typical height is the median height of the connected parts of the ink, its ruled
    lines left out (:func:`~digitseg.utils.ink.without_rules`), counted by pixels
    (:func:`~digitseg.postprocess.typical_height`), among parts of at least
    ``estimates.min_part_area`` px and ``estimates.min_part_height`` rows, so that grain,
    dots and broken strokes do not pull it down (an image without ink gives what its grain
    gives).
    """
    height = typical_height(
        without_rules(ink),
        min_area=estimates.min_part_area,
        min_height=estimates.min_part_height,
    )
    if height == 0:
        return 1.0
    factor = float(np.clip(digit_height / height, estimates.min_scale, estimates.max_scale))
    low, high = estimates.trained_scales
    return 1.0 if low <= factor <= high else factor


def scaled_size(shape: tuple[int, ...], factor: float) -> tuple[int, int]:
    """(h, w): an image of ``shape`` (H, W, ...) resized by ``factor``, at least 1 px."""
    return max(1, round(shape[0] * factor)), max(1, round(shape[1] * factor))

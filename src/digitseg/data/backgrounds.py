"""Background styles: turn a chunk of ink layers (0-255, digit ink white) into images.

``black`` is MNIST-like (light ink on black); ``noise`` adds a grey level and pixel noise;
``paper`` is dark ink on light paper with a brightness gradient, texture, optional ruled
lines, ink colours, blur and noise. Textures and noise are cropped from fixed banks made
once per canvas size, so painting stays a pure function of the canvas's random streams.

Paper is computed on (H, 3W) rows, the layout of the finished RGB image: numpy is many times
slower on a trailing axis of 3, and this way no channel is ever interleaved.
"""

from functools import lru_cache

import cv2
import numpy as np

from digitseg.data.rng import CounterRandom
from digitseg.data.spec import BACKGROUND_STYLES, CanvasSpec

_BANKS = 4
# Dark ink colours (RGB): black, blue, pencil grey, dark blue.
_INK_COLOURS = np.array([[20, 20, 25], [25, 35, 120], [70, 70, 75], [15, 25, 70]], np.float32)
_RULE_DARKENING = np.array([55, 40, 10], np.float32)
_BLUR_PROB = 0.5
# Blur sigmas from which a 5x5 kernel is used instead of 3x3.
_WIDE_BLUR = 0.8

BLACK, NOISE, PAPER = (BACKGROUND_STYLES.index(s) for s in ("black", "noise", "paper"))


@lru_cache(maxsize=8)
def _banks(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Smooth paper textures and white noise, (banks, 2H, 2W) float32 with unit spread."""
    rng = np.random.default_rng(20_241_126)
    shape = (_BANKS, 2 * height, 2 * width)
    noise = rng.standard_normal(shape).astype(np.float32)
    texture = np.zeros(shape, np.float32)
    for sigma in (1.0, 4.0, 12.0):
        layer = rng.standard_normal(shape).astype(np.float32)
        for i in range(_BANKS):
            texture[i] += cv2.GaussianBlur(layer[i], (0, 0), sigma)
    texture /= texture.std(axis=(1, 2), keepdims=True)
    return texture, noise


@lru_cache(maxsize=8)
def _rgb_banks(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The banks with each value repeated for the three channels: (banks, 2H, 6W)."""
    return tuple(np.repeat(bank, 3, axis=-1) for bank in _banks(height, width))


def _crops(bank: np.ndarray, rnd: CounterRandom, stream: int, height: int, width: int):
    """One (height, width) view per canvas into a random bank at a random offset.

    RGB banks (three values per pixel) are cut at pixel boundaries.
    """
    channels = bank.shape[2] // (2 * width)
    pick = rnd.integers(stream, 0, len(bank) - 1)[:, 0].tolist()
    ys = rnd.integers(stream + 1, 0, height)[:, 0].tolist()
    xs = (channels * rnd.integers(stream + 2, 0, width)[:, 0]).tolist()
    size = channels * width
    return [bank[i, y : y + height, x : x + size] for i, y, x in zip(pick, ys, xs, strict=True)]


def paint_backgrounds(
    spec: CanvasSpec,
    ink: np.ndarray,
    styles: np.ndarray,
    rnd: CounterRandom,
    stream: int,
    out: np.ndarray,
) -> None:
    """Paint ``out`` (B, H, W) uint8, or (B, H, W, 3) for RGB specs, from ``ink`` (B, H, W).

    ``ink`` may be overwritten.
    """
    n = len(ink)
    gray = np.flatnonzero(styles != PAPER)
    if gray.size:
        image = ink if gray.size == n else ink[gray]
        _paint_gray(spec, image, styles[gray], rnd.subset(gray), stream)
        if spec.is_color:
            for i, b in enumerate(gray.tolist()):
                cv2.cvtColor(image[i], cv2.COLOR_GRAY2RGB, dst=out[b])
        else:
            out[gray] = image
    paper = np.flatnonzero(styles == PAPER)
    if paper.size == n:
        _paint_paper(spec, ink, rnd, stream + 20, out)
    elif paper.size:
        painted = np.empty((paper.size,) + out.shape[1:], np.uint8)
        _paint_paper(spec, ink[paper], rnd.subset(paper), stream + 20, painted)
        out[paper] = painted


def _paint_gray(spec: CanvasSpec, image: np.ndarray, styles, rnd: CounterRandom, stream: int):
    """``black`` (the ink itself) and ``noise`` styles, then the spec's polarity, in place."""
    height, width = image.shape[1:]
    noisy = np.flatnonzero(styles == NOISE)
    if noisy.size:
        part = rnd.subset(noisy)
        level = part.between(stream, 0, 60)[:, :, None]
        amplitude = part.between(stream + 1, 4, 24)[:, :, None]
        noise = np.stack(_crops(_banks(height, width)[1], part, stream + 2, height, width))
        painted = level + image[noisy] * (1 - level / 255) + amplitude * noise
        image[noisy] = np.clip(painted, 0, 255)
    invert = {"light_on_dark": 0.0, "dark_on_light": 1.0, "random": 0.5}[spec.polarity]
    if invert:
        flip = np.flatnonzero(rnd.uniform(stream + 5)[:, 0] < invert)
        image[flip] = 255 - image[flip]


def _paint_paper(spec: CanvasSpec, ink: np.ndarray, rnd: CounterRandom, stream: int, out):
    """Dark ink on light, textured, possibly ruled paper; blurred and noisy, into ``out``."""
    n, height, width = ink.shape

    def draw(offset: int, low: float, high: float, size: int = 1) -> np.ndarray:
        return rnd.between(stream + offset, low, high, size).astype(np.float32)

    texture, noise = _rgb_banks(height, width)
    paper = np.empty((n, height, 3 * width), np.float32)
    textures = _crops(texture, rnd, stream + 4, height, width)
    noises = _crops(noise, rnd, stream + 17, height, width)
    contrast, level, amplitude = draw(3, 2, 14), draw(0, 190, 250), draw(16, 0, 8)
    for i in range(n):
        cv2.addWeighted(textures[i], float(contrast[i, 0]), noises[i], float(amplitude[i, 0]),
                        float(level[i, 0]), dst=paper[i])
    xs = np.repeat(np.linspace(-0.5, 0.5, width, dtype=np.float32), 3)
    ys = np.linspace(-0.5, 0.5, height, dtype=np.float32)
    paper += (draw(1, -35, 35) * xs)[:, None, :]
    paper += (draw(2, -35, 35) * ys)[:, :, None]
    paper *= np.tile(1 + draw(7, -0.04, 0.04, 3), width)[:, None, :]
    _rule_lines(spec, paper, rnd, stream)
    colour_id = rnd.integers(stream + 11, 0, len(_INK_COLOURS) - 1)[:, 0]
    colour = _INK_COLOURS[colour_id] + draw(12, -12, 12, 3)
    _blend_ink(paper, ink, colour, strength=draw(13, 0.75, 1.0)[:, 0])
    image = out.reshape(paper.shape)
    np.copyto(image, np.clip(paper, 0, 255, out=paper), casting="unsafe")

    blurred = np.flatnonzero(rnd.uniform(stream + 14)[:, 0] < _BLUR_PROB)
    sigma = rnd.between(stream + 15, 0.3, 1.1)[:, 0]
    for b in blurred.tolist():
        side = 5 if sigma[b] >= _WIDE_BLUR else 3
        cv2.GaussianBlur(out[b], (side, side), sigma[b], dst=out[b])


def _rule_lines(spec: CanvasSpec, paper: np.ndarray, rnd: CounterRandom, stream: int) -> None:
    """Darken every ``spacing``-th row of the ruled canvases (probability ``ruled_lines``)."""
    ruled = rnd.uniform(stream + 8)[:, 0] < spec.ruled_lines
    if not ruled.any():
        return
    spacing = rnd.integers(stream + 9, 12, 24)
    phase = np.floor(rnd.uniform(stream + 10) * spacing)
    rows = (np.arange(paper.shape[1]) - phase) % spacing == 0
    canvas, row = np.nonzero(rows & ruled[:, None])
    paper[canvas, row] -= np.tile(_RULE_DARKENING, paper.shape[2] // 3)


def _blend_ink(paper: np.ndarray, ink: np.ndarray, colour: np.ndarray, strength: np.ndarray):
    """Lay ink of ``colour`` (n, 3) over the paper, opaque in proportion to ink * strength."""
    pixel = np.flatnonzero(ink != 0)
    canvas = pixel // (ink.shape[1] * ink.shape[2])
    alpha = ink.reshape(-1)[pixel] * (strength[canvas] / 255)
    flat = paper.reshape(-1)
    for c in range(3):
        at = 3 * pixel + c
        under = flat[at]
        flat[at] = under + alpha * (colour[canvas, c] - under)

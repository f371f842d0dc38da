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

from digitseg.data.rng import CounterRandom, to_integers, to_range
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


@lru_cache(maxsize=8)
def _ramps(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions from -0.5 to 0.5 down the rows and along the (H, 3W) columns of paper."""
    ys = np.linspace(-0.5, 0.5, height, dtype=np.float32)
    return ys, np.repeat(np.linspace(-0.5, 0.5, width, dtype=np.float32), 3)


def _crops(bank: np.ndarray, u: np.ndarray, height: int, width: int) -> list[np.ndarray]:
    """One (height, width) view per canvas into a random bank at a random offset.

    ``u`` (n, 3) are uniforms for the bank, the row and the column. RGB banks (three values
    per pixel) are cut at pixel boundaries.
    """
    channels = bank.shape[2] // (2 * width)
    pick = to_integers(u[:, 0], 0, len(bank) - 1).tolist()
    ys = to_integers(u[:, 1], 0, height).tolist()
    xs = (channels * to_integers(u[:, 2], 0, width)).tolist()
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
        _paint_gray(spec, image, styles[gray], rnd.subset(gray).uniform(stream, 6))
        if spec.is_color:
            for i, b in enumerate(gray.tolist()):
                cv2.cvtColor(image[i], cv2.COLOR_GRAY2RGB, dst=out[b])
        else:
            out[gray] = image
    paper = np.flatnonzero(styles == PAPER)
    if paper.size == n:
        _paint_paper(spec, ink, rnd.uniform(stream + 1, _PAPER_DRAWS), out)
    elif paper.size:
        painted = np.empty((paper.size,) + out.shape[1:], np.uint8)
        _paint_paper(spec, ink[paper], rnd.subset(paper).uniform(stream + 1, _PAPER_DRAWS), painted)
        out[paper] = painted


def _paint_gray(spec: CanvasSpec, image: np.ndarray, styles: np.ndarray, u: np.ndarray) -> None:
    """``black`` (the ink itself) and ``noise`` styles, then the spec's polarity, in place.

    ``u`` (n, 6) are each canvas's uniforms: level, amplitude, polarity, noise crop.
    """
    height, width = image.shape[1:]
    noisy = np.flatnonzero(styles == NOISE)
    if noisy.size:
        level = to_range(u[noisy, 0], 0, 60)[:, None, None]
        amplitude = to_range(u[noisy, 1], 4, 24)[:, None, None]
        noise = np.stack(_crops(_banks(height, width)[1], u[noisy, 3:], height, width))
        painted = level + image[noisy] * (1 - level / 255) + amplitude * noise
        image[noisy] = np.clip(painted, 0, 255)
    invert = {"light_on_dark": 0.0, "dark_on_light": 1.0, "random": 0.5}[spec.polarity]
    flip = np.flatnonzero(u[:, 2] < invert)
    image[flip] = 255 - image[flip]


# Columns of the paper's block of uniforms (per canvas).
_LEVEL, _SLOPE_X, _SLOPE_Y, _CONTRAST, _NOISE, _STRENGTH, _INK = range(7)
_RULED, _SPACING, _PHASE, _BLUR, _SIGMA = range(7, 12)
_TINT, _COLOUR, _TEXTURE_CROP, _NOISE_CROP = (slice(i, i + 3) for i in range(12, 24, 3))
_PAPER_DRAWS = 24


def _paint_paper(spec: CanvasSpec, ink: np.ndarray, u: np.ndarray, out: np.ndarray) -> None:
    """Dark ink on light, textured, possibly ruled paper; blurred and noisy, into ``out``.

    ``u`` (n, ``_PAPER_DRAWS``) are each canvas's uniforms.
    """
    n, height, width = ink.shape
    texture, noise = _rgb_banks(height, width)
    textures = _crops(texture, u[:, _TEXTURE_CROP], height, width)
    noises = _crops(noise, u[:, _NOISE_CROP], height, width)
    contrast = to_range(u[:, _CONTRAST], 2, 14).tolist()
    amplitude = to_range(u[:, _NOISE], 0, 8).tolist()
    level = to_range(u[:, _LEVEL], 190, 250).tolist()
    paper = np.empty((n, height, 3 * width), np.float32)
    for i in range(n):
        cv2.addWeighted(textures[i], contrast[i], noises[i], amplitude[i], level[i], dst=paper[i])
    ys, xs = _ramps(height, width)
    paper += (to_range(u[:, _SLOPE_X, None], -35, 35).astype(np.float32) * xs)[:, None, :]
    paper += (to_range(u[:, _SLOPE_Y, None], -35, 35).astype(np.float32) * ys)[:, :, None]
    tint = to_range(u[:, _TINT], 0.96, 1.04).astype(np.float32)
    paper *= np.tile(tint, width)[:, None, :]
    _rule_lines(paper, u, spec.ruled_lines)
    colour_id = to_integers(u[:, _INK], 0, len(_INK_COLOURS) - 1)
    colour = _INK_COLOURS[colour_id] + to_range(u[:, _COLOUR], -12, 12).astype(np.float32)
    _blend_ink(paper, ink, colour, strength=to_range(u[:, _STRENGTH], 0.75, 1.0))
    # Paper stays far above 0 and ink colours are >= 3: |x| saturated to uint8 is a clip.
    cv2.convertScaleAbs(paper.reshape(-1, 3 * width), dst=out.reshape(-1, 3 * width))

    sigma = to_range(u[:, _SIGMA], 0.3, 1.1)
    for b in np.flatnonzero(u[:, _BLUR] < _BLUR_PROB).tolist():
        side = 5 if sigma[b] >= _WIDE_BLUR else 3
        cv2.GaussianBlur(out[b], (side, side), sigma[b], dst=out[b])


def _rule_lines(paper: np.ndarray, u: np.ndarray, probability: float) -> None:
    """Darken every ``spacing``-th row of the ruled canvases (``probability`` of ruling)."""
    ruled = u[:, _RULED] < probability
    if not ruled.any():
        return
    spacing = to_integers(u[:, _SPACING, None], 12, 24)
    phase = np.floor(u[:, _PHASE, None] * spacing)
    rows = (np.arange(paper.shape[1]) - phase) % spacing == 0
    canvas, row = np.nonzero(rows & ruled[:, None])
    paper[canvas, row] -= np.tile(_RULE_DARKENING, paper.shape[2] // 3)


def _blend_ink(paper: np.ndarray, ink: np.ndarray, colour: np.ndarray, strength: np.ndarray):
    """Lay ink of ``colour`` (n, 3) over the paper, opaque in proportion to ink * strength."""
    pixel = np.flatnonzero(ink != 0)
    canvas = pixel // (ink.shape[1] * ink.shape[2])
    alpha = ink.reshape(-1)[pixel] * (strength[canvas] / 255).astype(np.float32)
    at = 3 * pixel + np.arange(3)[:, None]  # (channel, pixel): long rows, no axis of 3
    flat = paper.reshape(-1)
    under = np.take(flat, at)
    flat[at] = under + alpha * (np.take(colour.T, canvas, axis=1) - under)

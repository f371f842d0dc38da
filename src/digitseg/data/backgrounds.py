"""Background styles: turn a batch of ink layers (0-255, digit ink white) into images.

``black`` is MNIST-like (light ink on black); ``noise`` adds a grey level and pixel noise;
``paper`` is dark ink on light paper with a brightness gradient, texture, optional ruled
lines, ink colours, blur and noise. Textures and noise are cropped from fixed banks made
once per canvas size, so painting stays a pure function of the canvas's random streams.
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


def _crops(bank: np.ndarray, rnd: CounterRandom, stream: int, height: int, width: int):
    """One (height, width) crop of a random bank at a random offset per canvas."""
    pick = rnd.integers(stream, 0, len(bank) - 1)[:, 0]
    y = rnd.integers(stream + 1, 0, height)[:, 0]
    x = rnd.integers(stream + 2, 0, width)[:, 0]
    return np.stack([bank[i, a : a + height, b : b + width] for i, a, b in zip(pick, y, x)])


def paint_backgrounds(
    spec: CanvasSpec, ink: np.ndarray, styles: np.ndarray, rnd: CounterRandom, stream: int
) -> np.ndarray:
    """Images (B, H, W) uint8, or (B, H, W, 3) when the spec has paper backgrounds."""
    n, height, width = ink.shape
    shape = (n, height, width, 3) if spec.is_color else (n, height, width)
    images = np.empty(shape, np.uint8)
    texture, noise = _banks(height, width)
    gray = np.flatnonzero(styles != PAPER)
    if gray.size:
        painted = _paint_gray(spec, ink[gray], styles[gray], rnd.subset(gray), stream, noise)
        images[gray] = painted[..., None] if spec.is_color else painted
    paper = np.flatnonzero(styles == PAPER)
    if paper.size:
        images[paper] = _paint_paper(
            spec, ink[paper], rnd.subset(paper), stream + 20, texture, noise
        )
    return images


def _paint_gray(spec, ink, styles, rnd: CounterRandom, stream: int, noise_bank) -> np.ndarray:
    """``black`` (the ink itself) and ``noise`` styles, then the spec's polarity."""
    height, width = ink.shape[1:]
    image = ink.copy()
    noisy = np.flatnonzero(styles == NOISE)
    if noisy.size:
        part = rnd.subset(noisy)
        level = part.between(stream, 0, 60)[:, :, None]
        amplitude = part.between(stream + 1, 4, 24)[:, :, None]
        noise = _crops(noise_bank, part, stream + 2, height, width)
        painted = level + ink[noisy] * (1 - level / 255) + amplitude * noise
        image[noisy] = np.clip(painted, 0, 255).astype(np.uint8)
    invert = {"light_on_dark": 0.0, "dark_on_light": 1.0, "random": 0.5}[spec.polarity]
    if invert:
        flip = np.flatnonzero(rnd.uniform(stream + 5)[:, 0] < invert)
        image[flip] = 255 - image[flip]
    return image


def _paint_paper(spec, ink, rnd: CounterRandom, stream: int, texture_bank, noise_bank):
    """Dark ink on light, textured, possibly ruled paper; blurred and noisy.

    Colour channels are computed as separate planes and interleaved once at the end:
    numpy is many times slower on a trailing axis of 3.
    """
    n, height, width = ink.shape

    def draw(offset: int, low: float, high: float, size: int = 1) -> np.ndarray:
        return rnd.between(stream + offset, low, high, size).astype(np.float32)

    ys = np.linspace(-0.5, 0.5, height, dtype=np.float32)[None, :, None]
    xs = np.linspace(-0.5, 0.5, width, dtype=np.float32)[None, None, :]
    paper = _crops(texture_bank, rnd, stream + 4, height, width)
    paper *= draw(3, 2, 14)[:, :, None]
    paper += draw(0, 190, 250)[:, :, None] + draw(1, -35, 35)[:, :, None] * xs
    paper += draw(2, -35, 35)[:, :, None] * ys

    alpha = ink.astype(np.float32)
    alpha *= draw(13, 0.75, 1.0)[:, :, None] / 255
    paper *= 1 - alpha
    ruled = rnd.uniform(stream + 8)[:, 0] < spec.ruled_lines
    spacing = rnd.integers(stream + 9, 12, 24)
    phase = np.floor(rnd.uniform(stream + 10) * spacing)
    rows = ((np.arange(height)[None, :] - phase) % spacing == 0) & ruled[:, None]
    rule_shade = rows[:, :, None] * (1 - alpha) if ruled.any() else None

    colour_id = rnd.integers(stream + 11, 0, len(_INK_COLOURS) - 1)[:, 0]
    colour = _INK_COLOURS[colour_id] + draw(12, -12, 12, 3)
    tint = 1 + draw(7, -0.04, 0.04, 3)
    noise = _crops(noise_bank, rnd, stream + 17, height, width)
    noise *= draw(16, 0, 8)[:, :, None]
    image = np.empty((n, height, width, 3), np.uint8)
    for c in range(3):
        plane = paper * tint[:, c, None, None]
        plane += alpha * colour[:, c, None, None]
        plane += noise
        if rule_shade is not None:
            plane -= rule_shade * _RULE_DARKENING[c]
        image[..., c] = np.clip(plane, 0, 255, out=plane)

    blurred = rnd.uniform(stream + 14)[:, 0] < _BLUR_PROB
    sigma = rnd.between(stream + 15, 0.3, 1.1)[:, 0]
    for b in np.flatnonzero(blurred):
        image[b] = cv2.GaussianBlur(image[b], (0, 0), sigma[b])
    return image

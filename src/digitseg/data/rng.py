"""Counter-based random numbers: each value is a pure function of (key, index, stream).

The generator draws every random quantity of canvas ``index`` from its own named
stream, so a canvas is the same whatever batch, worker or process renders it, and
whole batches are drawn with a few vectorised integer operations. Draw a block of
uniforms from one stream and map its columns with :func:`to_range` / :func:`to_integers`:
each call costs a dozen numpy operations whatever its size.
"""

import zlib

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_ELEMENT_BITS = 24


def _mix(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser: a bijection on uint64 that scrambles all bits."""
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


def split_key(seed: int, split: str) -> int:
    """One 64-bit key per (seed, split), stable across processes and Python versions."""
    word = np.array([(seed & 0xFFFFFFFF) << 32 | zlib.crc32(split.encode())], dtype=np.uint64)
    return int(_mix(word)[0])


class CounterRandom:
    """Uniform draws for a batch of canvas indices; ``stream`` names what is drawn.

    Element ``e`` of stream ``s`` for canvas ``i`` is the splitmix64 output at position
    ``s * 2**24 + e`` of a sequence seeded by ``(key, i)``.
    """

    def __init__(self, key: int, indices: np.ndarray) -> None:
        index = np.asarray(indices, dtype=np.uint64)
        self._base = _mix(np.uint64(key) + index * _GOLDEN)

    def subset(self, rows) -> "CounterRandom":
        """The same streams for a subset (index array or slice) of the batch's canvases."""
        part = CounterRandom.__new__(CounterRandom)
        part._base = self._base[rows]
        return part

    def uniform(self, stream: int, size: int = 1) -> np.ndarray:
        """Floats in [0, 1) of shape (batch, size), independent across streams and elements."""
        if size >= 1 << _ELEMENT_BITS:
            raise ValueError(f"at most {1 << _ELEMENT_BITS} draws per stream, asked {size}")
        counter = (np.uint64(stream) << np.uint64(_ELEMENT_BITS)) + np.arange(size, dtype=np.uint64)
        bits = _mix(self._base[:, None] + counter * _GOLDEN)
        return (bits >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))

    def integers(self, stream: int, low, high, size: int = 1) -> np.ndarray:
        """Integers in [low, high] (inclusive); ``low``/``high`` broadcast against (batch, size)."""
        return to_integers(self.uniform(stream, size), low, high)

    def between(self, stream: int, low, high, size: int = 1) -> np.ndarray:
        """Floats uniform in [low, high)."""
        return to_range(self.uniform(stream, size), low, high)


def to_range(u: np.ndarray, low, high) -> np.ndarray:
    """Uniforms ``u`` in [0, 1) mapped to [low, high)."""
    return low + u * (np.asarray(high) - low)


def to_integers(u: np.ndarray, low, high) -> np.ndarray:
    """Uniforms ``u`` in [0, 1) mapped to integers in [low, high] (inclusive)."""
    low = np.asarray(low)
    return (low + np.floor(u * (np.asarray(high) - low + 1))).astype(np.int64)

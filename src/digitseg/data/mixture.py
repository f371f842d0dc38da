"""Training canvases drawn from several specs of one canvas size.

Each canvas index picks its spec by weight from its own random stream, so a mixed canvas is
still a pure function of (specs, weights, digits, seed, split, index).
"""

from collections.abc import Sequence

import numpy as np

from digitseg.data.rng import CounterRandom, split_key
from digitseg.data.synth import Canvas, CanvasBatch, CanvasGenerator


class MixedGenerator:
    """Renders like a :class:`CanvasGenerator`, each canvas from one of ``generators``."""

    def __init__(self, generators: Sequence[CanvasGenerator], weights: Sequence[float]) -> None:
        sizes = {(g.spec.height, g.spec.width) for g in generators}
        if len(sizes) != 1:
            raise ValueError(f"mixed specs must share one canvas size, got {sorted(sizes)}")
        if len(weights) != len(generators) or min(weights) < 0 or sum(weights) <= 0:
            raise ValueError("data.mixture weights must be one non-negative weight per spec")
        self.generators = list(generators)
        self.spec = generators[0].spec
        self.seed = generators[0].seed
        edges = np.cumsum(weights) / np.sum(weights)
        edges[-1] = 1.0
        self._edges = edges

    def __call__(self, split: str, index: int) -> Canvas:
        return self.render(split, [index])[0]

    def render(self, split: str, indices) -> CanvasBatch:
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        draw = CounterRandom(split_key(self.seed, f"mixture/{split}"), indices).uniform(0)[:, 0]
        choice = np.searchsorted(self._edges, draw, side="right")
        color = any(g.spec.is_color for g in self.generators)
        parts = {
            k: self.generators[k].render(split, indices[choice == k]) for k in np.unique(choice)
        }
        canvases = []
        seen = dict.fromkeys(parts, 0)
        for k in choice:
            canvases.append(parts[k][seen[k]])
            seen[k] += 1
        return CanvasBatch.stacked(canvases, color)

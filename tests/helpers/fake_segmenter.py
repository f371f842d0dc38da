"""A stand-in for the Segmenter, for digitseg-segment's tests; run as a module, the CLI with it.

python -m tests.helpers.fake_segmenter [digitseg-segment options]
"""

import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from digitseg.inference import Segmentation
from digitseg.postprocess import Instance


class FakeSegmenter:
    """Finds ``digits`` digits labelled ``label`` in the middle of any image; an image one
    pixel tall raises ``failure``, one two pixels tall takes a minute (first creating the
    file ``slow_mark``, when set)."""

    config = {"model": {"net": "fake"}, "data": {"name": None}}
    backend = SimpleNamespace(name="fake")
    zooms = (1.0,)
    digits, label, failure = 1, 1, RuntimeError("boom")
    slow_mark: Path | None = None

    def __init__(self, settings):
        self.settings = settings

    @classmethod
    def from_checkpoint(cls, *args, settings, **kwargs):
        return cls(settings)

    def run(self, image):
        height, width = image.shape[:2]
        if height == 1:
            raise self.failure
        if height == 2:
            if self.slow_mark:
                self.slow_mark.touch()
            time.sleep(60)
        box = (width // 4, height // 4, width * 3 // 4, height * 3 // 4)
        mask = np.ones((box[3] - box[1], box[2] - box[0]), bool)
        digit = Instance(self.label, 0.9, box, int(mask.sum()), mask)
        labels = np.full((height, width), 10, np.uint8)
        return Segmentation([digit] * self.digits, "1" * self.digits, labels, "auto", 1.0)

    def run_batch(self, images):
        return [self.run(image) for image in images]


if __name__ == "__main__":
    from digitseg import inference, segment

    inference.Segmenter = FakeSegmenter
    FakeSegmenter.slow_mark = Path(sys.argv[1])
    sys.exit(segment.main(sys.argv[2:]))

"""The README's picture: an input, its predicted classes with one box per digit, and the
crops, top to bottom.

    python scripts/walkthrough_figure.py IMAGE OUT.png [--checkpoint models/digit_segmenter.ckpt]
    python scripts/walkthrough_figure.py --overwrite   # redraw docs/walkthrough.png
"""

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from digitseg.inference import Segmenter
from digitseg.inference.images import read_image
from digitseg.postprocess import ink_crop
from digitseg.reports.analysis import side_by_side
from digitseg.segment import DEFAULT_CHECKPOINT, DEFAULT_CLASSIFIER, classifier_option
from digitseg.viz import annotate, to_rgb

GAP = 6  # white pixels between the rows and between the crops


def figure(image: np.ndarray, segmenter: Segmenter) -> np.ndarray:
    """Input, overlay with boxes and the row of crops, stacked (RGB)."""
    result = segmenter.run(image)
    width = image.shape[1]
    gap = np.full((GAP, width, 3), 255, np.uint8)
    annotated = annotate(image, result.labels, result.instances)
    crops = crop_row([ink_crop(image, instance) for instance in result.instances], width)
    return np.concatenate([to_rgb(image), gap, annotated, gap, crops])


def crop_row(crops: list[np.ndarray], width: int) -> np.ndarray:
    """The crops side by side, as many as fit ``width``, on a white row that wide."""
    ends = np.cumsum([crop.shape[1] + GAP for crop in crops]) - GAP
    fitting = crops[: int(np.searchsorted(ends, width, side="right"))]
    row = np.full((max((c.shape[0] for c in fitting), default=1), width, 3), 255, np.uint8)
    if fitting:
        strip = side_by_side(fitting, gap=GAP)
        row[:, : strip.shape[1]] = strip
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", nargs="?", default="docs/examples/amount.jpg")
    parser.add_argument("out", nargs="?", type=Path, default=Path("docs/walkthrough.png"))
    parser.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT))
    parser.add_argument("--classifier", type=classifier_option, default=DEFAULT_CLASSIFIER)
    parser.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    args = parser.parse_args()
    if args.out.exists() and not args.overwrite:
        sys.exit(f"{args.out} exists: pass --overwrite to replace it, or name another OUT")
    if not args.out.parent.is_dir() or not cv2.haveImageWriter(str(args.out)):
        sys.exit(f"cannot write {args.out}: name a picture file (.png) in an existing folder")
    segmenter = Segmenter.from_checkpoint(args.checkpoint, classifier=args.classifier)
    picture = figure(read_image(args.image), segmenter)
    if not cv2.imwrite(str(args.out), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR)):
        sys.exit(f"could not write {args.out}")
    print(f"{args.out}: {picture.shape[1]}x{picture.shape[0]}")


if __name__ == "__main__":
    main()

"""``digitseg-segment`` / ``make segment``: one crop per digit, in reading order, for each image.

    digitseg-segment --input_dir data/test --output_dir output/segmented [--checkpoint ...]

Writes ``predictions.json`` (the contract other tools read), ``summary.csv``, the crops
``<image stem>/<k>_<label>.png`` (and ``<k>_<label>_mnist.png``, 28x28 MNIST style) and, with
``--save-masks``, ``<image stem>_mask.png`` and ``<image stem>_overlay.png``. A file that
cannot be read is listed under ``errors``; the others are written all the same. Exit code 0
when every image succeeded, 2 when some failed, 1 when nothing could start.
"""

import argparse
import csv
import json
import logging
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from digitseg import __version__
from digitseg.inference import (
    IMAGE_SUFFIXES,
    ImageReadError,
    Segmenter,
    list_images,
    read_image,
)
from digitseg.inference.images import DEFAULT_MAX_PIXELS
from digitseg.inference.segmenter import DEFAULT_ZOOMS, POLARITIES
from digitseg.models.checkpoint import CheckpointError
from digitseg.postprocess import ink_crop, mnist_crop
from digitseg.viz import annotate

DEFAULT_CHECKPOINT = Path("models/digit_segmenter.ckpt")
DEFAULT_CLASSIFIER = Path("models/digit_classifier.ckpt")
log = logging.getLogger("digitseg.segment")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="digitseg-segment",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--input_dir",
        "--input",
        dest="inputs",
        nargs="+",
        required=True,
        help="image folders and/or image files",
    )
    parser.add_argument("--output_dir", "--output", dest="output_dir", required=True)
    parser.add_argument(
        "--checkpoint",
        default=str(DEFAULT_CHECKPOINT),
        help="model file (.ckpt, or .onnx with --backend onnxruntime)",
    )
    parser.add_argument(
        "--classifier",
        type=classifier_option,
        default=DEFAULT_CLASSIFIER,
        help="digit classifier model file that reads each digit again; none: the segmenter's "
        "labels alone (default: %(default)s)",
    )
    parser.add_argument("--backend", choices=("torch", "onnxruntime"), default="torch")
    parser.add_argument("--device", default="auto", help="torch device: auto, cpu, cuda, ...")
    parser.add_argument("--recursive", action="store_true", help="also read subfolders")
    parser.add_argument(
        "--polarity",
        choices=POLARITIES,
        default="auto",
        help="ink polarity of the inputs (default: detected per image)",
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=None,
        help="resize factor that makes digits ~20 px tall (default: estimated)",
    )
    parser.add_argument(
        "--slant",
        type=float,
        default=None,
        help="shear applied before reading, px per row, positive for writing that leans "
        "right (default: estimated: writing leaning 0.55 or more is sheared by its lean "
        "less MNIST's 0.3; 0: read as it is)",
    )
    parser.add_argument(
        "--zooms",
        type=float,
        nargs="+",
        default=list(DEFAULT_ZOOMS),
        help="the net reads each image at these factors of its digit-normalised size; the "
        "first decides where the digits are, the mean of all which digit each is "
        "(default: %(default)s; --zooms 1 reads once, faster)",
    )
    parser.add_argument(
        "--save-masks",
        action="store_true",
        help="also write <stem>_mask.png and <stem>_overlay.png",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="write into a non-empty output folder"
    )
    parser.add_argument(
        "--max-pixels",
        type=int,
        default=DEFAULT_MAX_PIXELS,
        help="refuse larger images (decompression bombs)",
    )
    parser.add_argument("--tile-size", type=int, default=512)
    return parser.parse_args(argv)


def classifier_option(value: str) -> Path | None:
    """A ``--classifier`` value: a model file, or ``none`` for no classifier."""
    return None if value.lower() == "none" else Path(value)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        files, segmenter, output = _prepare(args)
    except (FileNotFoundError, FileExistsError, CheckpointError, ValueError) as error:
        print(f"digitseg-segment: error: {error}", file=sys.stderr)
        return 1
    images, errors = [], []
    for path, relative in tqdm(files, desc="segmenting", unit="image"):
        try:
            images.append(_segment_one(segmenter, path, relative, output, args))
        except (ImageReadError, OSError, ValueError) as error:
            errors.append({"file": relative.as_posix(), "error": str(error)})
            log.warning("skipped %s: %s", relative, error)
    _write_reports(output, args, segmenter, images, errors)
    print(f"{len(images)} image(s) segmented, {len(errors)} failed; results in {output}")
    return 2 if errors else 0


def _prepare(args: argparse.Namespace):
    """Inputs, model and output folder, checked before any work is done."""
    files = list_images(args.inputs, recursive=args.recursive)
    if not files:
        raise ValueError(f"no images ({' '.join(IMAGE_SUFFIXES)}) in {' '.join(args.inputs)}")
    output = Path(args.output_dir)
    if output.exists() and any(output.iterdir()) and not args.overwrite:
        raise FileExistsError(
            f"output folder {output} is not empty; pass --overwrite to write into it"
        )
    segmenter = Segmenter.from_checkpoint(
        args.checkpoint,
        backend=args.backend,
        device=args.device,
        tile_size=args.tile_size,
        zooms=args.zooms,
        classifier=args.classifier,
    )
    output.mkdir(parents=True, exist_ok=True)
    return files, segmenter, output


def _segment_one(segmenter: Segmenter, path: Path, relative: Path, output: Path, args) -> dict:
    image = read_image(path, max_pixels=args.max_pixels)
    result = segmenter.run(image, args.polarity, args.scale, args.slant)
    stem = relative.with_suffix("")
    crops_dir = output / stem
    records = []
    for k, instance in enumerate(result.instances):
        crop = Path(stem, f"{k}_{instance.label}.png")
        crops_dir.mkdir(parents=True, exist_ok=True)
        Image.fromarray(ink_crop(image, instance)).save(output / crop)
        Image.fromarray(mnist_crop(image, instance)).save(
            output / stem / f"{k}_{instance.label}_mnist.png"
        )
        records.append(
            {
                "label": int(instance.label),
                "score": round(float(instance.score), 4),
                "bbox": [int(v) for v in instance.bbox],
                "area": int(instance.area),
                "crop": crop.as_posix(),
            }
        )
    if args.save_masks:
        (output / stem).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(result.labels).save(output / f"{stem}_mask.png")
        picture = annotate(image, result.labels, result.instances)
        Image.fromarray(picture).save(output / f"{stem}_overlay.png")
    height, width = image.shape[:2]
    return {
        "file": relative.as_posix(),
        "width": width,
        "height": height,
        "text": result.text,
        "polarity": result.polarity,
        "scale": result.scale,
        "slant": result.slant,
        "instances": records,
    }


def _write_reports(output: Path, args, segmenter: Segmenter, images: list, errors: list) -> None:
    config = segmenter.config
    model = {
        "checkpoint": str(args.checkpoint),
        "version": __version__,
        "backend": args.backend,
        "zooms": list(segmenter.zooms),
        "classifier": None if args.classifier is None else str(args.classifier),
        "config": {"model": config["model"]["net"], "data": config["data"].get("name")},
    }
    with open(output / "predictions.json", "w") as file:
        json.dump({"model": model, "images": images, "errors": errors}, file, indent=1)
    with open(output / "summary.csv", "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["file", "text", "instances", "mean_score"])
        for item in images:
            scores = [i["score"] for i in item["instances"]]
            mean = f"{np.mean(scores):.4f}" if scores else ""
            writer.writerow([item["file"], item["text"], len(scores), mean])


def cli() -> None:
    """Console entry point."""
    sys.exit(main())


if __name__ == "__main__":
    cli()

"""``digitseg-segment`` / ``make segment``: one crop per digit, in reading order, for each image.

    digitseg-segment --input_dir data/test --output_dir output/segmented [--checkpoint ...]

Writes ``predictions.json`` (the contract other tools read), ``summary.csv``, the crops
``<image stem>/<k>_<label>.png`` (and ``<k>_<label>_mnist.png``, 28x28 MNIST style) and, with
``--save-masks``, ``<image stem>_mask.png`` and ``<image stem>_overlay.png``; predictions.json
names each of these files. A file given twice is read once; files of the same name in different
folders are named by their folders too (``a/y.png``, ``b/y.png``), and images whose names share
a stem keep their suffix in it (``x.png/``, ``x.jpg/``). A file that fails, whatever the error,
is listed under ``errors``; the others are written all the same, and the reports are written
even when the run is interrupted. Exit code 0 when every image succeeded, 2 when some failed,
1 when nothing could start (bad options included).
"""

import argparse
import csv
import io
import json
import logging
import math
import os
import sys
from collections import Counter
from pathlib import Path, PurePosixPath

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
from digitseg.inference.rotation import MAX_ROTATION, MAX_TILT, MIN_TILT
from digitseg.inference.segmenter import DEFAULT_ZOOMS, POLARITIES
from digitseg.inference.slant import MAX_SHEAR, MIN_LEAN, TRAINED_LEAN
from digitseg.models.checkpoint import CheckpointError
from digitseg.postprocess import ink_crop, mnist_crop
from digitseg.viz import annotate

DEFAULT_CHECKPOINT = Path("models/digit_segmenter.ckpt")
DEFAULT_CLASSIFIER = Path("models/digit_classifier.ckpt")
PREDICTIONS, SUMMARY = "predictions.json", "summary.csv"
# The keys of predictions.json's image and instance records that name a file written.
OUTPUT_KEYS = ("crop", "mnist_crop", "mask", "overlay")
log = logging.getLogger("digitseg.segment")


class _Parser(argparse.ArgumentParser):
    """Exits with 1 on a bad option: 2 means that some images failed."""

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(1, f"{self.prog}: error: {message}\n")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = _Parser(
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
        type=positive_number,
        default=None,
        help="resize factor that makes digits ~20 px tall (default: estimated)",
    )
    parser.add_argument(
        "--slant",
        type=slant_option,
        default=None,
        help="shear applied before reading, px per row, positive for writing that leans "
        f"right, at most {MAX_SHEAR} either way (default: estimated: writing leaning "
        f"{MIN_LEAN} or more, clearly, is sheared by its lean less MNIST's {TRAINED_LEAN}; "
        "0: read as it is)",
    )
    parser.add_argument(
        "--rotation",
        type=rotation_option,
        default=None,
        help="degrees to rotate each image by before reading, counter-clockwise (default: "
        f"estimated: lines of writing climbing or falling {math.degrees(math.atan(MIN_TILT)):.0f}"
        f"-{math.degrees(math.atan(MAX_TILT)):.0f} degrees across the image, clearly, are "
        "rotated level; 0: read as it is)",
    )
    parser.add_argument(
        "--keep-marks",
        action="store_true",
        help="read every mark the net takes for a digit (default: in a line of four or more, "
        "a short mark lying low between two of them is a comma or dot, and a 1 between two "
        "digits that leans far more than the rest of its line is a date's slash; both are "
        "left out; keep them where a line's digits have different writers or lie scattered)",
    )
    parser.add_argument(
        "--zooms",
        type=positive_number,
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
        "--overwrite",
        action="store_true",
        help="write into a non-empty output folder: the files an earlier run there lists in "
        "its predictions.json (crops, masks, overlays) and its reports are deleted first; "
        "other files are kept unless this run writes a file of the same name",
    )
    parser.add_argument(
        "--max-pixels",
        type=positive_integer,
        default=DEFAULT_MAX_PIXELS,
        help="refuse larger images (decompression bombs)",
    )
    parser.add_argument("--tile-size", type=positive_integer, default=512)
    return parser.parse_args(argv)


def positive_number(value: str) -> float:
    """A ``--scale`` or ``--zooms`` value: a finite number above 0."""
    number = _float(value)
    if not 0 < number < math.inf:
        raise argparse.ArgumentTypeError(f"must be a finite number above 0, got {value!r}")
    return number


def bounded_option(limit: float, unit: str):
    """The parser of an option taking a number from -``limit`` to ``limit`` ``unit``."""

    def parse(value: str) -> float:
        number = _float(value)
        if not abs(number) <= limit:  # NaN too
            raise argparse.ArgumentTypeError(
                f"must be a number from -{limit:g} to {limit:g} {unit}, got {value!r}"
            )
        return number

    return parse


# --slant: px per row within the shear the segmenter accepts; --rotation: degrees.
slant_option = bounded_option(MAX_SHEAR, "px per row")
rotation_option = bounded_option(MAX_ROTATION, "degrees")


def positive_integer(value: str) -> int:
    """A whole number above 0."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number above 0, got {value!r}")
    return number


def _float(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return math.nan


def classifier_option(value: str) -> Path | None:
    """A ``--classifier`` value: a model file, or ``none`` for no classifier."""
    return None if value.lower() == "none" else Path(value)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        files, segmenter, output = _prepare(args)
    except (OSError, CheckpointError, ValueError) as error:
        print(f"digitseg-segment: error: {error}", file=sys.stderr)
        return 1
    images, errors = [], []
    try:
        for path, name, stem in tqdm(files, desc="segmenting", unit="image"):
            try:
                images.append(_segment_one(segmenter, path, name, stem, output, args))
            except Exception as error:  # one bad file never loses the others' results
                reason = str(error)
                if not isinstance(error, ImageReadError):  # unexpected: name its type
                    reason = f"{type(error).__name__}: {reason}"
                errors.append({"file": name, "error": reason})
                log.warning("skipped %s: %s", name, reason)
    finally:  # on an interruption too: the images done are kept
        _write_reports(output, args, segmenter, images, errors)
        if len(images) + len(errors) < len(files):
            log.warning("stopped after %d of %d images", len(images) + len(errors), len(files))
    print(f"{len(images)} image(s) segmented, {len(errors)} failed; results in {output}")
    return 2 if errors else 0


def _prepare(args: argparse.Namespace):
    """(file, name, output stem) of each input, the model and the output folder, all checked
    before any work is done; with ``--overwrite``, the earlier run's files are deleted."""
    files = list_images(args.inputs, recursive=args.recursive)
    if not files:
        raise ValueError(f"no images ({' '.join(IMAGE_SUFFIXES)}) in {' '.join(args.inputs)}")
    paths, names = [path for path, _ in files], [name.as_posix() for _, name in files]
    output = Path(args.output_dir)
    if output.exists() and not output.is_dir():
        raise NotADirectoryError(
            f"output path {output} is a file; pass the path of a folder (new or empty) to "
            "--output_dir"
        )
    earlier = []
    if output.exists() and any(output.iterdir()):
        if not args.overwrite:
            raise FileExistsError(
                f"output folder {output} is not empty; pass --overwrite to replace an earlier "
                "run's results in it, or choose another folder"
            )
        earlier = _earlier_outputs(output)
    segmenter = Segmenter.from_checkpoint(
        args.checkpoint,
        backend=args.backend,
        device=args.device,
        tile_size=args.tile_size,
        zooms=args.zooms,
        classifier=args.classifier,
    )
    _delete(earlier, output)
    output.mkdir(parents=True, exist_ok=True)
    return list(zip(paths, names, _output_stems(names), strict=True)), segmenter, output


def _output_stems(names: list[str]) -> list[str]:
    """Distinct output stems (crop folder, ``<stem>_mask.png``) for distinct file names: the
    name less its suffix, or with it where that is shared (``x.png``, ``x.jpg``), numbered
    where even that is (case-insensitive file systems); no stem's outputs take the name of
    another's or of the reports."""
    short = [str(PurePosixPath(name).with_suffix("")) for name in names]
    counts = Counter(stem.casefold() for stem in short)
    taken, stems = {PREDICTIONS.casefold(), SUMMARY.casefold()}, []
    for name, stem in zip(names, short, strict=True):
        base = name if counts[stem.casefold()] > 1 else stem
        stem, k = base, 1
        while not taken.isdisjoint(_outputs_of(stem)):
            k += 1
            stem = f"{base}-{k}"
        taken |= _outputs_of(stem)
        stems.append(stem)
    return stems


def _outputs_of(stem: str) -> set[str]:
    """The names an image's outputs take at the output folder's level (casefolded)."""
    return {name.casefold() for name in (stem, f"{stem}_mask.png", f"{stem}_overlay.png")}


def _earlier_outputs(output: Path) -> list[Path]:
    """The files an earlier run wrote into ``output``, as its predictions.json lists them, and
    its reports; only paths inside ``output``."""
    record = output / PREDICTIONS
    if not record.is_file():
        return []
    try:
        images = json.loads(record.read_text())["images"]
        names = [
            item[key]
            for image in images
            for item in (image, *image["instances"])
            for key in OUTPUT_KEYS
            if key in item
        ]
        if any(Path(name).is_absolute() or ".." in Path(name).parts for name in names):
            raise ValueError("a file name outside the folder")
        paths = [output / name for name in (*names, PREDICTIONS, SUMMARY)]
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(
            f"cannot tell which files in {output} an earlier run wrote: {record} is not a "
            f"digitseg-segment record ({error!r}); delete it or choose another output folder"
        ) from error
    root = output.resolve()
    return [path for path in paths if path.resolve().is_relative_to(root)]


def _delete(paths: list[Path], output: Path) -> None:
    """Delete the files ``paths``, then the folders under ``output`` that this leaves empty."""
    for path in paths:
        if path.is_file():
            path.unlink()
    for path in paths:
        for folder in path.relative_to(output).parents[:-1]:
            try:
                (output / folder).rmdir()
            except OSError:  # not empty, or gone
                break


def _segment_one(
    segmenter: Segmenter, path: Path, name: str, stem: str, output: Path, args
) -> dict:
    """The record of one image, whose pictures are written all or none."""
    image = read_image(path, max_pixels=args.max_pixels)
    result = segmenter.run(
        image, args.polarity, args.scale, args.slant, args.rotation, not args.keep_marks
    )
    pictures, records = {}, []
    for k, instance in enumerate(result.instances):
        crop, mnist = f"{stem}/{k}_{instance.label}.png", f"{stem}/{k}_{instance.label}_mnist.png"
        pictures[crop], pictures[mnist] = ink_crop(image, instance), mnist_crop(image, instance)
        records.append(
            {
                "label": int(instance.label),
                "score": round(float(instance.score), 4),
                "bbox": [int(v) for v in instance.bbox],
                "area": int(instance.area),
                "crop": crop,
                "mnist_crop": mnist,
            }
        )
    height, width = image.shape[:2]
    record = {
        "file": name,
        "width": width,
        "height": height,
        "text": result.text,
        "polarity": result.polarity,
        "scale": result.scale,
        "slant": result.slant,
        "rotation": result.rotation,
        "instances": records,
    }
    if args.save_masks:
        record["mask"], record["overlay"] = f"{stem}_mask.png", f"{stem}_overlay.png"
        pictures[record["mask"]] = result.labels
        pictures[record["overlay"]] = annotate(image, result.labels, result.instances)
    _write_pictures(output, pictures)
    return record


def _write_pictures(output: Path, pictures: dict[str, np.ndarray]) -> None:
    """Write each picture to ``output / <its name>``; on a failure, none stays."""
    written = []
    try:
        for name, picture in pictures.items():
            written.append(output / name)
            written[-1].parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(picture).save(written[-1])
    except BaseException:
        _delete(written, output)
        raise


def _write_reports(output: Path, args, segmenter: Segmenter, images: list, errors: list) -> None:
    config = segmenter.config
    model = {
        "checkpoint": str(args.checkpoint),
        "version": __version__,
        "backend": args.backend,
        "zooms": list(segmenter.zooms),
        "classifier": None if args.classifier is None else str(args.classifier),
        "drop_marks": not args.keep_marks,
        "config": {"model": config["model"]["net"], "data": config["data"].get("name")},
    }
    predictions = json.dumps({"model": model, "images": images, "errors": errors}, indent=1)
    summary = io.StringIO(newline="")
    writer = csv.writer(summary)
    writer.writerow(["file", "text", "instances", "mean_score"])
    for item in images:
        scores = [i["score"] for i in item["instances"]]
        mean = f"{np.mean(scores):.4f}" if scores else ""
        writer.writerow([item["file"], item["text"], len(scores), mean])
    for name, text in ((PREDICTIONS, predictions), (SUMMARY, summary.getvalue())):
        partial = output / f".{name}.partial"  # whole or not at all, even if interrupted
        partial.write_text(text, newline="")
        os.replace(partial, output / name)


def cli() -> None:
    """Console entry point."""
    sys.exit(main())


if __name__ == "__main__":
    cli()

"""``digitseg-segment`` / ``make segment``: one crop per digit, in reading order, for each image.

    digitseg-segment --input_dir data/test --output_dir output/segmented [--checkpoint ...]
    digitseg-segment scan.jpg photo.png [--json -]

Writes ``predictions.json`` (the contract other tools read), ``summary.csv`` (one row per
image), ``instances.csv`` (one row per digit), the crops ``<image stem>/<k>_<label>.png`` (and
``<k>_<label>_mnist.png``, 28x28 MNIST style) and, with ``--save-masks``,
``<image stem>_mask.png`` and ``<image stem>_overlay.png``; predictions.json names each of these
files. Without ``--output_dir`` nothing is written: each image's file, text and mean score are
printed, one line per image, tab-separated (``--json -``: predictions.json's content instead);
stdout holds nothing else, messages go to stderr. A file given twice is read once; files of
the same name in different folders are named by their folders too (``a/y.png``, ``b/y.png``),
and images whose names share a stem keep their suffix in it (``x.png/``, ``x.jpg/``). Nothing
is written outside the output folder: links in it are replaced (files) or refused (folders),
never followed. A file that fails, whatever the error, is listed under ``errors`` (FIFOs and
devices among the inputs too, never opened); entries of input folders that are not images
are listed under ``skipped``, with the reason. Images are read ``--batch-size`` at a time,
with the same results as one by one. The reports are written even when the run is stopped
(Ctrl-C, SIGTERM, SIGHUP), with every image read before the batch in progress. Exit code 0
when every image succeeded, 2 when some failed, 1 when nothing could start (bad options
included), 128 + the signal's number when stopped by one (130 SIGINT, 143 SIGTERM, 129
SIGHUP).
"""

import argparse
import contextlib
import csv
import io
import json
import logging
import math
import os
import signal
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image
from tqdm import tqdm

from digitseg import __version__
from digitseg.inference import IMAGE_SUFFIXES, ImageReadError, read_image
from digitseg.inference.backend_names import BACKENDS
from digitseg.inference.images import DEFAULT_MAX_PIXELS, list_images
from digitseg.inference.settings import (
    MAX_ROTATION,
    MAX_SHEAR,
    POLARITIES,
    Estimates,
    ReadSettings,
    reading_preset,
    reading_presets,
)
from digitseg.postprocess import ink_crop, mnist_crop
from digitseg.utils.batches import batched
from digitseg.utils.files import delete_files, paths_inside
from digitseg.utils.options import classifier_option
from digitseg.utils.output_folder import OutputFolder
from digitseg.utils.stop_signals import StopSignals, stop_signal

if TYPE_CHECKING:  # torch and the model are imported when the run starts, not for --help
    from digitseg.inference import Segmentation, Segmenter

DEFAULT_CHECKPOINT = Path("models/digit_segmenter.ckpt")
DEFAULT_CLASSIFIER = Path("models/digit_classifier.ckpt")
PREDICTIONS, SUMMARY, INSTANCES = "predictions.json", "summary.csv", "instances.csv"
REPORTS = (PREDICTIONS, SUMMARY, INSTANCES)
# The keys of predictions.json's image and instance records that name a file written.
OUTPUT_KEYS = ("crop", "mnist_crop", "mask", "overlay")
# The options that override the --reading preset's settings.
READING_OPTIONS = ("polarity", "scale", "slant", "rotation", "zooms")
log = logging.getLogger("digitseg.segment")


class _Parser(argparse.ArgumentParser):
    """Exits with 1 on a bad option: 2 means that some images failed."""

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(1, f"{self.prog}: error: {message}\n")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    estimates = Estimates()  # the thresholds of the estimates, as --help tells them
    tilts = [math.degrees(math.atan(climb)) for climb in (estimates.min_tilt, estimates.max_tilt)]
    parser = _Parser(
        prog="digitseg-segment",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "images",
        nargs="*",
        metavar="IMAGE",
        help="image files and/or folders to read (before any option that takes several values, "
        "such as --zooms, or after --)",
    )
    parser.add_argument(
        "--input_dir",
        "--input",
        dest="inputs",
        nargs="+",
        action="extend",
        default=[],
        metavar="PATH",
        help="image folders and/or image files (the same as naming them as IMAGE)",
    )
    parser.add_argument(
        "--output_dir",
        "--output",
        dest="output_dir",
        help="folder to write the reports and crops into (default: nothing is written; one "
        "line per image is printed: file, text, mean score)",
    )
    parser.add_argument(
        "--json",
        type=stdout_option,
        metavar="-",
        help="print predictions.json's content to stdout (and nothing else there)",
    )
    parser.add_argument(
        "--checkpoint",
        default=str(DEFAULT_CHECKPOINT),
        help="model file (.ckpt, or an .onnx export)",
    )
    parser.add_argument(
        "--classifier",
        type=classifier_option,
        default=DEFAULT_CLASSIFIER,
        help="digit classifier model file that reads each digit again; none: the segmenter's "
        "labels alone (default: %(default)s)",
    )
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default="auto",
        help="how the net runs: auto is ONNX Runtime on the CPU (its export of the model "
        "file is cached in $DIGITSEG_CACHE_DIR or ~/.cache/digitseg), PyTorch on a GPU; "
        "an .onnx model file runs in ONNX Runtime (default: %(default)s)",
    )
    parser.add_argument("--device", default="auto", help="torch device: auto, cpu, cuda, ...")
    parser.add_argument("--recursive", action="store_true", help="also read subfolders")
    parser.add_argument(
        "--reading",
        choices=reading_presets(),
        default="document",
        help="reading preset (conf/reading/): document estimates everything from each image; "
        "canvas reads generated canvases as they are "
        "(digits at training size, level); the options below override it "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--polarity",
        choices=POLARITIES,
        default=argparse.SUPPRESS,
        help="ink polarity of the inputs (default: detected per image)",
    )
    parser.add_argument(
        "--scale",
        type=positive_number,
        default=argparse.SUPPRESS,
        help="resize factor that makes digits ~20 px tall (default: estimated)",
    )
    parser.add_argument(
        "--slant",
        type=slant_option,
        default=argparse.SUPPRESS,
        help="shear applied before reading, px per row, positive for writing that leans "
        f"right, at most {MAX_SHEAR} either way (default: estimated: writing leaning "
        f"{estimates.min_lean} or more, clearly, is sheared by its lean less MNIST's "
        f"{estimates.trained_lean}; 0: read as it is)",
    )
    parser.add_argument(
        "--rotation",
        type=rotation_option,
        default=argparse.SUPPRESS,
        help="degrees to rotate each image by before reading, counter-clockwise (default: "
        f"estimated: lines of writing climbing or falling {tilts[0]:.0f}-{tilts[1]:.0f} degrees "
        "across the image, clearly, are rotated level; 0: read as it is)",
    )
    parser.add_argument(
        "--zooms",
        type=positive_number,
        nargs="+",
        default=argparse.SUPPRESS,
        help="the net reads each image at these factors of its digit-normalised size; the "
        "first decides where the digits are, the mean of all which digit each is "
        "(default: the preset's, 1.0 1.3; --zooms 1 reads once, faster)",
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
        help="refuse images with more pixels: decompression bombs, and images whose reading "
        "would not fit a laptop's memory and time (both grow with the pixels read; see the "
        "README) (default: %(default)s)",
    )
    parser.add_argument("--tile-size", type=positive_integer, default=512)
    parser.add_argument(
        "--batch-size",
        type=positive_integer,
        default=16,
        help="images read together: the net and the classifier run on them as batches, "
        "faster; the readings are the same whatever the size (1: one image at a time) "
        "(default: %(default)s)",
    )
    args = parser.parse_intermixed_args(argv)
    args.inputs += args.images
    if not args.inputs:
        parser.error("name the images to read (IMAGE or --input_dir)")
    if args.output_dir is None and (args.save_masks or args.overwrite):
        parser.error("--save-masks and --overwrite are about --output_dir: name one")
    return args


def reading_settings(args: argparse.Namespace) -> ReadSettings:
    """The ``--reading`` preset with the reading options given on the command line."""
    given = {key: getattr(args, key) for key in READING_OPTIONS if hasattr(args, key)}
    return reading_preset(args.reading, **given)


def stdout_option(value: str) -> str:
    """A ``--json`` value: ``-``, stdout (predictions.json itself goes into --output_dir)."""
    if value != "-":
        raise argparse.ArgumentTypeError(
            f"only - (stdout) is taken, got {value!r}; --output_dir writes predictions.json"
        )
    return value


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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    stdout = sys.stdout  # the results' only; anything else printed goes to stderr
    with StopSignals() as signals, contextlib.redirect_stdout(sys.stderr):
        try:
            return _run(args, signals, stdout)
        except KeyboardInterrupt as stop:
            name = stop_signal(stop)
            print(f"digitseg-segment: stopped by {name.name} before any image was read")
            return 128 + name
        except BrokenPipeError:  # the reader of the results left (``| head``)
            with contextlib.suppress(OSError, ValueError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), stdout.fileno())
            return 128 + signal.SIGPIPE


def _run(args: argparse.Namespace, signals: StopSignals, stdout) -> int:
    """Read every image; the reports (or the lines printed) are made whatever stops the run."""
    from digitseg.models.checkpoint import CheckpointError  # torch: once a run starts

    try:
        listing, files, segmenter, output = _prepare(args)
    except (OSError, CheckpointError, ValueError) as error:
        print(f"digitseg-segment: error: {error}")
        return 1
    errors = [{"file": name.as_posix(), "error": reason} for name, reason in listing.unreadable]
    for item in errors:
        log.warning("failed %s: %s", item["file"], item["error"])
    images, stop = [], None
    try:
        readings = _readings(segmenter, files, args)
        with tqdm(readings, total=len(files), desc="segmenting", unit="image") as progress:
            for name, stem, image, result in progress:
                try:
                    if isinstance(result, Exception):
                        raise result
                    record, pictures = _outputs(image, result, name, stem, args)
                    with signals.deferred():  # its pictures written and its record kept, or none
                        if output is not None:
                            _write_pictures(output, pictures)
                        images.append(record)
                except Exception as error:  # one bad file never loses the others' results
                    reason = str(error)
                    if not isinstance(error, ImageReadError):  # unexpected: name its type
                        reason = f"{type(error).__name__}: {reason}"
                    errors.append({"file": name, "error": reason})
                    log.warning("failed %s: %s", name, reason)
                    continue
                if output is None and args.json is None:
                    progress.write(_line(record), file=stdout)
                    stdout.flush()
    except KeyboardInterrupt as interruption:
        stop = stop_signal(interruption)
    code = 0
    try:
        with signals.deferred():  # the reports whole, whatever comes
            code = _report(output, args, segmenter, images, errors, listing, stdout)
    except KeyboardInterrupt as late:
        stop = stop or stop_signal(late)
    done, total = len(images) + len(errors), len(files) + len(listing.unreadable)
    if stop:
        print(f"digitseg-segment: stopped by {stop.name} after {done} of {total} images")
        return 128 + stop
    return code or (2 if errors else 0)


def _prepare(args: argparse.Namespace):
    """The listing of the inputs, (file, name, output stem) of each image, the model and the
    output folder (None: none), all checked before any work is done; with ``--overwrite``,
    the earlier run's files are deleted."""
    from digitseg.inference import Segmenter  # torch and the model: once a run starts

    listing = list_images(args.inputs, recursive=args.recursive)
    for name, reason in listing.skipped:
        log.info("skipped %s: %s", name.as_posix(), reason)
    if not listing.images and not listing.unreadable:
        raise ValueError(f"no images ({' '.join(IMAGE_SUFFIXES)}) in {' '.join(args.inputs)}")
    paths = [path for path, _ in listing.images]
    names = [name.as_posix() for _, name in listing.images]
    output = None if args.output_dir is None else Path(args.output_dir)
    earlier = [] if output is None else _earlier_run(output, args.overwrite)
    segmenter = Segmenter.from_checkpoint(
        args.checkpoint,
        backend=args.backend,
        device=args.device,
        tile_size=args.tile_size,
        settings=reading_settings(args),
        classifier=args.classifier,
    )
    if output is not None:
        _make_writable(output)
        delete_files(earlier, output)
    stems = [None] * len(names) if output is None else _output_stems(names)
    files = list(zip(paths, names, stems, strict=True))
    return listing, files, segmenter, None if output is None else OutputFolder(output)


def _earlier_run(output: Path, overwrite: bool) -> list[Path]:
    """The files of an earlier run in ``output`` to delete first: none when ``output`` is new
    or empty; a non-empty folder is refused unless ``overwrite``."""
    if output.exists() and not output.is_dir():
        raise NotADirectoryError(
            f"output path {output} is a file; pass the path of a folder (new or empty) to "
            "--output_dir"
        )
    if not (output.exists() and any(output.iterdir())):
        return []
    if not overwrite:
        raise FileExistsError(
            f"output folder {output} is not empty; pass --overwrite to replace an earlier "
            "run's results in it, or choose another folder"
        )
    return _earlier_outputs(output)


def _make_writable(output: Path) -> None:
    """Make the folder ``output`` if it is missing, and check that files can be written in it."""
    try:
        output.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=output):
            pass
    except OSError as error:
        raise OSError(
            f"cannot write into the output folder {output} ({error.strerror}); choose another "
            "--output_dir"
        ) from error


def _output_stems(names: list[str]) -> list[str]:
    """Distinct output stems (crop folder, ``<stem>_mask.png``) for distinct file names: the
    name less its suffix, or with it where that is shared (``x.png``, ``x.jpg``), numbered
    where even that is (case-insensitive file systems); no stem's outputs take the name of
    another's or of the reports, and no part of a stem is ``.`` or ``..``."""
    short = [_plain(str(PurePosixPath(name).with_suffix(""))) for name in names]
    counts = Counter(stem.casefold() for stem in short)
    taken, stems = {name.casefold() for name in REPORTS}, []
    for name, stem in zip(names, short, strict=True):
        base = _plain(name) if counts[stem.casefold()] > 1 else stem
        stem, k = base, 1
        while not taken.isdisjoint(_outputs_of(stem)):
            k += 1
            stem = f"{base}-{k}"
        taken |= _outputs_of(stem)
        stems.append(stem)
    return stems


def _plain(stem: str) -> str:
    """``stem`` with its parts made of dots alone (``.``, ``..``: ``...jpg`` less its suffix)
    spelt with underscores, so that each names a folder of its own."""
    return "/".join(
        part.replace(".", "_") if not part.strip(".") else part for part in stem.split("/")
    )


def _outputs_of(stem: str) -> set[str]:
    """The names an image's outputs take at the output folder's level (casefolded)."""
    return {name.casefold() for name in (stem, f"{stem}_mask.png", f"{stem}_overlay.png")}


def _earlier_outputs(output: Path) -> list[Path]:
    """The files an earlier run wrote into ``output``, as its predictions.json lists them, and
    its reports."""
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
        if not all(isinstance(name, str) for name in names):
            raise TypeError("a file name that is not a string")
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(
            f"cannot tell which files in {output} an earlier run wrote: {record} is not a "
            f"digitseg-segment record ({error!r}); delete it or choose another output folder"
        ) from error
    try:
        return paths_inside(output, [*names, *REPORTS])
    except ValueError as error:
        raise ValueError(
            f"{record} names files outside {output} ({error}); delete it or choose another "
            "output folder"
        ) from error


def _readings(segmenter: "Segmenter", files: list, args) -> Iterator[tuple]:
    """Each file's name, output stem, image and reading, in order, the files read in groups
    of ``--batch-size``; where a file failed, its reading is the error (and its image too,
    where it failed to load)."""
    for group in batched(files, args.batch_size):
        readings = _read_group(segmenter, [path for path, _, _ in group], args)
        for (_, name, stem), (image, result) in zip(group, readings, strict=True):
            yield name, stem, image, result


def _read_group(segmenter: "Segmenter", paths: list[Path], args) -> list[tuple]:
    """Each file's image and its reading (or the error that failed the file), in order: the
    images that load are read together; if that fails, one at a time, so that only the
    image that fails has an error for its reading."""
    images = [_attempt(read_image, path, max_pixels=args.max_pixels) for path in paths]
    loaded = [image for image in images if not isinstance(image, Exception)]
    try:
        results = iter(segmenter.run_batch(loaded))
    except Exception:
        results = (_attempt(segmenter.run, image) for image in loaded)
    return [(image, image if isinstance(image, Exception) else next(results)) for image in images]


def _attempt(function, *args, **kwargs):
    """``function(*args, **kwargs)``, or the error it raised."""
    try:
        return function(*args, **kwargs)
    except Exception as error:  # the caller's to report, for this one file
        return error


def _outputs(
    image: np.ndarray, result: "Segmentation", name: str, stem: str | None, args
) -> tuple[dict, dict[str, np.ndarray]]:
    """The record of one image read and its pictures by file name (none where ``stem`` is
    None)."""
    pictures, records = {}, []
    for k, instance in enumerate(result.instances):
        records.append(
            {
                "label": int(instance.label),
                "score": round(float(instance.score), 4),
                "bbox": [int(v) for v in instance.bbox],
                "area": int(instance.area),
            }
        )
        if stem is not None:
            crop = f"{stem}/{k}_{instance.label}.png"
            mnist = f"{stem}/{k}_{instance.label}_mnist.png"
            records[-1] |= {"crop": crop, "mnist_crop": mnist}
            pictures[crop], pictures[mnist] = ink_crop(image, instance), mnist_crop(image, instance)
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
        from digitseg.viz import annotate  # matplotlib: not for --help

        record["mask"], record["overlay"] = f"{stem}_mask.png", f"{stem}_overlay.png"
        pictures[record["mask"]] = result.labels
        pictures[record["overlay"]] = annotate(image, result.labels, result.instances)
    return record, pictures


def _write_pictures(output: OutputFolder, pictures: dict[str, np.ndarray]) -> None:
    """Write each picture as ``output / <its name>``; on a failure, none stays."""
    written = []
    try:
        for name, picture in pictures.items():
            png = io.BytesIO()
            Image.fromarray(picture).save(png, format="PNG")
            output.write(name, png.getvalue())
            written.append(output.path / name)
    except BaseException:
        delete_files(written, output.path)
        raise


def _line(record: dict) -> str:
    """An image's line on stdout: file, text (its lines apart by spaces), mean score."""
    text = record["text"].replace("\n", " ")
    return "\t".join([record["file"], text, _mean_score(record)])


def _mean_score(record: dict) -> str:
    scores = [instance["score"] for instance in record["instances"]]
    return f"{np.mean(scores):.4f}" if scores else ""


def _report(
    output: OutputFolder | None, args, segmenter, images: list, errors: list, listing, stdout
) -> int:
    """Write the reports into ``output`` and/or print predictions.json's content (``--json``);
    print what the run did. 1 when the reports cannot be written, else 0."""
    skipped = [{"file": name.as_posix(), "reason": reason} for name, reason in listing.skipped]
    predictions = _predictions(args, segmenter, images, errors, skipped)
    where = ""
    if output is not None:
        reports = {
            PREDICTIONS: predictions,
            SUMMARY: _summary(images),
            INSTANCES: _instances(images),
        }
        try:
            for name, text in reports.items():
                output.write(name, text.encode())
        except OSError as error:
            print(f"digitseg-segment: error: cannot write the reports into {output.path}: {error}")
            return 1
        where = f"; results in {output.path}"
    if args.json is not None:
        stdout.write(predictions + "\n")
        stdout.flush()
    print(
        f"{len(images)} image(s) segmented, {len(errors)} failed, {len(skipped)} other "
        f"file(s) skipped{where}"
    )
    return 0


def _predictions(args, segmenter: "Segmenter", images: list, errors: list, skipped: list) -> str:
    """predictions.json's content."""
    config = segmenter.config
    model = {
        "checkpoint": str(args.checkpoint),
        "version": __version__,
        "backend": segmenter.backend.name,
        "classifier": None if args.classifier is None else str(args.classifier),
        **segmenter.settings.record(),
        "config": {"model": config["model"]["net"], "data": config["data"].get("name")},
    }
    record = {"model": model, "images": images, "errors": errors, "skipped": skipped}
    return json.dumps(record, indent=1)


def _summary(images: list) -> str:
    """summary.csv: one row per image."""
    rows = [
        [item["file"], item["text"], len(item["instances"]), _mean_score(item)] for item in images
    ]
    return _csv(["file", "text", "instances", "mean_score"], rows)


def _instances(images: list) -> str:
    """instances.csv: one row per digit, in each image's reading order."""
    rows = [
        [item["file"], k, i["label"], i["score"], *i["bbox"], i["area"], i["crop"]]
        for item in images
        for k, i in enumerate(item["instances"])
    ]
    return _csv(["file", "index", "label", "score", "x0", "y0", "x1", "y1", "area", "crop"], rows)


def _csv(header: list[str], rows: list[list]) -> str:
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(header)
    writer.writerows(rows)
    return text.getvalue()


def cli() -> None:
    """Console entry point."""
    sys.exit(main())


if __name__ == "__main__":
    cli()

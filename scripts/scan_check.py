"""A check on handwriting the model never saw: numbers in handwriting fonts on photo-like paper.

    python scripts/scan_check.py build --out data/scan_check [--force]  # 60 images + labels
    python scripts/scan_check.py evaluate --out data/scan_check [--checkpoint ...] [--overwrite]
    python scripts/scan_check.py evaluate --classifier none   # the segmenter's labels alone
    python scripts/scan_check.py evaluate --enlarge 12 --report data/scan_check/report_x12
    python scripts/scan_check.py evaluate --rotate 12    # as a photo tilted 12 degrees shows it
    python scripts/scan_check.py build --out data/scan_more --typefaces more --count 180 --seed 31
    python scripts/scan_check.py build --out data/scan_printed --fonts /path/to/Font.ttf ...
    python scripts/scan_check.py build --out data/scan_boxes --paper boxes  # or squared
    python scripts/scan_check.py build --out data/scan_shadow --shadow
    python scripts/scan_check.py build --out data/scan_symbols --symbols  # $ % # + ( ) :

The digits come from handwriting fonts of other writers (Debian: apt-get install
fonts-dkg-handwriting fonts-breip fonts-femkeklaver fonts-rufscript; ``--typefaces more``:
nine more, apt-get install fonts-bwht fonts-sjfonts fonts-humor-sans), not from MNIST; the
paper (illumination, grain, ruled lines, ink colour, slight rotation, JPEG; or squared
paper, a form's boxes, a shadow) is drawn here,
independently of the training generator. Numbers carry punctuation ("1,250.75", "12-34")
that must not be read as digits (``--symbols``: "$1,250.00", "(555) 123-4567", "45%", ...
instead). ``build`` writes the set in COCO too (``annotations.json``
beside ``labels.json``: a box per digit written, punctuation none), which
``digitseg-eval source=coco folder=<out>/images part=all`` reads as it reads real scans.
``evaluate`` reads the set and writes the report of ``digitseg-eval source=coco`` into
``--report`` (default ``<out>/report``; ``--overwrite`` replaces one): metrics.json,
report.md, images.csv, digits.csv, worst_cases.png, calibration.png; metrics.json adds
digit-count accuracy, the seconds per image and the scores per kind of punctuation and per
typeface. It prints string exact match, digit-count accuracy and character error rate, exact
match per kind of punctuation and per typeface, and the seconds per image. ``--enlarge``
reads each image enlarged (bicubic; under 1, made coarser), as a photo of higher resolution
would show it: digits hundreds of pixels tall; ``--rotate`` reads it rotated (degrees,
counter-clockwise, the paper run on into the corners), as a tilted photo would show it
(:mod:`digitseg.evaluation.photo`, as ``digitseg-eval source=coco enlarge= rotate=``).
"""

import argparse
import json
import random
import re
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

# Handwriting typefaces by set: their files and the Debian packages that install them.
# "first": the five the check began with; "more": nine more writers, marker pens among them.
TYPEFACES = {
    "first": (
        [
            "/usr/share/fonts/truetype/fifthhorseman/dkg.ttf",
            "/usr/share/fonts/truetype/fifthhorseman/dkgIt.ttf",
            "/usr/share/fonts/truetype/breip/Breip.ttf",
            "/usr/share/fonts/truetype/femkeklaver/femkeklaver.ttf",
            "/usr/share/fonts/truetype/rufscript/Rufscript010.ttf",
        ],
        "fonts-dkg-handwriting fonts-breip fonts-femkeklaver fonts-rufscript",
    ),
    "more": (
        [
            *(
                f"/usr/share/fonts/opentype/bwht/BecauseWe{name}-Regular.otf"
                for name in ("Build", "Connect", "Create", "Learn", "Mentor", "Organize")
            ),
            "/usr/share/fonts/truetype/sjfonts/SteveHand.ttf",
            "/usr/share/fonts/truetype/sjfonts/Delphine.ttf",
            "/usr/share/fonts/truetype/humor-sans/Humor-Sans.ttf",
        ],
        "fonts-bwht fonts-sjfonts fonts-humor-sans",
    ),
}
# "ruled": ruled lines under half the numbers; "squared": squared paper; "boxes": a form's
# row of boxes on plain paper, a digit in each.
PAPERS = ("ruled", "squared", "boxes")
# The share of the light (RGB) a form's printed boxes reflect: black, grey, light red.
_BOX_INKS = ((0.18, 0.18, 0.18), (0.55, 0.55, 0.57), (0.98, 0.6, 0.6))
# How much printed lines darken the paper (RGB): a light blue.
_LINE_DARKENING = np.array([60, 35, 5], np.float32)
# The COCO set of the images: a box per digit, in categories named "0".."9".
ANNOTATIONS = "annotations.json"
DIGIT_CATEGORIES = [{"id": digit + 1, "name": str(digit)} for digit in range(10)]
# The groups of images evaluate reports exact match for.
GROUPS = ("punctuation", "typeface")
# "{dN}" stands for N random digits, drawn afresh for each field ("{d2}/{d2}": "12/05").
PATTERNS = ("{d4}", "{d2}-{d4}", "{d1},{d3}.{d2}", "{d5}", "{d3}.{d2}", "{d6}", "{d2}/{d2}")
# Numbers with signs and brackets (``build --symbols``), none of which the net was trained on.
SYMBOL_PATTERNS = (
    "${d1},{d3}.{d2}",
    "${d3}",
    "({d3}) {d3}-{d4}",
    "{d2}%",
    "#{d4}",
    "+{d2} {d4}",
    "{d2}:{d2}",
)


def number_text(rng: random.Random, patterns: tuple[str, ...] = PATTERNS) -> str:
    """One written number: a random one of ``patterns`` with random digits in each field."""

    def digits(field: re.Match) -> str:
        return "".join(rng.choice("0123456789") for _ in range(int(field[1])))

    return re.sub(r"\{d(\d)\}", digits, rng.choice(patterns))


def _paper(rng: np.random.Generator, height: int, width: int, kind: str) -> np.ndarray:
    """Light paper of a ``kind`` (one of PAPERS) with uneven light and grain (RGB float)."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    light = 215 + 25 * np.cos(xs / width * rng.uniform(1, 3) + rng.uniform(0, 6))
    light += 15 * np.sin(ys / height * rng.uniform(1, 2) + rng.uniform(0, 6))
    grain = cv2.GaussianBlur(rng.normal(0, 6, (height, width)).astype(np.float32), (0, 0), 1.2)
    tint = np.array([1.0, rng.uniform(0.96, 1.0), rng.uniform(0.88, 0.98)], np.float32)
    paper = (light + grain)[..., None] * tint
    if kind == "squared":  # 4-6 mm squares, lines of 1 px
        spacing = int(rng.integers(18, 30))
        paper[int(rng.integers(0, spacing)) :: spacing] -= _LINE_DARKENING
        paper[:, int(rng.integers(0, spacing)) :: spacing] -= _LINE_DARKENING
    elif kind == "ruled" and rng.random() < 0.5:
        spacing = int(rng.integers(28, 48))
        for y in range(int(rng.integers(0, spacing)), height, spacing):
            paper[y : y + 2] -= _LINE_DARKENING
    return paper


def _written(
    text: str, font: ImageFont.FreeTypeFont, boxes: bool
) -> tuple[Image.Image, Image.Image, list[tuple[int, Image.Image]]]:
    """``text`` written in ``font`` with a margin around it, the form's boxes (one a digit, in
    a row) where ``boxes``, and each digit of ``text`` alone where it stands in it: "L"
    images, 255 where there is ink; the digits as (digit, image)."""
    if not boxes:
        box = ImageDraw.Draw(Image.new("L", (1, 1))).textbbox((0, 0), text, font=font)
        size = (box[2] - box[0] + 80, box[3] - box[1] + 60)
        origin = (40 - box[0], 30 - box[1])
        ink = _drawn(size, origin, text, font)
        digits = []
        for k, char in enumerate(text):
            if char.isdigit():  # at its pen position: the text up to it less its own advance
                pen = origin[0] + font.getlength(text[: k + 1]) - font.getlength(char)
                digits.append((int(char), _drawn(size, (pen, origin[1]), char, font)))
        return ink, Image.new("L", size, 0), digits
    digit_box = ImageDraw.Draw(Image.new("L", (1, 1))).textbbox((0, 0), "0123456789", font=font)
    cell_height = round((digit_box[3] - digit_box[1]) * 1.5)
    cell_width = round(max(font.getlength(digit) for digit in "0123456789") * 1.5)
    size = (cell_width * len(text) + 80, cell_height + 60)
    ink, lines = Image.new("L", size, 0), Image.new("L", size, 0)
    thickness = max(1, cell_height // 30)
    digits = []
    for k, digit in enumerate(text):
        left = 40 + k * cell_width
        ImageDraw.Draw(lines).rectangle(
            (left, 30, left + cell_width, 30 + cell_height), outline=255, width=thickness
        )
        centre = (left + cell_width / 2, 30 + cell_height / 2)
        ImageDraw.Draw(ink).text(centre, digit, fill=255, font=font, anchor="mm")
        digits.append((int(digit), _drawn(size, centre, digit, font, anchor="mm")))
    return ink, lines, digits


def _drawn(
    size: tuple[int, int], xy: tuple[float, float], text: str, font, anchor: str = "la"
) -> Image.Image:
    """An "L" image of ``size``, 255 where ``text`` drawn at ``xy`` in ``font`` has ink."""
    layer = Image.new("L", size, 0)
    ImageDraw.Draw(layer).text(xy, text, fill=255, font=font, anchor=anchor)
    return layer


def _tilted(layer: Image.Image, degrees: float) -> Image.Image:
    """``layer`` rotated by ``degrees`` (counter-clockwise) about its centre, in its size."""
    return layer.rotate(degrees, resample=Image.BILINEAR, fillcolor=0)


def _coco_annotations(image_id: int, digit_boxes, first_id: int) -> list[dict]:
    """COCO annotations of the (digit, (x0, y0, x1, y1)) boxes of image ``image_id``."""
    return [
        {
            "id": first_id + k,
            "image_id": image_id,
            "category_id": digit + 1,
            "bbox": [x0, y0, x1 - x0, y1 - y0],
            "area": (x1 - x0) * (y1 - y0),
            "iscrowd": 0,
        }
        for k, (digit, (x0, y0, x1, y1)) in enumerate(digit_boxes)
    ]


def _shadow(rng: np.random.Generator, width: int) -> np.ndarray:
    """(1, W, 1) light falling from 0.45-0.65 on one side to 1 on the other."""
    ramp = np.linspace(rng.uniform(0.45, 0.65), 1.0, width, dtype=np.float32)
    return (ramp if rng.random() < 0.5 else ramp[::-1])[None, :, None]


def build(
    out: Path,
    count: int,
    seed: int,
    force: bool = False,
    fonts: list[str] | None = None,
    typefaces: str = "first",
    paper: str = "ruled",
    shadow: bool = False,
    symbols: bool = False,
) -> None:
    """Draw ``count`` numbers in ``fonts`` (default: the set ``typefaces`` of TYPEFACES) into
    ``out``, on ``paper`` (one of PAPERS), in a shadow falling across it where ``shadow``,
    with signs and brackets (SYMBOL_PATTERNS) instead of punctuation where ``symbols``."""
    if (out / "labels.json").exists() and not force:
        raise SystemExit(f"{out} already holds a set (labels.json); pass --force to rebuild it")
    font_files, packages = (fonts, None) if fonts else TYPEFACES[typefaces]
    missing = [f for f in font_files if not Path(f).is_file()]
    if missing:
        install = f": apt-get install {packages}" if packages else ""
        raise SystemExit(
            f"fonts missing: {', '.join(missing)}; the set is only the same with all of them"
            + install
        )
    rng, prng = np.random.default_rng(seed), random.Random(seed)
    shade_rng = np.random.default_rng([seed, 1])
    (out / "images").mkdir(parents=True, exist_ok=True)
    labels, written, typefaces = {}, {}, {}
    coco = {"images": [], "annotations": [], "categories": DIGIT_CATEGORIES}
    for i in range(count):
        text = number_text(prng, SYMBOL_PATTERNS if symbols else PATTERNS)
        if paper == "boxes":  # a digit to a box: the form has no room for punctuation
            text = "".join(c for c in text if c.isdigit())
        font_file = prng.choice(font_files)
        font = ImageFont.truetype(font_file, int(rng.integers(28, 90)))
        ink, lines, digits = _written(text, font, paper == "boxes")
        tilt = float(rng.uniform(-4, 4))
        ink = _tilted(ink, tilt)
        alpha = np.asarray(ink, np.float32)[..., None] / 255 * rng.uniform(0.8, 1.0)
        colour = np.array(prng.choice([(20, 20, 30), (20, 30, 110), (60, 60, 70)]), np.float32)
        width, height = ink.size
        image = _paper(rng, height, width, paper)
        if paper == "boxes":  # printed in black, grey or a form's light red
            printed = np.asarray(lines, np.float32)[..., None] / 255
            reflected = np.array(prng.choice(_BOX_INKS), np.float32)
            image *= 1 - printed * (1 - reflected)
        image = image * (1 - alpha) + colour * alpha
        if shadow:  # its own draws, so that a set in a shadow is the same set shaded
            image *= _shadow(shade_rng, width)
        image = np.clip(image + rng.normal(0, 3, image.shape), 0, 255).astype(np.uint8)
        name = f"{i:03d}.jpg"
        Image.fromarray(image).save(out / "images" / name, quality=int(rng.integers(60, 92)))
        labels[name] = "".join(c for c in text if c.isdigit())
        coco["images"].append({"id": i, "file_name": name, "width": width, "height": height})
        digit_boxes = [(digit, _tilted(layer, tilt).getbbox()) for digit, layer in digits]
        coco["annotations"] += _coco_annotations(i, digit_boxes, len(coco["annotations"]))
        written[name] = text
        typefaces[name] = Path(font_file).stem
    (out / "labels.json").write_text(json.dumps(labels, indent=1))
    (out / "written.json").write_text(json.dumps(written, indent=1))
    (out / "typefaces.json").write_text(json.dumps(typefaces, indent=1))
    (out / ANNOTATIONS).write_text(json.dumps(coco, indent=1))
    print(
        f"wrote {count} images to {out / 'images'}, their digits to {out / 'labels.json'} "
        f"and a box per digit to {out / ANNOTATIONS}"
    )


def evaluate(
    out: Path,
    checkpoint: str,
    classifier: Path | None,
    enlarge: float = 1.0,
    rotate: float = 0.0,
    report: Path | None = None,
    overwrite: bool = False,
) -> dict:
    """Read the set in ``out`` as a photo ``enlarge`` times finer and tilted ``rotate``
    degrees shows it, score the readings against its boxes and write the report folder
    ``report`` (default ``out/report``) of ``digitseg-eval source=coco``; returns its
    ``metrics.json``'s dict."""
    from digitseg import Segmenter
    from digitseg.eval import model_info
    from digitseg.evaluation.photo import as_photographed
    from digitseg.evaluation.scan_report import scans_source, write_scan_report
    from digitseg.evaluation.scans import ScanEvaluation

    report = report or out / "report"
    scans = _scans(out, report, overwrite)
    groups = _groups(out)
    segmenter = Segmenter.from_checkpoint(checkpoint, classifier=classifier)
    evaluation = ScanEvaluation()
    seconds = 0.0
    for scan in scans.scans():
        scan = as_photographed(scan, enlarge, rotate)
        start = time.perf_counter()
        reading = segmenter.run(scan.image)
        seconds += time.perf_counter() - start
        evaluation.add(scan, reading)
    count = len(scans)
    options = {"classifier": str(classifier) if classifier else None}
    options["iou_threshold"] = evaluation.iou_threshold
    source = scans_source("scan_check", scans, "all", count, enlarge, rotate)
    metrics = {
        "model": model_info(checkpoint, segmenter.config),
        "source": source | segmenter.settings.record() | options,
        **evaluation.results(),
        "digit_count_right": np.mean([r["predicted"] == r["digits"] for r in evaluation.images]),
        "seconds_per_image": seconds / count,
        **{f"by_{what}": _by(group_of, evaluation) for what, group_of in groups.items()},
    }
    write_scan_report(report, metrics, evaluation)
    _print_summary(metrics, report)
    return metrics


def _scans(out: Path, report: Path, overwrite: bool):
    """The COCO set of the images in ``out``; a clear error for a folder without a set, a set
    built before build wrote its boxes, or a ``report`` folder not to be replaced."""
    from digitseg.data.coco_scans import CocoScansError, open_coco_scans

    if not (out / "labels.json").is_file():
        raise SystemExit(f"no set in {out} (labels.json): write one with `scan_check.py build`")
    if not (out / ANNOTATIONS).is_file():
        raise SystemExit(
            f"{out} has no digit boxes ({ANNOTATIONS}): it was built before build wrote them; "
            f"rebuild it with `scan_check.py build --out {out} --force` and the options it "
            "was built with (the same --seed, --count, ... draw the same images)"
        )
    if report.is_dir() and any(report.iterdir()) and not overwrite:
        raise SystemExit(
            f"{report} already holds a report: pass --overwrite to replace it, "
            "or --report another folder"
        )
    try:
        scans = open_coco_scans(out / "images", out / ANNOTATIONS)
    except CocoScansError as error:
        raise SystemExit(f"{error}; rebuild the set with `scan_check.py build --force`") from error
    if not len(scans):
        raise SystemExit(
            f"{out / ANNOTATIONS} names no images: build the set with --count 1 or more"
        )
    return scans


def _print_summary(metrics: dict, report: Path) -> None:
    """The headline, exact match per group and where the report is."""
    source, headline = metrics["source"], metrics["instances"]
    print(
        f"{source['count']} images: exact match {headline['exact_match']:.3f}, digit count "
        f"right {metrics['digit_count_right']:.3f}, character error rate "
        f"{headline['cer']:.3f}, {metrics['seconds_per_image']:.2f} s per image  "
        f"({metrics['model']['checkpoint']}, classifier {source['classifier']}, images "
        f"enlarged {source['enlarge']:g} times, rotated {source['rotate']:g} degrees)"
    )
    for what in GROUPS:
        shares = (
            f"'{group}' {scores['exact_match']:.3f} ({scores['images']})"
            for group, scores in metrics[f"by_{what}"].items()
        )
        print(f"exact match by {what} (images):", ", ".join(shares))
    print(f"report: {report}")


def _groups(out: Path) -> dict[str, dict[str, str]]:
    """The group of each image by the kind of punctuation written and by the typeface."""
    written = json.loads((out / "written.json").read_text())
    punctuation = {
        name: "".join(sorted(set(re.sub(r"\d", "", text)))) or "none"
        for name, text in written.items()
    }
    typefaces = json.loads((out / "typefaces.json").read_text())
    return dict(zip(GROUPS, (punctuation, typefaces), strict=True))


def _by(group_of: dict[str, str], evaluation) -> dict[str, dict]:
    """The scores of a ScanEvaluation's images summarised per group (``group_of``: file name
    to group), e.g. per kind of punctuation or per typeface."""
    from digitseg.metrics.instance import summarize

    groups = defaultdict(list)
    for record, score in zip(evaluation.images, evaluation.scores, strict=True):
        groups[group_of[record["file"]]].append(score)
    return {group: summarize(scores) for group, scores in sorted(groups.items())}


def main() -> None:
    from digitseg.segment import (
        DEFAULT_CHECKPOINT,
        DEFAULT_CLASSIFIER,
        classifier_option,
        positive_number,
        rotation_option,
    )

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    actions = parser.add_subparsers(dest="action", required=True)
    build_parser = actions.add_parser("build", help="write a set of images and their digits")
    evaluate_parser = actions.add_parser("evaluate", help="read a set and score the reading")
    for action in (build_parser, evaluate_parser):
        action.add_argument("--out", type=Path, default=Path("data/scan_check"))
    build_parser.add_argument("--count", type=int, default=60)
    build_parser.add_argument("--seed", type=int, default=7)
    build_parser.add_argument("--force", action="store_true", help="replace an existing set")
    build_parser.add_argument("--paper", choices=PAPERS, default="ruled")
    build_parser.add_argument(
        "--shadow", action="store_true", help="light falling off across each image"
    )
    build_parser.add_argument(
        "--symbols",
        action="store_true",
        help="numbers with signs and brackets ($, %%, #, +, parentheses, colon) instead of "
        "punctuation",
    )
    typefaces = build_parser.add_mutually_exclusive_group()
    typefaces.add_argument(
        "--typefaces",
        choices=TYPEFACES,
        default="first",
        help="the handwriting typefaces to write in: the first five, or nine more",
    )
    typefaces.add_argument(
        "--fonts", nargs="+", help="TrueType files to write in instead of --typefaces"
    )
    evaluate_parser.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT))
    evaluate_parser.add_argument(
        "--classifier",
        type=classifier_option,
        default=DEFAULT_CLASSIFIER,
        help="digit classifier model file; none: the segmenter alone",
    )
    evaluate_parser.add_argument(
        "--enlarge", type=positive_number, default=1.0, help="read each image enlarged this much"
    )
    evaluate_parser.add_argument(
        "--rotate",
        type=rotation_option,
        default=0.0,
        help="read each image rotated this many degrees, counter-clockwise",
    )
    evaluate_parser.add_argument(
        "--report",
        type=Path,
        help="the report folder (metrics.json, report.md, ...); default: <out>/report",
    )
    evaluate_parser.add_argument(
        "--overwrite", action="store_true", help="replace the files of an existing report"
    )
    args = parser.parse_args()
    if args.action == "build":
        names = ("force", "fonts", "typefaces", "paper", "shadow", "symbols")
        options = {name: getattr(args, name) for name in names}
        build(args.out, args.count, args.seed, **options)
        return
    names = ("enlarge", "rotate", "report", "overwrite")
    options = {name: getattr(args, name) for name in names}
    evaluate(args.out, args.checkpoint, args.classifier, **options)


if __name__ == "__main__":
    main()

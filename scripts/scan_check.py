"""A check on handwriting the model never saw: numbers in handwriting fonts on photo-like paper.

    python scripts/scan_check.py build --out data/scan_check [--force]  # 60 images + labels
    python scripts/scan_check.py evaluate --out data/scan_check [--checkpoint ...]
    python scripts/scan_check.py evaluate --classifier none   # the segmenter's labels alone
    python scripts/scan_check.py evaluate --enlarge 12   # as a 12 times finer photo shows it
    python scripts/scan_check.py evaluate --rotate 12    # as a photo tilted 12 degrees shows it
    python scripts/scan_check.py evaluate --keep-marks   # slashes, commas, dots read as digits
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
instead). ``evaluate`` prints string exact match, character error
rate and digit-count accuracy of the digits read against the digits written, and exact match
per kind of punctuation and per typeface, and the seconds it took per image. ``--enlarge``
reads each image enlarged (bicubic), as a photo of higher resolution would show it: digits
hundreds of pixels tall; ``--rotate`` reads it rotated (degrees, counter-clockwise, the
paper run on into the corners), as a tilted photo would show it; ``--keep-marks`` reads
every mark the net takes for a digit, even a 1 leaning far more than its line (a date's
slash) or a short mark lying low between two digits (a comma or dot), which are left out by
default.
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


def _written(text: str, font: ImageFont.FreeTypeFont, boxes: bool) -> tuple[Image.Image, ...]:
    """``text`` written in ``font`` with a margin around it, and the form's boxes (one a
    digit, in a row) where ``boxes``: two "L" images, 255 where there is ink."""
    if not boxes:
        box = ImageDraw.Draw(Image.new("L", (1, 1))).textbbox((0, 0), text, font=font)
        size = (box[2] - box[0] + 80, box[3] - box[1] + 60)
        ink = Image.new("L", size, 0)
        ImageDraw.Draw(ink).text((40 - box[0], 30 - box[1]), text, fill=255, font=font)
        return ink, Image.new("L", size, 0)
    digits = ImageDraw.Draw(Image.new("L", (1, 1))).textbbox((0, 0), "0123456789", font=font)
    cell_height = round((digits[3] - digits[1]) * 1.5)
    cell_width = round(max(font.getlength(digit) for digit in "0123456789") * 1.5)
    size = (cell_width * len(text) + 80, cell_height + 60)
    ink, lines = Image.new("L", size, 0), Image.new("L", size, 0)
    thickness = max(1, cell_height // 30)
    for k, digit in enumerate(text):
        left = 40 + k * cell_width
        ImageDraw.Draw(lines).rectangle(
            (left, 30, left + cell_width, 30 + cell_height), outline=255, width=thickness
        )
        ImageDraw.Draw(ink).text(
            (left + cell_width / 2, 30 + cell_height / 2), digit, fill=255, font=font, anchor="mm"
        )
    return ink, lines


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
    for i in range(count):
        text = number_text(prng, SYMBOL_PATTERNS if symbols else PATTERNS)
        if paper == "boxes":  # a digit to a box: the form has no room for punctuation
            text = "".join(c for c in text if c.isdigit())
        font_file = prng.choice(font_files)
        font = ImageFont.truetype(font_file, int(rng.integers(28, 90)))
        ink, lines = _written(text, font, paper == "boxes")
        ink = ink.rotate(float(rng.uniform(-4, 4)), resample=Image.BILINEAR, fillcolor=0)
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
        written[name] = text
        typefaces[name] = Path(font_file).stem
    (out / "labels.json").write_text(json.dumps(labels, indent=1))
    (out / "written.json").write_text(json.dumps(written, indent=1))
    (out / "typefaces.json").write_text(json.dumps(typefaces, indent=1))
    print(f"wrote {count} images to {out / 'images'}, their digits to {out / 'labels.json'}")


def evaluate(
    out: Path,
    checkpoint: str,
    classifier: Path | None,
    enlarge: float = 1.0,
    rotate: float = 0.0,
    keep_marks: bool = False,
) -> None:
    from digitseg import Segmenter
    from digitseg.inference import read_image
    from digitseg.inference.rotation import rotate as rotated
    from digitseg.inference.settings import ReadSettings
    from digitseg.metrics.instance import edit_distance

    if not (out / "labels.json").is_file():
        raise SystemExit(f"no set in {out} (labels.json): write one with `scan_check.py build`")
    settings = ReadSettings(drop_marks=not keep_marks)
    segmenter = Segmenter.from_checkpoint(checkpoint, classifier=classifier, settings=settings)
    labels = json.loads((out / "labels.json").read_text())
    written = _read_json(out / "written.json")
    hits = {}
    count_ok = errors = total = 0
    seconds = 0.0
    for name, truth in labels.items():
        image = read_image(out / "images" / name)
        if enlarge != 1:
            image = cv2.resize(image, None, fx=enlarge, fy=enlarge, interpolation=cv2.INTER_CUBIC)
        image = rotated(image, rotate)
        start = time.perf_counter()
        read = segmenter.run(image).text.replace("\n", "")
        seconds += time.perf_counter() - start
        hits[name] = read == truth
        count_ok += len(read) == len(truth)
        errors += edit_distance(truth, read)
        total += len(truth)
        print(f"{name}: wrote {truth:>10}  read {read}")
    n = len(labels)
    print(
        f"\n{n} images: exact match {np.mean(list(hits.values())):.3f}, digit count right "
        f"{count_ok / n:.3f}, character error rate {errors / total:.3f}, "
        f"{seconds / n:.2f} s per image  ({checkpoint}, classifier {classifier}, images "
        f"enlarged {enlarge:g} times, rotated {rotate:g} degrees, marks "
        f"{'kept' if keep_marks else 'dropped'})"
    )
    if written:
        punctuation = {
            name: "".join(sorted(set(re.sub(r"\d", "", written.get(name, truth))))) or "none"
            for name, truth in labels.items()
        }
        _print_exact_by("punctuation", punctuation, hits)
    typefaces = _read_json(out / "typefaces.json")  # sets built before it was written lack it
    if typefaces:
        _print_exact_by("typeface", typefaces, hits)


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def _print_exact_by(what: str, group_of: dict[str, str], hits: dict[str, bool]) -> None:
    """Exact match per group of images, e.g. per kind of punctuation or per typeface."""
    groups = defaultdict(list)
    for name, hit in hits.items():
        groups[group_of.get(name, "?")].append(hit)
    shares = (f"'{k}' {np.mean(v):.3f} ({len(v)})" for k, v in sorted(groups.items()))
    print(f"exact match by {what} (images):", ", ".join(shares))


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
        "--keep-marks",
        action="store_true",
        help="read slashes, commas and dots the net takes for digits too",
    )
    args = parser.parse_args()
    if args.action == "build":
        names = ("force", "fonts", "typefaces", "paper", "shadow", "symbols")
        options = {name: getattr(args, name) for name in names}
        build(args.out, args.count, args.seed, **options)
        return
    evaluate(args.out, args.checkpoint, args.classifier, args.enlarge, args.rotate, args.keep_marks)


if __name__ == "__main__":
    main()

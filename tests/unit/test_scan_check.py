"""scripts/scan_check.py: the numbers it writes and the guards of its two steps."""

import csv
import json
import random
import re
import subprocess
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from digitseg.data.coco_scans import open_coco_scans
from digitseg.evaluation.scans import true_text
from digitseg.inference import Segmentation, Segmenter
from digitseg.inference.settings import ReadSettings
from digitseg.postprocess import Instance, order_instances, read_text
from tests.helpers.scripts import SCRIPTS_DIR, load_script

scan_check = load_script("scan_check")


def _shapes(patterns) -> set[str]:
    """The numbers of ``patterns`` with every digit a 9."""
    return {re.sub(r"\{d(\d)\}", lambda m: "9" * int(m[1]), p) for p in patterns}


@pytest.mark.parametrize("patterns", [scan_check.PATTERNS, scan_check.SYMBOL_PATTERNS])
def test_numbers_follow_their_patterns(patterns):
    rng = random.Random(0)
    numbers = [scan_check.number_text(rng, patterns) for _ in range(400)]
    assert {re.sub(r"\d", "9", text) for text in numbers} == _shapes(patterns)


def test_each_field_of_a_number_is_drawn_afresh():
    rng = random.Random(0)
    numbers = [scan_check.number_text(rng) for _ in range(400)]
    dates = [text.split("/") for text in numbers if "/" in text]
    # Two fields of the same pattern are independent: a date's halves rarely agree.
    assert len(dates) > 20 and sum(day == month for day, month in dates) <= len(dates) // 10


def test_build_refuses_to_replace_a_set_without_force(tmp_path):
    (tmp_path / "labels.json").write_text(json.dumps({"mine.jpg": "42"}))
    with pytest.raises(SystemExit, match=r"already holds a set .*--force"):
        scan_check.build(tmp_path, count=1, seed=0)
    assert json.loads((tmp_path / "labels.json").read_text()) == {"mine.jpg": "42"}


def test_evaluate_names_a_folder_without_a_set(tmp_path):
    with pytest.raises(SystemExit, match=r"no set in .*scan_check.py build"):
        scan_check.evaluate(tmp_path, "models/digit_segmenter.ckpt", classifier=None)


def test_each_step_refuses_the_other_steps_options(tmp_path):
    script = [sys.executable, str(SCRIPTS_DIR / "scan_check.py")]
    for argv in (
        ["evaluate", "--force"],
        ["build", "--enlarge", "4"],
        ["evaluate", "--enlarge", "0"],
        ["build", "--rotate", "10"],
        ["evaluate", "--rotate", "nan"],
        ["evaluate", "--typefaces", "more"],
        ["build", "--typefaces", "second"],
        ["build", "--typefaces", "more", "--fonts", "mine.ttf"],
        ["build", "--overwrite"],
    ):
        run = subprocess.run(
            [*script, *argv, "--out", str(tmp_path)], capture_output=True, text=True
        )
        assert run.returncode == 2 and "error:" in run.stderr
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("typefaces", ["first", "more"])
def test_build_names_missing_fonts_instead_of_drawing_a_different_set(
    tmp_path, monkeypatch, typefaces
):
    packages = scan_check.TYPEFACES[typefaces][1]
    absent = {typefaces: ([str(tmp_path / "absent.ttf")], packages)}
    monkeypatch.setattr(scan_check, "TYPEFACES", absent)
    with pytest.raises(
        SystemExit, match=rf"fonts missing: .*absent\.ttf.*apt-get install {packages}"
    ):
        scan_check.build(tmp_path / "set", count=1, seed=0, typefaces=typefaces)
    assert not (tmp_path / "set").exists()


def test_build_records_each_image_typeface_and_evaluate_reports_by_it(tmp_path, capsys):
    fonts = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    faces = [str(fonts / "DejaVuSans.ttf"), str(fonts / "DejaVuSerif.ttf")]
    build = [sys.executable, str(SCRIPTS_DIR / "scan_check.py"), "build", "--out", str(tmp_path)]
    subprocess.run([*build, "--count", "6", "--seed", "0", "--fonts", *faces], check=True)
    typefaces = json.loads((tmp_path / "typefaces.json").read_text())
    labels = json.loads((tmp_path / "labels.json").read_text())
    assert typefaces.keys() == labels.keys()
    assert set(typefaces.values()) == {"DejaVuSans", "DejaVuSerif"}
    capsys.readouterr()
    models = SCRIPTS_DIR.parent / "models"
    model_files = (str(models / "digit_segmenter.ckpt"), models / "digit_classifier.ckpt")
    scan_check.evaluate(tmp_path, *model_files)
    report = capsys.readouterr().out
    by_typeface = report.split("exact match by typeface (images): ")[1]
    counts = re.findall(r"'(\w+)' [01]\.\d{3} \((\d+)\)", by_typeface)
    assert {face: int(n) for face, n in counts} == {
        face: list(typefaces.values()).count(face) for face in set(typefaces.values())
    }
    readings = _readings(tmp_path / "report")
    assert readings.keys() == labels.keys()
    # The same numbers photographed 8 times finer (digits 200-700 px tall) read the same.
    scan_check.evaluate(tmp_path, *model_files, enlarge=8, report=tmp_path / "finer")
    assert "images enlarged 8 times" in capsys.readouterr().out
    assert _readings(tmp_path / "finer") == readings
    # And photographed tilted 12 degrees: rotated level, they read the same.
    scan_check.evaluate(tmp_path, *model_files, rotate=12, report=tmp_path / "tilted")
    assert "rotated 12 degrees" in capsys.readouterr().out
    assert _readings(tmp_path / "tilted") == readings


def _readings(report: Path) -> dict[str, str]:
    """Each image's reading, from a report's images.csv."""
    with open(report / "images.csv", newline="") as rows:
        return {row["file"]: row["prediction"] for row in csv.DictReader(rows)}


def test_build_names_missing_fonts_of_its_own_without_the_apt_hint(tmp_path):
    with pytest.raises(SystemExit, match=r"fonts missing: .*mine\.ttf") as error:
        scan_check.build(tmp_path / "set", count=1, seed=0, fonts=[str(tmp_path / "mine.ttf")])
    assert "apt-get" not in str(error.value)


def _dejavu() -> list[str]:
    return [str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf")]


def test_a_set_with_symbols_labels_their_digits_only(tmp_path):
    scan_check.build(tmp_path, count=12, seed=0, fonts=_dejavu(), symbols=True)
    written = json.loads((tmp_path / "written.json").read_text())
    labels = json.loads((tmp_path / "labels.json").read_text())
    assert {name: re.sub(r"\D", "", text) for name, text in written.items()} == labels
    assert {re.sub(r"\d", "9", text) for text in written.values()} <= _shapes(
        scan_check.SYMBOL_PATTERNS
    )


def test_a_form_of_boxes_holds_digits_only(tmp_path):
    scan_check.build(tmp_path, count=8, seed=0, fonts=_dejavu(), paper="boxes")
    written = json.loads((tmp_path / "written.json").read_text())
    assert written == json.loads((tmp_path / "labels.json").read_text())
    assert all(text.isdigit() for text in written.values())


def _upright_lines(gray: np.ndarray, length: int) -> int:
    """How many upright dark lines ``gray`` holds: columns, 5 px apart or more, darker than
    the paper beside them over ``length`` rows in a row."""
    dark = gray < ndimage.median_filter(gray, size=(1, 15)).astype(np.int16) - 15
    columns = [x for x in range(dark.shape[1]) if _longest_run(dark[:, x]) >= length]
    return sum(1 for k, x in enumerate(columns) if k == 0 or x - columns[k - 1] >= 5)


def _longest_run(values: np.ndarray) -> int:
    longest = run = 0
    for value in values:
        run = run + 1 if value else 0
        longest = max(longest, run)
    return longest


def test_squared_paper_and_a_form_draw_upright_lines(tmp_path):
    """Squared paper's lines cross the whole image; a form has a side for each box and one
    more, as tall as the image less its margins (the digits are shorter)."""
    for paper in scan_check.PAPERS:
        scan_check.build(tmp_path / paper, count=4, seed=0, fonts=_dejavu(), paper=paper)
        labels = json.loads((tmp_path / paper / "labels.json").read_text())
        for name, digits in labels.items():
            gray = np.asarray(Image.open(tmp_path / paper / "images" / name).convert("L"))
            across = _upright_lines(gray, gray.shape[0] - 2)
            assert across >= 3 if paper == "squared" else across == 0
            if paper == "boxes":
                box_height = round(0.9 * (gray.shape[0] - 60))  # 30 px margins
                assert _upright_lines(gray, box_height) == len(digits) + 1


def test_a_shadow_darkens_one_side_of_the_same_images(tmp_path):
    for shadow in (False, True):
        scan_check.build(tmp_path / str(shadow), count=3, seed=0, fonts=_dejavu(), shadow=shadow)
    labels = [json.loads((tmp_path / str(s) / "labels.json").read_text()) for s in (False, True)]
    assert labels[0] == labels[1]
    for image_file in sorted((tmp_path / "False" / "images").iterdir()):
        plain = np.asarray(Image.open(image_file).convert("L"), np.float32)
        shaded = np.asarray(Image.open(tmp_path / "True" / "images" / image_file.name).convert("L"))
        assert shaded.shape == plain.shape
        ratios = [
            shaded[:, side].mean() / plain[:, side].mean()
            for side in (slice(0, 4), slice(-4, None))
        ]
        assert min(ratios) < 0.7 and max(ratios) > 0.95


def _ink_parts(image: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """The dark connected parts of ``image`` (6 px or more; but a form's printed boxes,
    wider than half the image): each one's box (x0, y0, x1, y1) and centre (x, y)."""
    gray = image.mean(axis=2) if image.ndim == 3 else image
    parts, count = ndimage.label(gray < 100)
    sizes = ndimage.sum_labels(np.ones_like(parts), parts, range(1, count + 1))
    centres = ndimage.center_of_mass(parts > 0, parts, range(1, count + 1))
    return [
        (np.array([xs.start, ys.start, xs.stop, ys.stop]), np.array(centre[::-1]))
        for (ys, xs), centre, size in zip(ndimage.find_objects(parts), centres, sizes, strict=True)
        if size >= 6 and xs.stop - xs.start <= image.shape[1] / 2
    ]


def _assert_boxes_hold_their_ink(scan, most_outside: int | None = None):
    """Each box of ``scan`` holds the centre of a part of ink, and every part centred in a
    box lies in it (within a pixel); at most ``most_outside`` parts (when given) are
    centred outside every box."""
    boxes, outside, holding = scan.boxes, 0, np.zeros(len(scan.boxes), bool)
    for part, centre in _ink_parts(scan.image):
        centred_in = ((boxes[:, :2] <= centre) & (centre < boxes[:, 2:])).all(axis=1)
        holding |= centred_in
        outside += not centred_in.any()
        lies_in = (boxes[:, :2] - 1 <= part[:2]) & (part[2:] <= boxes[:, 2:] + 1)
        assert not centred_in.any() or lies_in[centred_in].all(axis=1).any(), (
            f"{scan.file_name}: ink {part} spills out of its box"
        )
    assert holding.all(), f"{scan.file_name}: a box without ink"
    assert most_outside is None or outside <= most_outside


@pytest.mark.parametrize("paper", ["ruled", "boxes"])
def test_a_set_is_a_coco_set_with_a_box_around_each_digit(tmp_path, paper):
    scan_check.build(tmp_path, count=8, seed=3, fonts=_dejavu(), paper=paper)
    labels = json.loads((tmp_path / "labels.json").read_text())
    written = json.loads((tmp_path / "written.json").read_text())
    scans = list(open_coco_scans(tmp_path / "images", part="all").scans())  # as digitseg-eval
    assert [scan.file_name for scan in scans] == sorted(labels)
    for scan in scans:
        assert "".join(map(str, scan.labels)) == labels[scan.file_name]  # in the written order
        assert true_text(scan) == labels[scan.file_name]
        # Punctuation has no box; a form's printed boxes are ink outside every digit's too.
        marks = len(re.sub(r"\d", "", written[scan.file_name]))
        _assert_boxes_hold_their_ink(scan, most_outside=marks if paper == "ruled" else None)


class _ReadsTheBoxes:
    """A stand-in segmenter that reads exactly the digits of ``scans``, one image after
    another, in the boxes the set holds."""

    config = {"model": {"net": {"arch": "stand-in"}}, "data": {"name": None}}

    def __init__(self, scans, settings):
        self.scans, self.settings = iter(scans), settings

    def run(self, image):
        scan = next(self.scans)
        assert image.shape == scan.image.shape
        found = [
            Instance(
                int(d),
                0.9,
                tuple(map(int, box)),
                1,
                np.ones((box[3] - box[1], box[2] - box[0]), bool),
            )
            for d, box in zip(scan.labels, scan.boxes, strict=True)
        ]
        labels = np.full(image.shape[:2], 10, np.uint8)
        return Segmentation(order_instances(found), read_text(found), labels, "dark_on_light", 1.0)


def _stand_in(monkeypatch, folder: Path) -> None:
    scans = list(open_coco_scans(folder / "images", part="all").scans())

    def stand_in(*args, settings=None, **kwargs):
        return _ReadsTheBoxes(scans, settings or ReadSettings())

    monkeypatch.setattr(Segmenter, "from_checkpoint", stand_in)


def test_evaluate_writes_the_report_of_digitseg_eval(tmp_path, monkeypatch, capsys):
    scan_check.build(tmp_path, count=8, seed=5, fonts=_dejavu())
    written = json.loads((tmp_path / "written.json").read_text())
    _stand_in(monkeypatch, tmp_path)
    capsys.readouterr()
    scan_check.evaluate(tmp_path, "stand-in.ckpt", classifier=None)
    report = tmp_path / "report"
    assert {p.name for p in report.iterdir()} == {
        "metrics.json",
        "report.md",
        "images.csv",
        "digits.csv",
        "worst_cases.png",
        "calibration.png",
    }
    metrics = json.loads((report / "metrics.json").read_text())
    assert metrics["instances"]["exact_match"] == 1.0 and metrics["instances"]["f1"] == 1.0
    assert metrics["model"]["checkpoint"] == "stand-in.ckpt"
    source = metrics["source"]
    assert (source["count"], source["enlarge"], source["rotate"]) == (8, 1.0, 0.0)
    assert (source["reading"], source["scale"]) == ("document", None)
    assert "8 images of" in (report / "report.md").read_text()
    assert _readings(report) == json.loads((tmp_path / "labels.json").read_text())
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("8 images: exact match 1.000, digit count right 1.000")
    kinds = ["".join(sorted(set(re.sub(r"\d", "", text)))) or "none" for text in written.values()]
    by_punctuation = re.findall(r"'([^']+)' 1\.000 \((\d+)\)", printed[1])
    assert {kind: int(n) for kind, n in by_punctuation} == {k: kinds.count(k) for k in kinds}
    assert printed[2] == "exact match by typeface (images): 'DejaVuSans' 1.000 (8)"
    # A second evaluation does not replace the report unless told to.
    with pytest.raises(SystemExit, match=r"already holds a report.*--overwrite"):
        scan_check.evaluate(tmp_path, "stand-in.ckpt", classifier=None)
    _stand_in(monkeypatch, tmp_path)
    scan_check.evaluate(tmp_path, "stand-in.ckpt", classifier=None, overwrite=True)
    assert json.loads((report / "metrics.json").read_text())["source"]["count"] == 8


def test_evaluate_asks_to_rebuild_a_set_without_boxes(tmp_path):
    scan_check.build(tmp_path, count=1, seed=0, fonts=_dejavu())
    (tmp_path / "annotations.json").unlink()  # as build wrote sets before it wrote boxes
    with pytest.raises(SystemExit, match=r"no digit boxes .*build --out .* --force"):
        scan_check.evaluate(tmp_path, "models/digit_segmenter.ckpt", classifier=None)
    assert not (tmp_path / "report").exists()

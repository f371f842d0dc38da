"""scripts/scan_check.py: the numbers it writes and the guards of its two steps."""

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
    # The same numbers photographed 8 times finer (digits 200-700 px tall) read the same.
    scan_check.evaluate(tmp_path, *model_files, enlarge=8)
    finer = capsys.readouterr().out
    assert "images enlarged 8 times" in finer
    assert re.findall(r"read (\d*)", finer) == re.findall(r"read (\d*)", report)
    # And photographed tilted 12 degrees: rotated level, they read the same.
    scan_check.evaluate(tmp_path, *model_files, rotate=12)
    tilted = capsys.readouterr().out
    assert "rotated 12 degrees" in tilted
    assert re.findall(r"read (\d*)", tilted) == re.findall(r"read (\d*)", report)


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

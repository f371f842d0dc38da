"""digitseg-segment's handling of inputs, outputs, failures and options, with a stand-in model."""

import json

import numpy as np
import pytest
from PIL import Image

from digitseg import segment
from digitseg.inference import Segmentation
from digitseg.inference.rotation import MAX_ROTATION
from digitseg.inference.slant import MAX_SHEAR
from digitseg.postprocess import Instance


class FakeSegmenter:
    """Finds ``digits`` digits labelled ``label`` in the middle of any image; an image one
    pixel tall raises ``failure``."""

    config = {"model": {"net": "fake"}, "data": {"name": None}}
    zooms = (1.0,)
    digits, label, failure = 1, 1, RuntimeError("boom")
    asked_to_drop_marks: list[bool] = []  # per run, set afresh for each test

    @classmethod
    def from_checkpoint(cls, *args, **kwargs):
        return cls()

    def run(self, image, polarity, scale, slant, rotation, drop_marks):
        self.asked_to_drop_marks.append(drop_marks)
        height, width = image.shape[:2]
        if height == 1:
            raise self.failure
        box = (width // 4, height // 4, width * 3 // 4, height * 3 // 4)
        mask = np.ones((box[3] - box[1], box[2] - box[0]), bool)
        digit = Instance(self.label, 0.9, box, int(mask.sum()), mask)
        labels = np.full((height, width), 10, np.uint8)
        return Segmentation([digit] * self.digits, "1" * self.digits, labels, "auto", 1.0)


@pytest.fixture(autouse=True)
def fake_model(monkeypatch):
    monkeypatch.setattr(segment, "Segmenter", FakeSegmenter)
    monkeypatch.setattr(FakeSegmenter, "asked_to_drop_marks", [])


def save(path, height, width):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((height, width), 200, np.uint8)).save(path)


def run(*inputs, output, more=()):
    return segment.main(["--input", *map(str, inputs), "--output", str(output), *more])


def predictions(output):
    return json.loads((output / "predictions.json").read_text())


def written(record):
    """The files an image's record names."""
    names = [record.get("mask"), record.get("overlay")]
    names += [i[key] for i in record["instances"] for key in ("crop", "mnist_crop")]
    return [name for name in names if name]


def files_under(folder):
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def test_inputs_that_share_a_name_or_stem_get_their_own_outputs(tmp_path):
    sizes = {"x.jpg": (24, 36), "x.png": (20, 30), "a/y.png": (28, 40), "b/y.png": (32, 44)}
    for name, size in sizes.items():
        save(tmp_path / ("in" if name.startswith("x") else "") / name, *size)
    x, a, b = tmp_path / "in/x.png", tmp_path / "a/y.png", tmp_path / "b/y.png"
    out = tmp_path / "out"
    assert run(tmp_path / "in", x, a, b, x, output=out, more=["--save-masks"]) == 0
    images = predictions(out)["images"]
    assert [i["file"] for i in images] == list(sizes)  # x.png once, the y.png files apart
    assert [i["mask"] for i in images] == [
        "x.jpg_mask.png",
        "x.png_mask.png",
        "a/y_mask.png",
        "b/y_mask.png",
    ]
    names = [name for image in images for name in written(image)]
    assert len(set(names)) == len(names) == 4 * 4
    assert files_under(out) == {*names, "predictions.json", "summary.csv"}
    for image in images:  # each image's own pictures, none overwritten by another's
        assert np.asarray(Image.open(out / image["mask"])).shape == sizes[image["file"]]


def test_a_stem_never_takes_the_name_of_another_images_mask(tmp_path):
    for name in ("S.png", "S_mask.png", "S_mask.jpg"):
        save(tmp_path / "in" / name, 20, 20)
    out = tmp_path / "out"
    assert run(tmp_path / "in", output=out, more=["--save-masks"]) == 0
    names = [name for image in predictions(out)["images"] for name in written(image)]
    assert len(set(names)) == len(names) == 3 * 4
    assert "S_mask.png" in names  # S.png's mask, not the folder of S_mask.png's crops


def test_one_failing_image_loses_nothing_else(tmp_path):
    save(tmp_path / "in/a.png", 20, 20)
    save(tmp_path / "in/thin.png", 1, 50)
    save(tmp_path / "in/z.png", 20, 20)
    out = tmp_path / "out"
    assert run(tmp_path / "in", output=out) == 2
    result = predictions(out)
    assert [i["file"] for i in result["images"]] == ["a.png", "z.png"]
    assert result["errors"] == [{"file": "thin.png", "error": "RuntimeError: boom"}]


def test_an_interruption_keeps_the_reports_of_the_images_done(tmp_path, monkeypatch):
    monkeypatch.setattr(FakeSegmenter, "failure", KeyboardInterrupt())
    save(tmp_path / "in/a.png", 20, 20)
    save(tmp_path / "in/b.png", 1, 50)
    save(tmp_path / "in/c.png", 20, 20)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "in", output=out)
    result = predictions(out)
    assert [i["file"] for i in result["images"]] == ["a.png"] and result["errors"] == []
    assert files_under(out) == {*written(result["images"][0]), "predictions.json", "summary.csv"}


def test_an_output_path_that_is_a_file_is_refused(tmp_path, capsys):
    save(tmp_path / "a.png", 20, 20)
    (tmp_path / "out.txt").write_text("mine")
    assert run(tmp_path / "a.png", output=tmp_path / "out.txt") == 1
    assert f"output path {tmp_path / 'out.txt'} is a file" in capsys.readouterr().err
    assert (tmp_path / "out.txt").read_text() == "mine"


def test_overwrite_replaces_the_earlier_run_and_keeps_other_files(tmp_path, monkeypatch):
    save(tmp_path / "in/a.png", 20, 20)
    save(tmp_path / "in/sub/b.png", 20, 20)
    out = tmp_path / "out"
    monkeypatch.setattr(FakeSegmenter, "digits", 2)
    assert run(tmp_path / "in", output=out, more=["--recursive", "--save-masks"]) == 0
    (out / "notes.txt").write_text("mine")
    monkeypatch.setattr(FakeSegmenter, "label", 7)
    monkeypatch.setattr(FakeSegmenter, "digits", 1)
    assert run(tmp_path / "in/a.png", output=out) == 1  # refused without --overwrite
    assert run(tmp_path / "in/a.png", output=out, more=["--overwrite"]) == 0
    (image,) = predictions(out)["images"]
    assert files_under(out) == {"a/0_7.png", "a/0_7_mnist.png", "notes.txt"} | {
        "predictions.json",
        "summary.csv",
    }
    assert written(image) == ["a/0_7.png", "a/0_7_mnist.png"]
    assert not (out / "sub").exists()  # emptied folders go too


def test_overwrite_refuses_a_record_naming_files_outside_the_folder(tmp_path, capsys):
    save(tmp_path / "in/a.png", 20, 20)
    out = tmp_path / "runs/out"
    out.mkdir(parents=True)
    (tmp_path / "runs/mine.png").write_text("mine")
    record = {"images": [{"file": "a.png", "mask": "../mine.png", "instances": []}]}
    (out / "predictions.json").write_text(json.dumps(record))
    assert run(tmp_path / "in", output=out, more=["--overwrite"]) == 1
    assert "is not a digitseg-segment record" in capsys.readouterr().err
    assert (tmp_path / "runs/mine.png").read_text() == "mine"


@pytest.mark.parametrize(
    "option",
    [
        ["--scale", "0"],
        ["--scale", "-1"],
        ["--scale", "nan"],
        ["--zooms", "1", "nan"],
        ["--zooms", "inf"],
        ["--slant", str(MAX_SHEAR + 0.5)],
        ["--slant", "nan"],
        ["--rotation", str(MAX_ROTATION + 1)],
        ["--rotation", "nan"],
        ["--max-pixels", "0"],
    ],
    ids=" ".join,
)
def test_bad_numbers_are_refused_before_any_work(tmp_path, capsys, option):
    save(tmp_path / "a.png", 20, 20)
    with pytest.raises(SystemExit) as exit:
        run(tmp_path / "a.png", output=tmp_path / "out", more=option)
    assert exit.value.code == 1  # 2 means that some images failed
    assert f"argument {option[0]}" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("more", "dropped"), [([], True), (["--keep-marks"], False)])
def test_marks_are_dropped_unless_kept_and_the_run_says_which(tmp_path, more, dropped):
    save(tmp_path / "a.png", 20, 20)
    save(tmp_path / "b.png", 20, 20)
    assert run(tmp_path / "a.png", tmp_path / "b.png", output=tmp_path / "out", more=more) == 0
    assert FakeSegmenter.asked_to_drop_marks == [dropped, dropped]
    assert predictions(tmp_path / "out")["model"]["drop_marks"] is dropped


def test_numbers_within_range_are_taken(tmp_path):
    args = segment.parse_args(
        ["--input", "x", "--output", "y", "--slant", str(-MAX_SHEAR), "--scale", "0.5"]
        + ["--rotation", str(-MAX_ROTATION)]
    )
    assert (args.slant, args.scale, args.rotation) == (-MAX_SHEAR, 0.5, -MAX_ROTATION)

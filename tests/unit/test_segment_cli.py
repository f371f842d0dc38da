"""digitseg-segment's handling of inputs, outputs, failures and options, with a stand-in model."""

import csv
import json
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from digitseg import inference, segment
from digitseg.inference.settings import MAX_ROTATION, MAX_SHEAR, ReadSettings, reading_preset
from tests.helpers.fake_segmenter import FakeSegmenter

REPORTS = {"predictions.json", "summary.csv", "instances.csv"}


@pytest.fixture(autouse=True)
def fake_model(monkeypatch):
    monkeypatch.setattr(inference, "Segmenter", FakeSegmenter)


def save(path, height, width):
    path.parent.mkdir(parents=True, exist_ok=True)
    picture = Image.fromarray(np.full((height, width), 200, np.uint8))
    picture.save(path, format=Image.registered_extensions()[path.suffix.lower()])


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
    assert files_under(out) == {*names, *REPORTS}
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


@pytest.mark.parametrize("batch_size", ["1", "2"])
def test_an_interruption_keeps_the_reports_of_the_images_done(tmp_path, monkeypatch, batch_size):
    monkeypatch.setattr(FakeSegmenter, "failure", KeyboardInterrupt())
    save(tmp_path / "in/a.png", 20, 20)
    save(tmp_path / "in/b.png", 20, 20)
    save(tmp_path / "in/c.png", 1, 50)
    save(tmp_path / "in/d.png", 20, 20)
    out = tmp_path / "out"
    assert run(tmp_path / "in", output=out, more=["--batch-size", batch_size]) == 130  # SIGINT
    result = predictions(out)
    assert [i["file"] for i in result["images"]] == ["a.png", "b.png"] and result["errors"] == []
    assert files_under(out) == {
        *written(result["images"][0]),
        *written(result["images"][1]),
        *REPORTS,
    }


def test_images_are_read_in_batches_and_a_failure_is_one_files_alone(tmp_path, monkeypatch):
    batches = []

    def run_batch(self, images):
        batches.append(len(images))
        return [self.run(image) for image in images]

    monkeypatch.setattr(FakeSegmenter, "run_batch", run_batch)
    for name in ("a.png", "b.png", "d.png", "e.png"):
        save(tmp_path / "in" / name, 20, 20)
    save(tmp_path / "in/c.png", 1, 50)  # fails its batch: c, d and e are read again one by one
    (tmp_path / "in/broken.png").write_bytes(b"not an image")  # fails to load: never read
    outputs = {}
    for batch_size in ("1", "3"):
        batches.clear()
        out = tmp_path / f"out_{batch_size}"
        assert run(tmp_path / "in", output=out, more=["--batch-size", batch_size]) == 2
        outputs[batch_size] = (predictions(out), files_under(out))
    assert batches == [2, 3]  # a b (broken.png does not load) | c d e
    result, files = outputs["3"]
    assert outputs["1"] == outputs["3"]
    assert [i["file"] for i in result["images"]] == ["a.png", "b.png", "d.png", "e.png"]
    assert [e["file"] for e in result["errors"]] == ["broken.png", "c.png"]
    assert result["errors"][1]["error"] == "RuntimeError: boom"


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
    assert files_under(out) == {"a/0_7.png", "a/0_7_mnist.png", "notes.txt", *REPORTS}
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
    assert f"names files outside {out}" in capsys.readouterr().err
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
        ["--batch-size", "0"],
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


@pytest.mark.parametrize(
    ("more", "reading", "scale"), [([], "document", None), (["--reading", "canvas"], "canvas", 1.0)]
)
def test_the_run_records_how_it_read(tmp_path, more, reading, scale):
    save(tmp_path / "a.png", 20, 20)
    assert run(tmp_path / "a.png", output=tmp_path / "out", more=more) == 0
    model = predictions(tmp_path / "out")["model"]
    assert (model["reading"], model["scale"], model["zooms"]) == (reading, scale, [1.0, 1.3])
    thresholds = ReadSettings().record()  # both presets keep the default thresholds
    assert (model["estimates"], model["postprocess"]) == (
        thresholds["estimates"],
        thresholds["postprocess"],
    )


def test_the_reading_preset_gives_the_defaults_and_options_override_it():
    document = segment.reading_settings(segment.parse_args(["x.png"]))
    assert document == reading_preset("document")
    assert document == ReadSettings()  # the dataclass's defaults are the document preset
    assert (document.scale, document.slant, document.zooms) == (None, None, (1.0, 1.3))
    canvas = segment.reading_settings(segment.parse_args(["x.png", "--reading", "canvas"]))
    assert (canvas.name, canvas.scale, canvas.slant, canvas.rotation) == ("canvas", 1.0, 0.0, 0.0)
    mixed = segment.parse_args(["x.png", "--reading", "canvas", "--scale", "2", "--zooms", "1"])
    assert segment.reading_settings(mixed) == replace(canvas, scale=2.0, zooms=(1.0,))
    dark = segment.parse_args(["x.png", "--polarity", "dark_on_light", "--rotation", "0"])
    assert segment.reading_settings(dark) == replace(
        document, polarity="dark_on_light", rotation=0.0
    )


def test_numbers_within_range_are_taken(tmp_path):
    args = segment.parse_args(
        ["--input", "x", "--output", "y", "--slant", str(-MAX_SHEAR), "--scale", "0.5"]
        + ["--rotation", str(-MAX_ROTATION)]
    )
    assert (args.slant, args.scale, args.rotation) == (-MAX_SHEAR, 0.5, -MAX_ROTATION)


def test_every_file_written_stays_inside_the_output_folder(tmp_path):
    save(tmp_path / "in/...jpg", 20, 20)  # its stem is ".."
    save(tmp_path / "in/..png", 20, 20)  # and this one's "."
    out = tmp_path / "runs/out"
    assert run(tmp_path / "in", output=out) == 0
    assert {p.name for p in (tmp_path / "runs").iterdir()} == {"out"}
    images = predictions(out)["images"]
    assert [i["file"] for i in images] == ["...jpg", "..png"]
    names = [name for image in images for name in written(image)]
    assert len(set(names)) == 4 and files_under(out) == {*names, *REPORTS}


def test_links_in_the_output_folder_are_never_followed(tmp_path):
    save(tmp_path / "in/a.png", 20, 20)
    save(tmp_path / "in/b.png", 20, 20)
    elsewhere, mine = tmp_path / "elsewhere", tmp_path / "mine.png"
    elsewhere.mkdir()
    mine.write_text("mine")
    out = tmp_path / "out"
    out.mkdir()
    (out / "a").symlink_to(elsewhere, target_is_directory=True)  # where a.png's crops go
    (out / "b_mask.png").symlink_to(mine)  # where b.png's mask goes
    (out / "summary.csv").symlink_to(mine)
    assert run(tmp_path / "in", output=out, more=["--overwrite", "--save-masks"]) == 2
    assert not any(elsewhere.iterdir()) and mine.read_text() == "mine"
    result = predictions(out)
    assert [e["file"] for e in result["errors"]] == ["a.png"]
    assert "is a link or a file, not a folder" in result["errors"][0]["error"]
    assert [i["file"] for i in result["images"]] == ["b.png"]
    for name in ("b_mask.png", "summary.csv"):  # the links replaced by the files
        assert not (out / name).is_symlink() and (out / name).is_file()
    assert np.asarray(Image.open(out / "b_mask.png")).shape == (20, 20)


def _default_stop_signals() -> None:
    """In the child: the stop signals handled by default, as a terminal's process has them."""
    for stop in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(stop, signal.SIG_DFL)


@pytest.mark.parametrize(("stop", "code"), [("SIGTERM", 143), ("SIGHUP", 129), ("SIGINT", 130)])
def test_a_stop_signal_keeps_the_reports_of_the_images_done(tmp_path, stop, code):
    save(tmp_path / "in/a.png", 20, 20)
    save(tmp_path / "in/b.png", 20, 20)
    save(tmp_path / "in/c.png", 2, 20)  # takes a minute: the signal comes while it is read
    save(tmp_path / "in/d.png", 20, 20)
    out, reading_c = tmp_path / "out", tmp_path / "reading_c"
    command = [sys.executable, "-m", "tests.helpers.fake_segmenter", str(reading_c)]
    with subprocess.Popen(
        [*command, "--input_dir", str(tmp_path / "in"), "--output_dir", str(out)]
        + ["--batch-size", "2"],
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_stop_signals,  # a test run under nohup ignores SIGHUP
    ) as process:
        deadline = time.monotonic() + 120
        while not reading_c.exists():  # the first batch, a.png and b.png, is done
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        process.send_signal(getattr(signal, stop))
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == code
    assert f"stopped by {stop} after 2 of 4 images" in stderr and "Traceback" not in stderr
    result = predictions(out)
    assert [i["file"] for i in result["images"]] == ["a.png", "b.png"] and result["errors"] == []
    assert files_under(out) == {
        *written(result["images"][0]),
        *written(result["images"][1]),
        *REPORTS,
    }


@pytest.mark.timeout(60)  # opening a FIFO to read it waits for a writer: forever
def test_fifos_among_the_inputs_are_failures_never_opened(tmp_path):
    save(tmp_path / "in/a.png", 20, 20)
    os.mkfifo(tmp_path / "in/pipe.png")
    os.mkfifo(tmp_path / "named.png")
    out = tmp_path / "out"
    assert run(tmp_path / "in", tmp_path / "named.png", output=out) == 2
    result = predictions(out)
    assert [i["file"] for i in result["images"]] == ["a.png"]
    assert result["errors"] == [
        {"file": "pipe.png", "error": "a FIFO (named pipe)"},
        {"file": "named.png", "error": "a FIFO (named pipe)"},
    ]


def test_entries_of_input_folders_not_read_are_listed_with_the_reason(tmp_path, caplog, capsys):
    caplog.set_level(logging.INFO)
    save(tmp_path / "in/a.png", 20, 20)
    save(tmp_path / "in/g.gif", 20, 20)
    save(tmp_path / "in/x.png/c.png", 20, 20)
    (tmp_path / "in/gone.png").symlink_to("missing.png")
    out = tmp_path / "out"
    assert run(tmp_path / "in", output=out) == 2  # gone.png should have been read
    result = predictions(out)
    assert [i["file"] for i in result["images"]] == ["a.png"]
    assert result["errors"] == [
        {"file": "gone.png", "error": "a link to missing.png, which does not exist"}
    ]
    skipped = {item["file"]: item["reason"] for item in result["skipped"]}
    assert list(skipped) == ["g.gif", "x.png"]
    assert ".png .jpg" in skipped["g.gif"] and "--recursive" in skipped["x.png"]
    for name, reason in [*skipped.items(), ("gone.png", "missing.png")]:
        assert name in caplog.text and reason in caplog.text
    assert "1 image(s) segmented, 1 failed, 2 other file(s) skipped" in capsys.readouterr().err


def test_without_an_output_folder_one_line_per_image_is_printed(tmp_path, monkeypatch, capsys):
    save(tmp_path / "a.png", 20, 20)
    save(tmp_path / "thin.png", 1, 20)
    save(tmp_path / "b.png", 20, 20)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(FakeSegmenter, "digits", 2)
    assert segment.main(["a.png", "thin.png", "b.png"]) == 2
    assert capsys.readouterr().out.splitlines() == ["a.png\t11\t0.9000", "b.png\t11\t0.9000"]
    assert {p.name for p in tmp_path.iterdir()} == {"a.png", "thin.png", "b.png"}


def test_json_dash_prints_the_predictions_alone(tmp_path, monkeypatch, capsys):
    save(tmp_path / "a.png", 20, 20)
    monkeypatch.chdir(tmp_path)
    assert segment.main(["a.png", "--json", "-"]) == 0
    result = json.loads(capsys.readouterr().out)
    (image,) = result["images"]
    assert image["file"] == "a.png" and image["text"] == "1"
    assert "crop" not in image["instances"][0]  # nothing written, nothing named
    assert {p.name for p in tmp_path.iterdir()} == {"a.png"}


def test_instances_csv_holds_each_digits_score(tmp_path, monkeypatch):
    save(tmp_path / "a.png", 20, 40)
    monkeypatch.setattr(FakeSegmenter, "digits", 2)
    assert run(tmp_path / "a.png", output=tmp_path / "out") == 0
    rows = list(csv.DictReader((tmp_path / "out/instances.csv").open()))
    assert [(r["file"], r["index"], r["label"], r["score"]) for r in rows] == [
        ("a.png", "0", "1", "0.9"),
        ("a.png", "1", "1", "0.9"),
    ]
    assert [r["crop"] for r in rows] == ["a/0_1.png", "a/1_1.png"]
    assert (rows[0]["x0"], rows[0]["y0"], rows[0]["x1"], rows[0]["y1"]) == ("10", "5", "30", "15")


def test_help_imports_neither_torch_nor_the_model():
    entry_point = "from digitseg.segment import cli; cli()"  # as the console script runs
    help = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", entry_point, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert help.returncode == 0 and "--batch-size" in help.stdout
    imported = {line.rpartition("|")[2].strip() for line in help.stderr.splitlines()}
    assert "digitseg.segment" in imported  # -X importtime listed the imports
    heavy = imported & {"torch", "lightning", "matplotlib", "digitseg.inference.segmenter"}
    assert not heavy, f"digitseg-segment --help imported {sorted(heavy)}"

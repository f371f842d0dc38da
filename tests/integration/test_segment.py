"""digitseg-segment, digitseg-export and the Segmenter API on a small trained model."""

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from PIL import Image

from digitseg import Segmenter
from digitseg.onnx_export import main as export_main
from digitseg.segment import main as segment_main
from tests.helpers.close import assert_close
from tests.helpers.config import requires_mnist
from tests.helpers.scripts import SCRIPTS_DIR, load_script


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A folder of canvases: two PNGs in a subfolder-free layout plus one corrupt file."""
    requires_mnist()
    from digitseg.data.mnist import load_mnist, mnist_splits
    from digitseg.data.spec import CanvasSpec
    from digitseg.data.synth import CanvasGenerator

    folder = tmp_path_factory.mktemp("inputs")
    generator = CanvasGenerator(CanvasSpec(), mnist_splits(load_mnist()), seed=0)
    for i in range(2):
        Image.fromarray(generator("val", i).image).save(folder / f"canvas_{i}.png")
    (folder / "broken.png").write_bytes(b"not an image")
    return folder


def test_segment_writes_the_output_contract(tiny_model, inputs, tmp_path):
    out = tmp_path / "out"
    code = segment_main(
        [
            "--input_dir",
            str(inputs),
            "--output_dir",
            str(out),
            "--checkpoint",
            str(tiny_model),
            "--save-masks",
            "--zooms",
            "1",
            "--classifier",
            "none",
            "--slant",
            "0.5",  # read rotated and sheared, boxes and masks back in the input's pixels
            "--rotation",
            "10",
        ]
    )
    assert code == 2  # one corrupt file among good ones
    predictions = json.loads((out / "predictions.json").read_text())
    assert predictions["model"]["checkpoint"] == str(tiny_model)
    assert predictions["model"]["zooms"] == [1.0]
    assert predictions["model"]["reading"] == "document"
    assert predictions["model"]["classifier"] is None
    assert [e["file"] for e in predictions["errors"]] == ["broken.png"]
    assert [i["file"] for i in predictions["images"]] == ["canvas_0.png", "canvas_1.png"]
    for image in predictions["images"]:
        assert (image["width"], image["height"]) == (84, 64)
        assert (image["slant"], image["rotation"]) == (0.5, 10.0)
        labels = "".join(str(i["label"]) for i in image["instances"])
        assert image["text"].replace("\n", "") == labels  # lines apart, in reading order
        for instance in image["instances"]:
            x0, y0, x1, y1 = instance["bbox"]
            assert 0 <= x0 < x1 <= 84 and 0 <= y0 < y1 <= 64 and 0 < instance["score"] <= 1
            assert (out / instance["crop"]).is_file() and (out / instance["mnist_crop"]).is_file()
        stem = image["file"][:-4]
        assert (image["mask"], image["overlay"]) == (f"{stem}_mask.png", f"{stem}_overlay.png")
        mask = np.asarray(Image.open(out / image["mask"]))
        assert mask.shape == (64, 84) and mask.max() <= 10
        assert (out / image["overlay"]).is_file()
    rows = list(csv.DictReader((out / "summary.csv").read_text().splitlines()))
    assert [r["file"] for r in rows] == ["canvas_0.png", "canvas_1.png"]
    digits = list(csv.DictReader((out / "instances.csv").read_text().splitlines()))
    assert [(r["file"], int(r["label"]), float(r["score"]), r["crop"]) for r in digits] == [
        (image["file"], i["label"], i["score"], i["crop"])
        for image in predictions["images"]
        for i in image["instances"]
    ]


def test_any_batch_size_gives_the_same_predictions(tiny_model, tmp_path):
    requires_mnist()
    from digitseg.data.mnist import load_mnist, mnist_splits
    from digitseg.data.spec import CanvasSpec
    from digitseg.data.synth import CanvasGenerator

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "broken.png").write_bytes(b"not an image")
    generator = CanvasGenerator(CanvasSpec(), mnist_splits(load_mnist()), seed=1)
    for i in range(4):  # two sizes: a batch may hold images of several
        image = generator("val", i).image
        Image.fromarray(image if i % 2 else image[:, :64]).save(folder / f"canvas_{i}.png")
    classifier = Path(__file__).parents[2] / "models" / "digit_classifier.ckpt"
    predictions, pictures = {}, {}
    for batch_size in ("1", "3"):
        out = tmp_path / f"out_{batch_size}"
        argv = ["--input_dir", str(folder), "--output_dir", str(out), "--batch-size", batch_size]
        argv += ["--checkpoint", str(tiny_model), "--classifier", str(classifier), "--save-masks"]
        assert segment_main(argv) == 2  # the corrupt file failed
        predictions[batch_size] = json.loads((out / "predictions.json").read_text())
        pictures[batch_size] = {p.relative_to(out): p.read_bytes() for p in out.rglob("*.png")}
    assert pictures["1"] == pictures["3"]  # the same crops and masks, pixel for pixel
    # the same records; a score's 4th (last) place may differ
    assert_close(predictions["1"], predictions["3"], abs_tol=1.5e-4)
    assert [e["file"] for e in predictions["3"]["errors"]] == ["broken.png"]
    images = predictions["3"]["images"]
    assert [i["file"] for i in images] == [f"canvas_{i}.png" for i in range(4)]
    assert any(image["instances"] for image in images)  # digits were found


def test_segment_without_an_output_folder_prints_to_stdout(tiny_model, inputs, tmp_path):
    images = [str(inputs / "canvas_0.png"), str(inputs / "canvas_1.png")]
    command = [sys.executable, "-m", "digitseg.segment", *images, "--checkpoint", str(tiny_model)]
    command += ["--classifier", "none", "--zooms", "1"]
    lines = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert lines.returncode == 0, lines.stderr
    printed = subprocess.run(
        [*command, "--json", "-"], cwd=tmp_path, capture_output=True, text=True, timeout=180
    )
    assert printed.returncode == 0, printed.stderr
    predictions = json.loads(printed.stdout)  # stdout holds the JSON alone
    assert [line.split("\t")[:2] for line in lines.stdout.splitlines()] == [
        [image["file"], image["text"].replace("\n", " ")] for image in predictions["images"]
    ]
    assert [i["file"] for i in predictions["images"]] == ["canvas_0.png", "canvas_1.png"]
    assert not any(tmp_path.iterdir())  # nothing written


def test_segment_refuses_bad_starts_before_any_work(tiny_model, inputs, tmp_path, capsys):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "mine.txt").write_text("keep")
    (tmp_path / "empty").mkdir()
    out, missing = tmp_path / "o", tmp_path / "none.ckpt"
    refusals = [
        ((inputs, tmp_path / "full", tiny_model), "--overwrite"),
        ((inputs, out, missing), f"no model file at {missing}"),
        ((inputs, out, tiny_model, "--classifier", missing), "no classifier model file at"),
        ((inputs, out, tiny_model, "--classifier", tiny_model), "not a digit classifier model"),
        ((tmp_path / "empty", out, tiny_model), "no images"),
    ]
    for (source, output, checkpoint, *more), message in refusals:
        argv = ["--input_dir", str(source), "--output_dir", str(output)]
        assert segment_main([*argv, "--checkpoint", str(checkpoint), *map(str, more)]) == 1
        assert message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_onnx_backend_gives_the_same_instances(tiny_model, inputs, tmp_path):
    onnx_path = tmp_path / "tiny.onnx"
    assert export_main(["--checkpoint", str(tiny_model), "--output", str(onnx_path)]) == 0
    assert export_main(["--checkpoint", str(tiny_model), "--output", str(onnx_path)]) == 1
    image = np.asarray(Image.open(inputs / "canvas_0.png"))
    wide = np.concatenate([image, image[:, ::-1]], axis=1)[:, :157]  # odd width
    torch_run = Segmenter.from_checkpoint(tiny_model)
    onnx_run = Segmenter.from_checkpoint(onnx_path, backend="onnxruntime")
    for picture in (image, wide):
        probs_torch = torch_run.predict(picture)[0]
        probs_onnx = onnx_run.predict(picture)[0]
        assert np.allclose(probs_torch, probs_onnx, atol=1e-4)
        ours, theirs = torch_run.segment(picture), onnx_run.segment(picture)
        assert [(i.label, i.bbox) for i in ours] == [(i.label, i.bbox) for i in theirs]


def test_walkthrough_figure_stacks_input_overlay_and_crops(tiny_model, inputs):
    from digitseg.viz import annotate, to_rgb

    walkthrough = load_script("walkthrough_figure")
    image = np.asarray(Image.open(inputs / "canvas_0.png"))
    segmenter = Segmenter.from_checkpoint(tiny_model)
    picture = walkthrough.figure(image, segmenter)

    height, gap = image.shape[0], walkthrough.GAP
    result = segmenter.run(image)
    assert picture.shape[1] == image.shape[1] and picture.shape[0] > 2 * (height + gap)
    np.testing.assert_array_equal(picture[:height], to_rgb(image))
    annotated = annotate(image, result.labels, result.instances)
    np.testing.assert_array_equal(picture[height + gap : 2 * height + gap], annotated)


def test_walkthrough_figure_keeps_an_existing_picture_without_overwrite(
    tiny_model, inputs, tmp_path
):
    out = tmp_path / "mine.png"
    out.write_bytes(b"not to be lost")
    script = [sys.executable, str(SCRIPTS_DIR / "walkthrough_figure.py")]
    args = [str(inputs / "canvas_0.png"), str(out), "--checkpoint", str(tiny_model)]
    refused = subprocess.run([*script, *args], capture_output=True, text=True)
    assert refused.returncode == 1 and "--overwrite" in refused.stderr
    assert out.read_bytes() == b"not to be lost"
    subprocess.run([*script, *args, "--overwrite", "--classifier", "none"], check=True)
    with Image.open(out) as picture:
        assert picture.width == Image.open(inputs / "canvas_0.png").width


def test_walkthrough_crop_row_keeps_the_crops_that_fit_the_width():
    walkthrough = load_script("walkthrough_figure")
    gap = walkthrough.GAP
    crops = [np.full((h, 10), 0, np.uint8) for h in (12, 8, 30)]
    row = walkthrough.crop_row(crops, width=25 + gap)
    assert row.shape == (12, 25 + gap, 3)  # the third crop does not fit: its height is not used
    assert (row[:, :10] == 0).all() and (row[:8, 10 + gap : 20 + gap] == 0).all()
    assert (row[:, 20 + gap :] == 255).all() and (row[8:, 10 + gap :] == 255).all()
    assert walkthrough.crop_row([], width=7).shape == (1, 7, 3)


def test_scan_check_scores_each_kind_of_punctuation(tiny_model, tmp_path, capsys):
    scan_check = load_script("scan_check")
    fonts = [str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf")]
    scan_check.build(tmp_path, count=6, seed=0, fonts=fonts)
    scan_check.evaluate(tmp_path, str(tiny_model), classifier=None)
    lines = capsys.readouterr().out.splitlines()
    assert lines[-4].startswith("6 images: exact match")
    kinds = r"'[^']+' [01]\.\d{3} \(\d+\)"
    assert re.fullmatch(rf"exact match by punctuation \(images\): {kinds}(, {kinds})*", lines[-3])
    assert lines[-1] == f"report: {tmp_path / 'report'}"
    assert (tmp_path / "report" / "metrics.json").is_file()

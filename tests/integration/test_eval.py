"""``digitseg-eval`` on a small trained model: report folder, inputs, loggers, the CLI."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from digitseg.data.export import write_split
from digitseg.data.sources import build_generator
from digitseg.eval import evaluate
from digitseg.evaluation.photo import as_photographed
from digitseg.inference.settings import ReadSettings, read_settings
from digitseg.models.checkpoint import CheckpointError
from digitseg.reports import analysis
from digitseg.utils.compose import REPO_ROOT, compose_eval
from tests.helpers.close import assert_close
from tests.helpers.config import requires_mnist
from tests.helpers.scans import write_coco_set
from tests.helpers.scripts import load_script

CLI = Path(sys.executable).parent / "digitseg-eval"
PICTURES = ("confusion_pixels", "confusion_instances", "per_class_iou", "worst_cases")
QUIET = ["extras.print_config=false"]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny nets run fastest on one thread, and the test machine's cores are shared."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def run_eval(model: Path, out: Path, *overrides: str) -> dict:
    requires_mnist()
    cfg = compose_eval([f"checkpoint={model}", *QUIET, *overrides], output_dir=out)
    return evaluate(cfg)


@pytest.fixture(scope="module")
def m2nist_report(tiny_model, tmp_path_factory):
    """A report on the first 6 canvases of m2nist's test split, with a CSV logger and a
    threshold of the estimates changed."""
    out = tmp_path_factory.mktemp("report")
    tilt = "reading.estimates.min_tilt=0.2"
    return out, run_eval(tiny_model, out, "count=6", "worst_k=3", "logger=csv", tilt)


def test_report_folder_holds_every_file(m2nist_report):
    out, metrics = m2nist_report
    on_disk = json.loads((out / "metrics.json").read_text())
    assert set(on_disk) == {
        "model",
        "source",
        "pixel",
        "instance",
        "coco",
        "breakdowns",
        "worst_cases",
    }
    defaults = ReadSettings().record()
    assert on_disk["source"] == {
        "kind": "preset",
        "preset": "m2nist",
        "split": "test",
        "count": 6,
        "reading": "document",
        "scale": None,
        "slant": None,
        "rotation": None,
        "polarity": "auto",
        "iou_threshold": 0.5,
        "zooms": [1.0, 1.3],
        "estimates": {**defaults["estimates"], "min_tilt": 0.2},
        "postprocess": defaults["postprocess"],
        "classifier": str(REPO_ROOT / "models" / "digit_classifier.ckpt"),
    }
    assert on_disk["model"]["trained_on"] == "m2nist"
    for key in ("miou_digits", "miou", "pixel_accuracy", "iou", "dice", "confusion_matrix"):
        assert key in on_disk["pixel"]
    assert len(on_disk["pixel"]["confusion_matrix"]) == 11
    for key in ("precision", "recall", "f1", "detection_recall", "exact_match", "cer"):
        assert key in on_disk["instance"]
    assert len(on_disk["instance"]["confusion_matrix"]) == 10
    for kind in ("segm", "bbox"):
        assert set(on_disk["coco"][kind]) == {"AP", "AP50", "AP75", "AR100"}
        assert all(0 <= value <= 1 for value in on_disk["coco"][kind].values())
    assert set(on_disk["breakdowns"]) == {
        "digits_per_canvas",
        "background",
        "true_digit",
        "digit_height",
        "contact",
    }
    assert len(on_disk["worst_cases"]) == 3
    for name in PICTURES:
        with Image.open(out / f"{name}.png") as picture:
            picture.verify()
    report = (out / "report.md").read_text()
    assert "mean IoU, digits (headline)" in report and "![worst cases](worst_cases.png)" in report
    assert "## COCO AP and AR" in report and "| masks |" in report


def test_records_and_breakdowns_add_up(m2nist_report):
    out, metrics = m2nist_report
    instance = metrics["instance"]
    canvases = list(csv.DictReader((out / "canvases.csv").open()))
    truths = list(csv.DictReader((out / "instances.csv").open()))
    assert [int(c["index"]) for c in canvases] == list(range(6))
    assert len(truths) == instance["true_instances"] == instance["tp"] + instance["fn"]
    assert sum(int(c["digits"]) for c in canvases) == instance["true_instances"]
    assert sum(int(c["predicted"]) for c in canvases) == instance["predicted_instances"]
    by_count = metrics["breakdowns"]["digits_per_canvas"]
    assert set(by_count) <= {"2", "3"}  # m2nist: 2-3 digits a canvas
    assert sum(group["images"] for group in by_count.values()) == 6
    assert metrics["breakdowns"]["background"].keys() == {"black"}
    for name in ("true_digit", "digit_height", "contact"):
        groups = metrics["breakdowns"][name].values()
        assert sum(group["instances"] for group in groups) == instance["true_instances"]
    errors = [case["instance_errors"] for case in metrics["worst_cases"]]
    assert errors == sorted(errors, reverse=True)
    assert errors[0] == max(int(c["fp"]) + int(c["fn"]) for c in canvases)


def test_headline_metrics_reach_the_logger(m2nist_report):
    out, metrics = m2nist_report
    (logged,) = out.glob("csv/version_*/metrics.csv")
    row = next(csv.DictReader(logged.open()))
    assert float(row["test/instance_f1"]) == pytest.approx(metrics["instance"]["f1"])
    assert float(row["test/miou_digits"]) == pytest.approx(metrics["pixel"]["miou_digits"])
    assert float(row["test/coco_segm_ap"]) == pytest.approx(metrics["coco"]["segm"]["AP"])


def test_error_analysis_reads_the_canvases_as_the_report_did(m2nist_report):
    out, metrics = m2nist_report
    report = analysis.load_report(out)
    segmenter = analysis.report_segmenter(report)
    assert segmenter.zooms == (1.0, 1.3) and segmenter.classifier is not None
    assert segmenter.settings.estimates.min_tilt == 0.2
    assert analysis.report_segmenter(report, classifier="none").classifier is None
    for row in report.canvases:
        item = analysis.report_item(report, row["index"])
        assert (
            analysis.inspect(segmenter, item, metrics["source"]).predicted_text == row["prediction"]
        )


def test_headline_table_prints_a_row_per_report(m2nist_report, tmp_path):
    out, metrics = m2nist_report
    headline_table = load_script("headline_table")
    row = headline_table.row(out)
    model = Path(metrics["model"]["checkpoint"]).name + " + digit_classifier.ckpt"
    assert row[:5] == [model, "m2nist test", "document", 6, metrics["pixel"]["miou_digits"]]
    assert row[-2] == metrics["instance"]["cer"] and len(row) == len(headline_table.COLUMNS)
    with pytest.raises(SystemExit, match=f"{tmp_path} holds no metrics.json"):
        headline_table.row(tmp_path)


@pytest.mark.slow
def test_wandb_gets_pictures_and_tables(tiny_model, tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    run_eval(tiny_model, tmp_path, "count=2", "logger=wandb")
    (run,) = tmp_path.glob("wandb/offline-run-*")
    logged = {p.name.rsplit("_", 2)[0] for p in run.glob("files/media/*/test/*")}
    assert {*PICTURES, "per_class", "by_digit_height", "by_contact", "worst_cases"} <= logged
    assert "worst_predictions" in logged  # the worst canvases with their class masks


def test_folder_and_m2nist_inputs_match_the_preset(tiny_model, tmp_path):
    requires_mnist()
    cfg = compose_eval(["data=m2nist"])
    generator = build_generator(cfg.data, cfg.paths)
    for fmt in ("png", "m2nist"):
        write_split(generator, "test", 3, tmp_path / fmt, fmt=fmt, name="m2nist", progress=False)

    runs = {
        "preset": ["count=3"],
        "folder": ["source=folder", f"folder={tmp_path / 'png'}"],
        "m2nist": ["source=m2nist", f"folder={tmp_path / 'm2nist'}"],
    }
    # metrics.json as written: NaN (classes absent from 3 canvases) is null, and null == null.
    saved = {}
    for name, overrides in runs.items():
        run_eval(tiny_model, tmp_path / name, *overrides)
        saved[name] = json.loads((tmp_path / name / "metrics.json").read_text())

    assert saved["folder"]["source"]["kind"] == "folder"
    assert saved["folder"]["source"]["count"] == 3
    for key in ("pixel", "instance", "coco", "breakdowns", "worst_cases"):
        assert saved["folder"][key] == saved["preset"][key]
    # The same images and classes; instances come from connected parts of each class.
    assert saved["m2nist"]["source"]["kind"] == "m2nist"
    assert saved["m2nist"]["pixel"] == saved["preset"]["pixel"]
    assert saved["m2nist"]["breakdowns"]["background"].keys() == {"unknown"}


def test_any_batch_size_gives_the_same_metrics(tiny_model, tmp_path):
    images = write_coco_set(tmp_path / "set")
    sources = {"preset": ["count=5"], "coco": ["source=coco", f"folder={images}", "part=all"]}
    for name, overrides in sources.items():
        saved = []
        for batch_size in (1, 4):
            out = tmp_path / f"{name}_{batch_size}"
            run_eval(tiny_model, out, *overrides, f"batch_size={batch_size}")
            saved.append(json.loads((out / "metrics.json").read_text()))  # NaN as null
        assert_close(saved[0], saved[1], where=name)  # scores within float rounding
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        run_eval(tiny_model, tmp_path / "out", "batch_size=0")


def test_missing_inputs_are_clear_errors(tiny_model, tmp_path):
    with pytest.raises(CheckpointError, match="make train"):
        run_eval(tmp_path / "nothing.ckpt", tmp_path / "out")
    with pytest.raises(FileNotFoundError, match="digitseg-generate"):
        run_eval(tiny_model, tmp_path / "out", "source=folder", f"folder={tmp_path}")
    with pytest.raises(ValueError, match="needs folder"):
        run_eval(tiny_model, tmp_path / "out", "source=m2nist")


def test_cli_writes_a_run_folder_and_refuses_a_missing_model(tiny_model, tmp_path):
    requires_mnist()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = tmp_path / "run"
    args = [str(CLI), "count=2", f"hydra.run.dir={run}", *QUIET]
    done = subprocess.run(
        [*args, f"checkpoint={tiny_model}"], env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr
    assert (run / "metrics.json").is_file() and (run / "eval.log").is_file()
    assert json.loads((run / "metrics.json").read_text())["source"]["count"] == 2

    missing = subprocess.run(
        [*args, f"checkpoint={tmp_path / 'none.ckpt'}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert missing.returncode == 1
    assert "digitseg-eval: error: no model file" in missing.stderr
    assert "make train" in missing.stderr

    bad = [*args, f"checkpoint={tiny_model}", "reading.estimates.min_tilt=0.6"]
    refused = subprocess.run(bad, env=env, capture_output=True, text=True, timeout=180)
    assert refused.returncode == 1
    assert "digitseg-eval: error: reading.estimates: need 0 <= min_tilt <= max_tilt" in (
        refused.stderr
    )


def test_coco_scans_get_a_report_naming_the_reading(tiny_model, tmp_path):
    images = write_coco_set(tmp_path / "set")
    out = tmp_path / "report"
    metrics = run_eval(tiny_model, out, "source=coco", f"folder={images}", "part=all")
    on_disk = json.loads((out / "metrics.json").read_text())
    assert on_disk["source"]["kind"] == "coco" and on_disk["source"]["count"] == 2
    assert on_disk["source"]["reading"] == "document" and on_disk["source"]["scale"] is None
    assert set(on_disk) >= {"instances", "by_true_digit", "by_digits_per_image", "calibration"}
    assert metrics["instances"]["true_instances"] == 5
    with open(out / "images.csv") as f:
        rows = list(csv.DictReader(f))
    assert [row["file"] for row in rows] == ["first.png", "second.png"]
    assert [row["truth"] for row in rows] == ["173", "40"]
    assert "`document` reading preset" in (out / "report.md").read_text()
    for name in ("worst_cases", "calibration"):
        assert Image.open(out / f"{name}.png").size[0] > 300
    row = load_script("headline_table").row(out)
    assert row[1:4] == ["set all", "document", 2] and row[4] is None
    assert row[-1] == metrics["calibration"]["ece"]


def test_coco_scans_read_as_a_finer_tilted_photo_say_so(tiny_model, tmp_path, monkeypatch):
    import digitseg.eval

    shown = []

    def photographed(scan, enlarge, rotate):
        shown.append((scan.file_name, enlarge, rotate))
        return as_photographed(scan, enlarge, rotate)

    monkeypatch.setattr(digitseg.eval, "as_photographed", photographed)
    images = write_coco_set(tmp_path / "set")
    out = tmp_path / "report"
    run_eval(
        tiny_model, out, "source=coco", f"folder={images}", "part=all", "enlarge=2.5", "rotate=-12"
    )
    assert shown == [("first.png", 2.5, -12), ("second.png", 2.5, -12)]
    on_disk = json.loads((out / "metrics.json").read_text())
    assert (on_disk["source"]["enlarge"], on_disk["source"]["rotate"]) == (2.5, -12)
    report = (out / "report.md").read_text()
    assert "as a photo 2.5 times finer and tilted -12 degrees shows them" in report
    with pytest.raises(ValueError, match="give them with source=coco, not source=preset"):
        run_eval(tiny_model, tmp_path / "preset", "count=2", "enlarge=2")
    with pytest.raises(ValueError, match="enlarge must be > 0"):
        run_eval(tiny_model, tmp_path / "zero", "source=coco", f"folder={images}", "enlarge=0")


def test_eval_reads_as_digitseg_segment_does_by_default():
    from digitseg import segment

    cli_defaults = segment.reading_settings(segment.parse_args(["x.png"]))
    assert read_settings(compose_eval().reading) == cli_defaults
    canvas = read_settings(compose_eval(["reading=canvas"]).reading)
    assert (canvas.scale, canvas.slant, canvas.rotation, canvas.name) == (1.0, 0.0, 0.0, "canvas")

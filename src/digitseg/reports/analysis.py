"""Error analysis of an evaluation report: what ``notebooks/error_analysis.ipynb`` calls.

Load a report folder of ``digitseg-eval``, list its most confused digit pairs and their
examples, fetch any canvas again (from the report's source, or from a preset by split and
index) and look at a segmenter's result on it next to the truth.
"""

import csv
import functools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from digitseg.data.sources import build_generator
from digitseg.inference import Segmenter
from digitseg.inference.settings import ReadSettings, read_settings
from digitseg.postprocess import Instance, ink_crop
from digitseg.reports.inputs import EvalItem, folder_source, m2nist_source
from digitseg.reports.writing import CANVASES, INSTANCES, METRICS
from digitseg.utils.compose import REPO_ROOT, compose_eval
from digitseg.utils.options import classifier_option
from digitseg.viz import annotate, to_rgb

REPORTS_DIR = REPO_ROOT / "outputs" / "eval"
# Columns of canvases.csv that hold text; the others hold numbers or booleans.
TEXT_COLUMNS = {"style", "truth", "prediction"}


@dataclass(frozen=True)
class Report:
    """A report folder: ``metrics.json`` and the per-canvas and per-digit records."""

    folder: Path
    metrics: dict
    canvases: list[dict]
    instances: list[dict]


@dataclass(frozen=True)
class Inspection:
    """A segmenter's result on one canvas: input | truth | prediction (boxes and labels drawn),
    both texts and the predicted instances."""

    picture: np.ndarray
    truth_text: str
    predicted_text: str
    instances: list[Instance]


def repo_path(path: str | Path) -> Path:
    """``path`` as given when absolute, else relative to the repository root."""
    path = Path(path)
    return path if path.is_absolute() else REPO_ROOT / path


def latest_report(folder: str | Path = REPORTS_DIR) -> Path:
    """The most recent report folder under ``folder`` (``outputs/eval`` by default)."""
    found = sorted(Path(folder).glob(f"**/{METRICS}"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise FileNotFoundError(f"no {METRICS} under {folder}; run `make eval` first")
    return found[-1].parent


def load_report(folder: str | Path) -> Report:
    """Read a report folder written by ``digitseg-eval``."""
    folder = Path(folder)
    metrics = json.loads((folder / METRICS).read_text())
    return Report(folder, metrics, _read_csv(folder / CANVASES), _read_csv(folder / INSTANCES))


def _read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return [{k: _typed(k, v) for k, v in row.items()} for row in csv.DictReader(f)]


def _typed(column: str, value: str):
    if column in TEXT_COLUMNS:
        return value
    if value in ("True", "False"):
        return value == "True"
    return int(value)


def confused_pairs(report: Report, top: int = 5) -> list[tuple[int, int, int]]:
    """The ``top`` (true digit, predicted label, count) pairs of detected digits labelled
    wrong, most frequent first."""
    matrix = np.array(report.metrics["instance"]["confusion_matrix"])
    np.fill_diagonal(matrix, 0)
    order = np.argsort(-matrix, axis=None, kind="stable")[:top]
    pairs = [(*np.unravel_index(i, matrix.shape), matrix.flat[i]) for i in order]
    return [(int(t), int(p), int(n)) for t, p, n in pairs if n > 0]


def pair_examples(report: Report, true: int, predicted: int, k: int = 6) -> list[dict]:
    """Up to ``k`` records of true ``true`` digits detected as ``predicted``."""
    rows = [r for r in report.instances if r["label"] == true and r["predicted"] == predicted]
    return rows[:k]


def example_crops(report: Report, rows: list[dict], margin: int = 3) -> list[np.ndarray]:
    """The image around each true digit of ``rows`` (records of ``instances.csv``)."""
    crops = []
    for row in rows:
        item = report_item(report, row["canvas"])
        crops.append(ink_crop(item.image, item.truth()[row["instance"] - 1], margin))
    return crops


def report_item(report: Report, index: int) -> EvalItem:
    """Canvas ``index`` of the canvases the report was made on."""
    source = report.metrics["source"]
    if source["kind"] == "preset":
        return preset_item(source["preset"], source["split"], index)
    open_source = folder_source if source["kind"] == "folder" else m2nist_source
    *_, item = open_source(source["folder"], count=index + 1).items
    return item


def preset_item(preset: str, split: str, index: int) -> EvalItem:
    """Canvas ``index`` of ``split`` of a ``conf/data`` preset, as ``digitseg-eval`` sees it."""
    generator = preset_generator(preset)
    return EvalItem.from_canvas(index, generator(split, index), generator.spec.layout == "line")


@functools.cache
def eval_reading() -> ReadSettings:
    """How ``digitseg-eval`` reads by default (``conf/eval.yaml``'s reading preset)."""
    return read_settings(compose_eval().reading)


def report_reading(source: dict) -> ReadSettings:
    """The reading settings a report's ``metrics["source"]`` records; what it lacks (a
    report from before reading presets) is ``digitseg-eval``'s default."""
    default = eval_reading().record()
    return ReadSettings.from_record({key: source.get(key, v) for key, v in default.items()})


@functools.cache
def preset_generator(preset: str):
    """The canvas generator of a preset (MNIST loaded once per preset)."""
    cfg = compose_eval([f"data={preset}"])
    return build_generator(cfg.data, cfg.paths)


def report_segmenter(
    report: Report, checkpoint: str | Path | None = None, classifier: str | Path | None = None
) -> Segmenter:
    """The segmenter ``report`` was made with: its model file, digit classifier and reading
    settings. ``checkpoint`` or ``classifier`` (``"none"``: without one) replace the
    report's."""
    source = report.metrics["source"]
    if classifier is None:
        classifier = source.get("classifier")
    else:
        classifier = classifier_option(str(classifier))
    return Segmenter.from_checkpoint(
        repo_path(checkpoint or report.metrics["model"]["checkpoint"]),
        classifier=repo_path(classifier) if classifier else None,
        settings=report_reading(source),
    )


def inspect(segmenter: Segmenter, item: EvalItem, source: dict | None = None) -> Inspection:
    """Run ``segmenter`` on ``item`` as ``digitseg-eval`` does and draw it next to the truth.
    ``source`` is a report's (``metrics["source"]``) to read with its reading settings;
    None: ``digitseg-eval``'s defaults."""
    result = segmenter.run(item.image, report_reading(source or {}))
    picture = side_by_side(
        [
            item.image,
            annotate(item.image, item.semantic, item.truth()),
            annotate(item.image, result.labels, result.instances),
        ]
    )
    return Inspection(picture, item.truth_text(), result.text, result.instances)


def side_by_side(pictures: list[np.ndarray], gap: int = 2) -> np.ndarray:
    """Pictures (gray or RGB, any size) in a row on white, tops aligned."""
    height = max(p.shape[0] for p in pictures)
    panels = []
    for picture in pictures:
        rgb = to_rgb(picture)
        panel = np.full((height, rgb.shape[1] + gap, 3), 255, np.uint8)
        panel[: rgb.shape[0], : rgb.shape[1]] = rgb
        panels.append(panel)
    row = np.concatenate(panels, axis=1)
    return row[:, : row.shape[1] - gap]


def enlarged(picture: np.ndarray, scale: int = 3) -> Image.Image:
    """``picture`` as a PIL image ``scale`` times larger (notebooks display it)."""
    image = Image.fromarray(to_rgb(picture))
    return image.resize((image.width * scale, image.height * scale), Image.NEAREST)

"""``scripts/retrain_on_scans.sh``: the whole retraining on scans in one run, and its refusals."""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.config import requires_mnist
from tests.helpers.scans import write_coco_set
from tests.helpers.scripts import SCRIPTS_DIR

SCRIPT = SCRIPTS_DIR / "retrain_on_scans.sh"
MODELS = SCRIPTS_DIR.parent / "models"
TINY = {
    "SEGMENTER_ARGS": "data.train_size=16 data.val_size=4 data.batch_size=8 "
    "trainer.max_epochs=1 extras.print_config=false",
    "CLASSIFIER_ARGS": "canvases.numbers=6 canvases.canvas=4 canvases.scans=4 val_canvases=2 "
    "workers=1 batch_size=16 trainer.max_epochs=1 extras.print_config=false",
    "EVAL_ARGS": "count=4",
}


def run_script(out: Path, *phase: str, **env) -> subprocess.CompletedProcess:
    env = os.environ | {"BIN": str(Path(sys.executable).parent)} | env
    return subprocess.run(
        ["bash", str(SCRIPT), str(out), *phase],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def digests() -> dict[str, str]:
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in MODELS.glob("*.ckpt")}


def test_a_folder_with_files_in_it_is_refused_and_kept(tmp_path):
    (tmp_path / "mine.txt").write_text("kept")
    done = run_script(tmp_path)
    assert done.returncode == 2
    assert str(tmp_path) in done.stderr and "not empty" in done.stderr
    assert [f.name for f in tmp_path.iterdir()] == ["mine.txt"]


def test_reading_before_training_and_an_unknown_phase_are_refused(tmp_path):
    done = run_script(tmp_path, "read")
    assert done.returncode == 2
    assert f"{tmp_path}/segmenter.ckpt is missing; run the train phase first" in done.stderr
    done = run_script(tmp_path / "new", "evaluate")
    assert done.returncode == 2 and "unknown phase 'evaluate'" in done.stderr
    assert not (tmp_path / "new").exists()


@pytest.mark.slow
def test_a_tiny_run_trains_then_reads_both_pairs_and_leaves_models_alone(tmp_path):
    requires_mnist()
    write_coco_set(tmp_path / "scans")
    before = digests()
    out = tmp_path / "run"
    env = {"DIGITSEG_SCANS_DIR": str(tmp_path / "scans"), **TINY}
    done = run_script(out, "train", **env)
    assert done.returncode == 0, done.stderr[-3000:]
    models = {"segmenter", "classifier", "classifier_calibrated", "shipped_classifier_calibrated"}
    assert {f.stem for f in out.glob("*.ckpt")} == models
    assert not (out / "results.md").exists()

    done = run_script(out, "read", **env)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line.split(" | ") for line in (out / "results.md").read_text().splitlines()[2:]]
    read = [(cells[0].strip("| "), cells[1]) for cells in rows]
    sets = ["scans val", "numbers test", "m2nist test", "canvas test"]
    assert read == [
        (f"segmenter.ckpt + {classifier}.ckpt", images)
        for classifier in ("classifier_calibrated", "shipped_classifier_calibrated")
        for images in sets
    ]
    assert digests() == before
    again = run_script(out, "read", **env)
    assert again.returncode == 2 and f"{out}/eval exists" in again.stderr

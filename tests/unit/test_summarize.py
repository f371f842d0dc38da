"""scripts/summarize_multirun.py on a hand-made multirun folder."""

import json
from pathlib import Path

import pytest
import yaml

from tests.helpers.scripts import load_script

summarize_multirun = load_script("summarize_multirun")

METRIC = "val/miou_digits_best"


def make_job(sweep: Path, num: int, overrides: list[str], value: float | None) -> None:
    job = sweep / str(num)
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    if value is not None:  # a failed job leaves no metrics.json
        (job / "metrics.json").write_text(json.dumps({METRIC: value, "val/loss": 1.0}))


@pytest.fixture
def sweep(tmp_path):
    results = {("resnet18", 1): 0.5, ("resnet18", 2): 0.7, ("resnet34", 1): 0.8}
    results[("resnet34", 2)] = None
    for num, ((encoder, seed), value) in enumerate(results.items()):
        overrides = [f"model.net.encoder_name={encoder}", f"seed={seed}", "trainer.max_epochs=3"]
        make_job(tmp_path, num, overrides, value)
    (tmp_path / ".submitit").mkdir()  # launcher files are not jobs
    return tmp_path


def test_settings_are_the_varying_overrides_without_seed(sweep):
    rows, shared = summarize_multirun.summarize(summarize_multirun.load_jobs(sweep), [METRIC])
    assert shared == ["trainer.max_epochs=3"]
    assert [row["setting"] for row in rows] == [
        "model.net.encoder_name=resnet34",
        "model.net.encoder_name=resnet18",
    ]
    resnet34, resnet18 = rows
    assert (resnet34["jobs"], resnet34["finished"]) == (2, 1)
    assert resnet34[METRIC]["mean"] == 0.8
    assert resnet18[METRIC]["mean"] == pytest.approx(0.6)
    assert resnet18[METRIC]["std"] == pytest.approx(0.1414, abs=1e-4)  # sample std


def test_cli_writes_table_csv_and_plot(sweep, capsys):
    summarize_multirun.main([str(sweep)])
    out = capsys.readouterr().out
    assert "| model.net.encoder_name=resnet18 | 0.6000 ± 0.1414 (n=2) |" in out
    assert "| model.net.encoder_name=resnet34 | 0.8000 (n=1) |" in out
    csv = (sweep / "summary.csv").read_text().splitlines()
    assert csv[0] == f"setting,jobs,finished,{METRIC} mean,{METRIC} std"
    assert (sweep / "summary.png").read_bytes()[:4] == b"\x89PNG"


def test_cli_refuses_a_folder_without_jobs(tmp_path):
    with pytest.raises(SystemExit):
        summarize_multirun.main([str(tmp_path)])


def test_labels_shorten_keys_and_round_numbers():
    row = {"setting": "", "overrides": ["model.net.arch=Unet", "model.optimizer.lr=0.0012345678"]}
    assert summarize_multirun.setting_label(row) == "arch=Unet, lr=0.00123"
    assert summarize_multirun.setting_label({"setting": "(all)", "overrides": []}) == "(all)"


def test_optuna_like_sweep_plot_ranks_the_best_and_slices_each_parameter(tmp_path):
    # Eight trials, each its own setting: an architecture and a learning rate.
    for num in range(8):
        arch = ("Unet", "MAnet")[num % 2]
        overrides = [f"model.net.arch={arch}", f"model.optimizer.lr={10 ** (-4 + num / 3)}"]
        make_job(tmp_path, num, overrides, 0.8 + 0.01 * num)
    jobs = summarize_multirun.load_jobs(tmp_path)
    rows, _ = summarize_multirun.summarize(jobs, [METRIC])
    figure = summarize_multirun.plot(rows, [METRIC], jobs, top=5)
    ranked, *slices = figure.axes
    labels = [label.get_text() for label in ranked.get_yticklabels()]
    assert len(labels) == 5 and labels[0] == "arch=MAnet, lr=0.0215"  # the best, on top
    assert ranked.get_xlabel() == METRIC
    assert "8 settings, 8 jobs (the best 5 shown)" in figure.get_suptitle()
    by_title = {ax.get_title(): ax for ax in slices if ax.get_visible()}
    assert set(by_title) == {"arch", "lr"}
    assert by_title["lr"].get_xscale() == "log"  # lr spans more than 20x
    assert [t.get_text() for t in by_title["arch"].get_xticklabels()] == ["Unet", "MAnet"]


def test_seed_only_sweep_has_no_parameter_panels(tmp_path):
    for seed in (1, 2, 3):
        make_job(tmp_path, seed, [f"seed={seed}"], 0.9)
    jobs = summarize_multirun.load_jobs(tmp_path)
    rows, _ = summarize_multirun.summarize(jobs, [METRIC])
    (ranked,) = summarize_multirun.plot(rows, [METRIC], jobs).axes
    assert [label.get_text() for label in ranked.get_yticklabels()] == ["(all)"]

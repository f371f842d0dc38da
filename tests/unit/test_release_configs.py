"""The release experiments: the shipped model's training chain (experiment=release_gpu, then
release_gpu_stage2..6), the CPU run (experiment=release) and what every experiment exports."""

import itertools
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from digitseg.utils.config import CONF_DIR

STAGES = ["release_gpu"] + [f"release_gpu_stage{n}" for n in range(2, 7)]
EXPERIMENTS = sorted(path.stem for path in Path(CONF_DIR, "experiment").glob("*.yaml"))


@pytest.fixture(scope="module")
def stages():
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=CONF_DIR):
        return [compose(config_name="train", overrides=[f"experiment={name}"]) for name in STAGES]


def test_each_stage_starts_from_the_model_the_stage_before_exports(stages):
    assert stages[0].init_weights is None
    for before, stage in itertools.pairwise(stages):
        assert stage.init_weights == before.export.path
    assert stages[-1].export.path.endswith("models/digit_segmenter.ckpt")
    assert stages[-1].export.half


def test_each_stage_trains_on_fresh_canvases_at_a_lower_peak_learning_rate(stages):
    assert len({stage.data.seed for stage in stages}) == len(STAGES)
    rates = [stage.model.optimizer.lr for stage in stages]
    assert rates == sorted(rates, reverse=True) and len(set(rates)) == len(rates)
    assert {stage.data.name for stage in stages} == {"release"}


def test_every_spec_of_the_mix_draws_canvases_of_the_same_size(stages):
    for stage in stages:
        sizes = {(part.spec.height, part.spec.width) for part in stage.data.mixture.values()}
        assert sizes == {(stage.data.spec.height, stage.data.spec.width)} == {(48, 192)}


def _experiment(name: str):
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=CONF_DIR):
        return compose(config_name="train", overrides=[f"experiment={name}"])


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_no_experiment_overwrites_the_shipped_model_by_default(name):
    # A file at export.path (models/digit_segmenter.ckpt at stage 6) is kept unless the
    # command asks with export.overwrite=true.
    assert _experiment(name).export.overwrite is False


def test_the_cpu_release_run_exports_to_its_own_file():
    assert _experiment("release").export.path.endswith("models/release_cpu.ckpt")

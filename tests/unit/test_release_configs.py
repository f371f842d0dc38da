"""The shipped model's training chain: experiment=release_gpu, then release_gpu_stage2..6."""

import itertools

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from digitseg.utils.config import CONF_DIR

STAGES = ["release_gpu"] + [f"release_gpu_stage{n}" for n in range(2, 7)]


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

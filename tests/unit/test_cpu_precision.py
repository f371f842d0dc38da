"""``trainer=cpu`` trains in bf16 only where the CPU runs bf16 natively, says why, and an
explicit ``trainer.precision`` wins."""

import logging

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.utils import instantiate
from omegaconf import OmegaConf, open_dict

from digitseg.utils.config import CONF_DIR

AVX2_ONLY = {"cpu_name": "Old Xeon", "avx2": True, "avx512_bf16": False, "amx_bf16": False}
AVX512_BF16 = {"cpu_name": "AMD EPYC", "avx2": True, "avx512_bf16": True, "amx_bf16": False}
AMX = {"cpu_name": "Xeon Max", "avx2": True, "avx512_bf16": True, "amx_bf16": True}


@pytest.fixture
def cpu(monkeypatch):
    """A function that makes torch report ``capabilities`` for this machine's CPU."""

    def report(capabilities: dict) -> None:
        monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: capabilities)

    return report


def choices(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "digitseg.utils.hardware"]


def cpu_train_config(overrides: list[str] = (), output_dir=None):
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=CONF_DIR):
        cfg = compose(config_name="train", overrides=["trainer=cpu", *overrides])
    if output_dir is not None:
        with open_dict(cfg):
            cfg.paths.output_dir = str(output_dir)
    return cfg


@pytest.mark.parametrize(
    ("capabilities", "precision", "why"),
    [
        (AVX2_ONLY, "32-true", "Old Xeon has neither AMX-BF16 nor AVX512-BF16"),
        (AVX512_BF16, "bf16-mixed", "AMD EPYC runs bf16 natively (avx512_bf16)"),
        (AMX, "bf16-mixed", "Xeon Max runs bf16 natively (amx_bf16, avx512_bf16)"),
    ],
)
def test_the_cpu_trainer_picks_bf16_only_where_the_cpu_runs_it_natively(
    capabilities, precision, why, cpu, caplog
):
    cpu(capabilities)
    with caplog.at_level(logging.INFO, logger="digitseg.utils.hardware"):
        assert cpu_train_config().trainer.precision == precision
    assert f"trainer.precision={precision}: {why}" in caplog.text


@pytest.mark.parametrize(
    ("capabilities", "override"),
    [(AVX512_BF16, "32-true"), (AVX2_ONLY, "bf16-mixed")],
)
def test_an_explicit_precision_wins(capabilities, override, cpu, caplog):
    cpu(capabilities)
    with caplog.at_level(logging.INFO, logger="digitseg.utils.hardware"):
        cfg = cpu_train_config([f"trainer.precision={override}"])
        assert cfg.trainer.precision == override
    assert choices(caplog) == []  # nothing chosen, so nothing to explain


def test_lightning_trains_at_the_chosen_precision_and_the_run_logs_it_once(cpu, caplog, tmp_path):
    cpu(AVX2_ONLY)
    cfg = cpu_train_config(["logger=none"], output_dir=tmp_path)
    with caplog.at_level(logging.INFO, logger="digitseg.utils.hardware"):
        OmegaConf.to_container(cfg, resolve=True)  # as the config tree and the model file do
        trainer = instantiate(cfg.trainer, callbacks=[], logger=False)
    assert trainer.precision == "32-true"
    assert len(choices(caplog)) == 1

"""Multiruns through the real CLI: Optuna, seed sweeps on submitit local jobs, the DDP guard."""

import json
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import torch
import yaml
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig

from digitseg.train import _prepare_sweep_job
from digitseg.utils.config import CONF_DIR
from tests.helpers.config import TINY, requires_mnist

# TINY, and the small U-Net that compose_train makes, as command-line overrides.
CLI_TINY = [*TINY, "model.net.encoder_depth=3", "model.net.decoder_channels=[32,16,8]"]
ROOT = Path(__file__).resolve().parents[2]


def digitseg_train(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """``digitseg-train`` with ``CLI_TINY`` (less the keys that ``args`` set) and ``args``."""
    requires_mnist()
    keys = {arg.split("=")[0] for arg in args}
    tiny = [o for o in CLI_TINY if o.split("=")[0] not in keys]
    command = [sys.executable, "-m", "digitseg.train", *args, *tiny]
    # Test callbacks load from tests/; as many threads as here, so that numbers match.
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": str(torch.get_num_threads())}
    return subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=cwd, env=env)


def test_optuna_sweep_keeps_its_study_in_sqlite(tmp_path):
    done = digitseg_train(
        "hparams_search=unet_optuna",
        "hydra.sweeper.n_trials=2",
        "model.net.encoder_name=resnet18",  # fixed: out of the search space
        f"hydra.sweep.dir={tmp_path}/sweep",
        f"paths.root_dir={tmp_path}",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    storage = f"sqlite:///{tmp_path}/outputs/optuna/unet_optuna.db"
    trials = optuna.load_study(study_name="unet_optuna", storage=storage).trials
    assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE] * 2
    assert set(trials[0].params) == {
        "model.net.arch",
        "model.loss.dice_weight",
        "model.core_weight",
        "model.loss.contact_weight",
        "model.optimizer.lr",
    }
    results = [json.loads((tmp_path / "sweep" / j / "metrics.json").read_text()) for j in "01"]
    assert [t.value for t in trials] == [r["val/miou_digits_best"] for r in results]
    best = yaml.safe_load((tmp_path / "sweep" / "optimization_results.yaml").read_text())
    assert best["best_value"] == max(t.value for t in trials)


def optuna_storage(*overrides: str) -> str:
    """``hydra.sweeper.storage`` of the Optuna sweep composed with ``overrides``."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=CONF_DIR):
        overrides = ["hparams_search=unet_optuna", *overrides]
        cfg = compose(config_name="train", overrides=overrides, return_hydra_config=True)
    return cfg.hydra.sweeper.storage


DEBUG_CONFIGS = sorted(p.stem for p in (Path(CONF_DIR) / "debug").glob("*.yaml"))


@pytest.mark.parametrize("debug", [name for name in DEBUG_CONFIGS if name != "default"])
def test_a_debug_sweep_keeps_its_study_apart_from_real_studies(tmp_path, debug):
    root = tmp_path.resolve()
    real = optuna_storage(f"paths.root_dir={root}")
    smoke = optuna_storage(f"paths.root_dir={root}", f"debug={debug}")
    assert real == f"sqlite:///{root}/outputs/optuna/unet_optuna.db"
    assert smoke == f"sqlite:///{root}/outputs/optuna/debug/unet_optuna.db"  # its own folder


def test_seed_sweep_on_submitit_local_jobs_repeats_exactly_and_summarizes(tmp_path):
    sweep = tmp_path / "seeds"
    done = digitseg_train(
        "hparams_search=seeds", "seed=7,7", "hydra/launcher=local", f"hydra.sweep.dir={sweep}"
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(list((sweep / ".submitit").glob("*/*_log.out"))) == 2  # one process per job
    first, second = (json.loads((sweep / j / "metrics.json").read_text()) for j in "01")
    assert first == second  # trainer.deterministic=true: the same seed gives the same run
    summary = subprocess.run(
        [sys.executable, "scripts/summarize_multirun.py", str(sweep)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert summary.returncode == 0, summary.stderr
    assert "± 0.0000 (n=2)" in summary.stdout
    assert (sweep / "summary.png").stat().st_size > 0


def test_sweep_jobs_group_wandb_runs_and_refuse_ddp():
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=CONF_DIR):
        overrides = ["logger=wandb", "seed=3", "hydra.sweep.dir=outputs/x/2024-01-02_study"]
        cfg = compose(config_name="train", overrides=overrides, return_hydra_config=True)
        ddp = compose(config_name="train", overrides=["trainer=ddp"], return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    try:
        _prepare_sweep_job(cfg)
        with pytest.raises(ValueError, match="devices=4 and trainer.num_nodes=1 cannot run"):
            _prepare_sweep_job(ddp)
    finally:
        HydraConfig.instance().cfg = None
    assert cfg.logger.wandb.group == "2024-01-02_study"
    assert cfg.logger.wandb.name == "logger=wandb,seed=3"


def test_ddp_is_refused_inside_a_multirun(tmp_path):
    done = digitseg_train("-m", "trainer=ddp_cpu", f"hydra.sweep.dir={tmp_path}")
    assert done.returncode != 0
    assert "cannot run inside a multirun" in done.stderr
    assert "trainer.devices=2" in done.stderr and "trainer=gpu" in done.stderr


def test_wandb_sweep_searches_the_optuna_space_through_the_same_entry_point():
    sweep = yaml.safe_load((ROOT / "scripts" / "wandb_sweep.yaml").read_text())
    sampled = [
        f"{key}={space['values'][0] if 'values' in space else space['min']}"
        for key, space in sweep["parameters"].items()
    ]
    fixed = [arg for arg in sweep["command"] if "$" not in arg]
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=CONF_DIR):
        search = compose(
            config_name="train", overrides=["hparams_search=unet_optuna"], return_hydra_config=True
        )
        cfg = compose(config_name="train", overrides=[*sampled, *fixed])
    assert set(sweep["parameters"]) == set(search.hydra.sweeper.params)
    assert sweep["metric"]["name"] == search.optimized_metric
    assert cfg.logger.wandb.offline is False and cfg.model.net.arch == "Unet"


def test_sbatch_script_is_valid_bash():
    subprocess.run(["bash", "-n", str(ROOT / "scripts" / "slurm_ddp.sbatch")], check=True)

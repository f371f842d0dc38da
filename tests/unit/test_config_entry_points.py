"""What the entry points' configs share: conf/ itself, conf/local/default.yaml, the loggers
the classifier composes with, the callbacks without a logger, and where MNIST is read; and
`make help`'s colours."""

import importlib.util
import os
import pty
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from lightning.pytorch.callbacks import LearningRateMonitor
from omegaconf import OmegaConf, open_dict

from digitseg.data.mnist import ENV_VAR
from digitseg.utils.config import (
    CONF_DIR,
    apply_extras,
    instantiate_callbacks,
    instantiate_dict,
    mnist_folders,
)

ENTRY_POINTS = ("train", "classifier", "eval", "generate")
LOGGERS = sorted(path.stem for path in Path(CONF_DIR, "logger").glob("*.yaml"))
REPO = Path(CONF_DIR).parent


def compose_config(name: str, overrides: list[str] = (), config_dir: str = CONF_DIR, out=None):
    """``conf/<name>.yaml`` composed; ``out``: its ``paths.output_dir`` (outside a Hydra run
    there is nothing to resolve it to)."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=config_dir):
        cfg = compose(config_name=name, overrides=list(overrides))
    if out is not None:
        with open_dict(cfg):
            cfg.paths.output_dir = str(out)
    return cfg


@pytest.mark.parametrize("logger", LOGGERS)
def test_the_classifier_composes_and_resolves_with_every_logger(logger, tmp_path):
    cfg = compose_config("classifier", [f"logger={logger}"], out=tmp_path)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    if logger == "wandb":
        assert resolved["logger"]["wandb"]["tags"] == ["classifier"]
        assert resolved["logger"]["wandb"]["job_type"] == "train_classifier"


@pytest.mark.parametrize("name", ["train", "classifier"])
def test_without_a_logger_the_learning_rate_monitor_is_left_out(name, tmp_path):
    cfg = compose_config(name, ["logger=none"], out=tmp_path)
    loggers = instantiate_dict(cfg.logger)
    assert loggers == []
    callbacks = instantiate_callbacks(cfg.callbacks, loggers)
    assert callbacks and not any(isinstance(c, LearningRateMonitor) for c in callbacks)
    with_csv = instantiate_callbacks(cfg.callbacks, ["a logger"])
    assert any(isinstance(c, LearningRateMonitor) for c in with_csv)


def test_every_entry_point_reads_conf_local(tmp_path):
    conf = shutil.copytree(CONF_DIR, tmp_path / "conf")
    (conf / "local" / "default.yaml").write_text(
        "# @package _global_\npaths:\n  mnist_dir: /from/local\n  data_dir: /local/data\n"
    )
    for name in ENTRY_POINTS:
        paths = compose_config(name, config_dir=str(conf)).paths
        assert (paths.mnist_dir, paths.mnist_cache) == ("/from/local", "/local/data/mnist"), name
    GlobalHydra.instance().clear()
    assert mnist_folders(config_dir=str(conf)) == ("/from/local", "/local/data/mnist")


def test_mnist_folders_are_the_ones_a_run_reads(monkeypatch):
    GlobalHydra.instance().clear()
    monkeypatch.setenv(ENV_VAR, "/from/env")
    assert mnist_folders() == ("/from/env", "./data/mnist")
    assert mnist_folders(["paths.mnist_dir=/given", "paths.data_dir=/elsewhere"]) == (
        "/given",
        "/elsewhere/mnist",
    )
    monkeypatch.delenv(ENV_VAR)
    assert mnist_folders() == (None, "./data/mnist")


@pytest.mark.skipif(not os.environ.get(ENV_VAR), reason=f"set {ENV_VAR} to MNIST's IDX files")
@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_mnist_reads_the_folder_given_to_the_run():
    folder = str(Path(os.environ[ENV_VAR]).resolve())
    env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    args = f"ARGS=paths.mnist_dir={folder} model=fcn8"  # model=...: not for make mnist
    bin_dir = f"BIN={Path(sys.executable).parent}"
    done = subprocess.run(
        ["make", "-s", "-o", ".venv/.installed", bin_dir, "mnist", args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "MNIST ready (route: explicit)" in done.stdout
    assert f"MNIST loaded from {folder}" in done.stderr


def make_help_on_a_terminal() -> str:
    """What ``make help`` writes when its output is a terminal."""
    main, terminal = pty.openpty()
    with subprocess.Popen(["make", "-s", "help"], cwd=REPO, stdout=terminal) as make:
        os.close(terminal)
        chunks = []
        while True:
            try:
                chunk = os.read(main, 4096)
            except OSError:  # make has exited and closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
    os.close(main)
    assert make.returncode == 0
    return b"".join(chunks).decode()


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_help_colours_the_targets_on_a_terminal_only():
    piped = subprocess.run(["make", "-s", "help"], cwd=REPO, capture_output=True, text=True)
    assert piped.returncode == 0, piped.stderr
    assert "  test " in piped.stdout and "\x1b" not in piped.stdout
    assert "\x1b[36mtest " in make_help_on_a_terminal()


def test_without_the_repositorys_conf_the_error_says_to_install_editable(tmp_path):
    # digitseg/utils/conf_dir.py as a non-editable install puts it: in site-packages, no conf/.
    copy = tmp_path / "site-packages" / "digitseg" / "utils" / "conf_dir.py"
    copy.parent.mkdir(parents=True)
    shutil.copy(Path(CONF_DIR).parent / "src" / "digitseg" / "utils" / "conf_dir.py", copy)
    spec = importlib.util.spec_from_file_location("installed_config", copy)
    with pytest.raises(FileNotFoundError, match=r"installed editable .*pip install -e \.") as err:
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
    assert str(tmp_path / "conf") in str(err.value)


class ExtrasApplied(Exception):
    """Stops an entry point once it has applied its extras."""


@pytest.mark.parametrize(
    ("name", "module", "entry"),
    [
        ("train", "digitseg.train", "train"),
        ("classifier", "digitseg.classifier.train", "train_classifier"),
        ("eval", "digitseg.eval", "evaluate"),
    ],
)
def test_every_run_applies_its_extras(name, module, entry, tmp_path, monkeypatch, capsys):
    run = importlib.import_module(module)

    def apply_then_stop(cfg, **tree):
        apply_extras(cfg, **tree)
        warnings.warn("silenced", UserWarning, stacklevel=1)
        raise ExtrasApplied

    monkeypatch.setattr(run, "apply_extras", apply_then_stop)
    overrides = ["extras.print_config=true", "extras.ignore_warnings=true", "logger=none"]
    cfg = compose_config(name, overrides, out=tmp_path)
    with warnings.catch_warnings(record=True) as shown, pytest.raises(ExtrasApplied):
        warnings.simplefilter("always")
        getattr(run, entry)(cfg)
    assert shown == []
    assert (tmp_path / "config_tree.log").is_file() and "paths" in capsys.readouterr().out

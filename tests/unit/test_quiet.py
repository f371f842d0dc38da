"""Runs leave out the libraries' chatter and keep what matters: Lightning's adverts and
warnings about library internals go, Lightning's other lines and other warnings stay, and
Optuna logs through Hydra's plain logging in a sweep."""

import logging
import warnings

import colorlog
import lightning as L
import optuna
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.utils import instantiate
from lightning_utilities.core import rank_zero
from torch.utils._pytree import LeafSpec

from digitseg.utils.config import CONF_DIR
from digitseg.utils.quiet import PlainOptunaLogs, quiet_libraries


class Records(logging.Handler):
    """Keeps the messages of the records it handles."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_lightnings_adverts_are_left_out_and_its_other_lines_kept(tmp_path):
    quiet_libraries()
    records = Records()
    rank_zero.log.addHandler(records)
    try:
        L.Trainer(logger=False, default_root_dir=tmp_path, accelerator="cpu", devices=1)
    finally:
        rank_zero.log.removeHandler(records)
    assert any(m.startswith("GPU available") for m in records.messages)
    assert not any("litlogger" in m or "litmodels" in m for m in records.messages)


def test_warnings_about_library_internals_are_left_out_and_others_kept():
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        quiet_libraries()
        LeafSpec()  # what Lightning's pytree helper does: torch warns of the deprecation
        warnings.warn("Precision bf16-mixed is not supported by the model summary.", UserWarning, 1)
        warnings.warn("a warning about the run", UserWarning, stacklevel=1)
        warnings.warn("a deprecation the project must act on", FutureWarning, stacklevel=1)
    assert [str(w.message) for w in shown] == [
        "a warning about the run",
        "a deprecation the project must act on",
    ]


@pytest.fixture
def optuna_logging():
    """Optuna's logging as it was before the test."""
    yield
    optuna.logging.enable_default_handler()
    optuna.logging.disable_propagation()


def sweep_hydra_config(search: str):
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=CONF_DIR):
        return compose(
            config_name="train",
            overrides=[f"hparams_search={search}"],
            return_hydra_config=True,
        )


def test_an_optuna_sweep_logs_optunas_lines_as_plain_text_through_hydra(optuna_logging):
    cfg = sweep_hydra_config("unet_optuna")
    callback = instantiate(cfg.hydra.callbacks.plain_optuna_logs)
    assert isinstance(callback, PlainOptunaLogs)
    callback.on_multirun_start(config=cfg)
    records, root = Records(), logging.getLogger()  # Hydra's handlers are the root's
    root.addHandler(records)
    try:
        optuna.logging.get_logger("optuna.storages").info("A new study created")
    finally:
        root.removeHandler(records)
    assert records.messages == ["A new study created"]
    optunas = logging.getLogger("optuna").handlers
    assert not any(isinstance(h.formatter, colorlog.ColoredFormatter) for h in optunas)


def test_other_sweeps_leave_optuna_alone(optuna_logging):
    PlainOptunaLogs().on_multirun_start(config=sweep_hydra_config("seeds"))
    assert not logging.getLogger("optuna").propagate

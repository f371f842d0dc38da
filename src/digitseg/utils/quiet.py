"""Library chatter that digitseg's runs leave out: Lightning's adverts, warnings about the
libraries' own internals, and Optuna's colour codes in sweep logs."""

import logging
import warnings
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

# How Lightning's info lines that advertise its cloud services (litlogger, litmodels) start.
LIGHTNING_ADVERT = "💡 Tip:"
# (message pattern, category) of warnings that say nothing about the run.
LIBRARY_WARNINGS = (
    # torch about Lightning's own use of its pytree module
    (r"`isinstance\(treespec, LeafSpec\)` is deprecated", FutureWarning),
    # the summary's size in MB is computed at 32 bits under mixed precision
    (r"Precision .* is not supported by the model summary", UserWarning),
)


def _not_an_advert(record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith(LIGHTNING_ADVERT)


def quiet_libraries() -> None:
    """Leave out Lightning's adverts and ``LIBRARY_WARNINGS``; calling it again changes
    nothing."""
    from lightning_utilities.core import rank_zero  # the logger rank_zero_info writes to

    if _not_an_advert not in rank_zero.log.filters:
        rank_zero.log.addFilter(_not_an_advert)
    for message, category in LIBRARY_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category)


class PlainOptunaLogs(Callback):
    """Hydra callback (``conf/hydra/default.yaml``): in an Optuna sweep, Optuna's log lines go
    through Hydra's logging as plain text, like Hydra's own, instead of through Optuna's
    handler, which colours them even where the output is a file."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if "optuna" in str(config.hydra.sweeper.get("_target_", "")):
            import optuna

            optuna.logging.disable_default_handler()
            optuna.logging.enable_propagation()

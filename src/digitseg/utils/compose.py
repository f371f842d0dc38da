"""The configs the entry points compose, composed outside a Hydra run (tests, notebooks,
scripts)."""

from collections.abc import Sequence
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, open_dict

from digitseg.utils.config import CONF_DIR

# The clone digitseg is installed from (editable): conf/ and models/ live here.
REPO_ROOT = Path(CONF_DIR).parent


def compose_eval(overrides: Sequence[str] = (), output_dir: str | Path | None = None) -> DictConfig:
    """The config ``digitseg-eval`` composes (``conf/eval.yaml`` with ``overrides``).

    Paths are relative to the repository root, whatever the working folder; ``output_dir``
    is the report folder (a run gets Hydra's).
    """
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=CONF_DIR):
        cfg = compose("eval", overrides=[f"paths.root_dir={REPO_ROOT}", *overrides])
    if output_dir is not None:
        with open_dict(cfg):
            cfg.paths.output_dir = str(output_dir)
    return cfg

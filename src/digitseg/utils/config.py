"""Hydra/OmegaConf helpers shared by the entry points and the tests."""

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from rich import print as rich_print
from rich.syntax import Syntax
from rich.tree import Tree

from digitseg.utils.conf_dir import CONF_DIR
from digitseg.utils.quiet import quiet_libraries


def _wandb_offline() -> bool:
    """W&B runs offline unless the user asked for online through WANDB_MODE."""
    return os.environ.get("WANDB_MODE", "offline").lower() != "online"


def register_resolvers() -> None:
    """Resolvers the configs use: ``${wandb_offline:}``, ``${slurm_run_name:<default>}`` and
    ``${sqlite_url:<path>}`` (the last two from :mod:`digitseg.utils.resume`), and
    ``${cpu_precision:}`` (:mod:`digitseg.utils.hardware`), cached per config so that a run
    logs its choice once."""
    from digitseg.utils.hardware import cpu_precision
    from digitseg.utils.resume import slurm_run_name, sqlite_url

    resolvers = {
        "wandb_offline": (_wandb_offline, False),
        "slurm_run_name": (slurm_run_name, False),
        "sqlite_url": (sqlite_url, False),
        "cpu_precision": (cpu_precision, True),
    }
    for name, (resolver, use_cache) in resolvers.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, resolver, use_cache=use_cache)


register_resolvers()


def instantiate_dict(cfg: DictConfig | None) -> list:
    """Instantiate every entry of a group such as ``callbacks`` or ``logger`` (None skipped)."""
    if not cfg:
        return []
    return [instantiate(node) for node in cfg.values() if node is not None and "_target_" in node]


def instantiate_callbacks(cfg: DictConfig | None, loggers: list) -> list:
    """Instantiate the ``callbacks`` group; without ``loggers`` the learning-rate monitor is
    left out, as Lightning refuses it when there is no logger to write to (``logger=none``)."""
    from lightning.pytorch.callbacks import LearningRateMonitor

    return [c for c in instantiate_dict(cfg) if loggers or not isinstance(c, LearningRateMonitor)]


def mnist_folders(
    overrides: Sequence[str] = (), config_dir: str = CONF_DIR
) -> tuple[str | None, str]:
    """``paths.mnist_dir`` and ``paths.mnist_cache`` as a run resolves them: ``conf/paths``,
    ``$DIGITSEG_MNIST_DIR``, ``conf/local/default.yaml`` and ``overrides`` (``paths.*=...``)."""
    with initialize_config_dir(version_base="1.3", config_dir=config_dir):
        paths = compose(config_name="train", overrides=list(overrides)).paths
    mnist_dir = paths.mnist_dir
    return (None if mnist_dir is None else str(mnist_dir)), str(paths.mnist_cache)


def apply_extras(cfg: DictConfig, **tree) -> None:
    """What ``conf/extras`` asks of a run: Python's warnings silenced, the config printed as a
    tree and saved in the run folder (``tree``: :func:`print_config_tree`'s options); and in
    every run, the libraries' chatter left out (:func:`digitseg.utils.quiet.quiet_libraries`)."""
    quiet_libraries()
    if cfg.extras.get("ignore_warnings"):
        warnings.filterwarnings("ignore")
    if cfg.extras.get("print_config"):
        print_config_tree(cfg, cfg.paths.output_dir, **tree)


def print_config_tree(
    cfg: DictConfig,
    save_dir: str | Path | None = None,
    first: tuple[str, ...] = ("data", "model", "trainer"),
) -> None:
    """Print the resolved config as a rich tree (and save it as ``config_tree.log``)."""
    tree = Tree("config", style="dim", guide_style="dim")
    keys = [k for k in first if k in cfg] + [k for k in cfg if k not in first]
    for key in keys:
        branch = tree.add(str(key), style="bold")
        value = cfg[key]
        text = (
            OmegaConf.to_yaml(value, resolve=True) if isinstance(value, DictConfig) else str(value)
        )
        branch.add(Syntax(text, "yaml", theme="ansi_dark"))
    rich_print(tree)
    if save_dir is not None:
        Path(save_dir).mkdir(parents=True, exist_ok=True)
        with open(Path(save_dir, "config_tree.log"), "w") as file:
            rich_print(tree, file=file)

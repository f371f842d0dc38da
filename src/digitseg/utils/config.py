"""Hydra/OmegaConf helpers shared by the entry points and the tests."""

import os
from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from rich import print as rich_print
from rich.syntax import Syntax
from rich.tree import Tree

# The repository's conf/ folder (digitseg is installed editable from the repository).
CONF_DIR = str(Path(__file__).resolve().parents[3] / "conf")


def _wandb_offline() -> bool:
    """W&B runs offline unless the user asked for online through WANDB_MODE."""
    return os.environ.get("WANDB_MODE", "offline").lower() != "online"


def register_resolvers() -> None:
    """Resolvers the configs use: ``${wandb_offline:}``, ``${slurm_run_name:<default>}`` and
    ``${sqlite_url:<path>}`` (the last two from :mod:`digitseg.utils.resume`)."""
    from digitseg.utils.resume import slurm_run_name, sqlite_url

    resolvers = {
        "wandb_offline": _wandb_offline,
        "slurm_run_name": slurm_run_name,
        "sqlite_url": sqlite_url,
    }
    for name, resolver in resolvers.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, resolver)


register_resolvers()


def instantiate_dict(cfg: DictConfig | None) -> list:
    """Instantiate every entry of a group such as ``callbacks`` or ``logger`` (None skipped)."""
    if not cfg:
        return []
    return [instantiate(node) for node in cfg.values() if node is not None and "_target_" in node]


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

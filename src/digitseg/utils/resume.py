"""Continuing a run after it was killed, requeued or pre-empted (``resume=auto``), and a
study after its sweep stopped.

A run continues in its own folder: from the newest of ``checkpoints/last.ckpt`` and the
``hpc_ckpt_<n>.ckpt`` that Lightning writes when SLURM asks for a requeue, logging to the same
W&B run (its id is kept in ``wandb_id.txt``). So the folder must be the same on every try:
inside a SLURM batch job ``run_name`` is ``slurm-<job id>`` (``slurm-<array job id>_<task id>``
in an array), which a requeued job keeps; elsewhere it is the start time, and
``run_name=<folder name> resume=auto`` continues that run by hand. Optuna studies live in
SQLite files (``${sqlite_url:<path>}`` in ``conf/hparams_search``) that a new sweep continues.
"""

import logging
import os
import secrets
import signal
from pathlib import Path

from lightning.fabric.plugins.environments import SLURMEnvironment
from lightning.fabric.utilities.rank_zero import rank_zero_only
from omegaconf import DictConfig, open_dict

log = logging.getLogger(__name__)

WANDB_ID_FILE = "wandb_id.txt"
# SLURM job names of interactive sessions (as Lightning's SLURMEnvironment.detect has them).
_INTERACTIVE = ("bash", "interactive")


def slurm_run_name(default: str) -> str:
    """``slurm-<job id>`` (``slurm-<array job id>_<task id>``) in a SLURM batch job, else
    ``default``: the same name on every requeue of a job, and on all of its ranks."""
    job_id = os.environ.get("SLURM_JOB_ID")
    if job_id is None or os.environ.get("SLURM_JOB_NAME") in _INTERACTIVE:
        return default
    array_id = os.environ.get("SLURM_ARRAY_JOB_ID")
    if array_id is not None:
        return f"slurm-{array_id}_{os.environ['SLURM_ARRAY_TASK_ID']}"
    return f"slurm-{job_id}"


def sqlite_url(path: str) -> str:
    """``sqlite:///<absolute path>`` with its folder created: an Optuna study's storage."""
    path = Path(path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def find_checkpoint(run_dir: str | Path) -> Path | None:
    """The newest of ``checkpoints/last.ckpt`` and ``hpc_ckpt_*.ckpt`` in ``run_dir``, if any."""
    run_dir = Path(run_dir)
    candidates = [run_dir / "checkpoints" / "last.ckpt", *run_dir.glob("hpc_ckpt_*.ckpt")]
    found = [p for p in candidates if p.is_file()]
    return max(found, key=lambda p: p.stat().st_mtime, default=None)


def start_checkpoint(cfg: DictConfig) -> str | None:
    """The checkpoint ``fit`` starts from: with ``resume=auto`` the run folder's own newest
    checkpoint when there is one, otherwise ``ckpt_path`` (None: from scratch)."""
    mode = cfg.get("resume")
    if mode not in (None, "auto"):
        raise ValueError(
            f"resume must be null or auto, got {mode!r}; "
            "to start from a checkpoint file pass ckpt_path=<file>"
        )
    if mode == "auto":
        found = find_checkpoint(cfg.paths.output_dir)
        if found is not None:
            log.info("resuming from %s", found)
            return str(found)
        log.info("nothing to resume in %s: starting afresh", cfg.paths.output_dir)
    return cfg.get("ckpt_path")


def keep_wandb_id(cfg: DictConfig) -> None:
    """Give the W&B logger (if any) a run id kept in the run folder; ``resume=auto`` reuses
    the id found there, so a continued run logs to the same W&B run."""
    wandb = (cfg.get("logger") or {}).get("wandb")
    if not wandb or "_target_" not in wandb:
        return
    path = Path(cfg.paths.output_dir, WANDB_ID_FILE)
    run_id = wandb.get("id") or os.environ.get("WANDB_RUN_ID")  # set by `wandb agent`
    if run_id is None and cfg.get("resume") == "auto" and path.is_file():
        run_id = path.read_text().strip()
    run_id = run_id or secrets.token_hex(4)
    with open_dict(cfg):
        wandb.id = run_id
    if rank_zero_only.rank == 0:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{run_id}\n")


def slurm_plugins(auto_requeue: bool = True, requeue_signal: str = "SIGUSR1") -> list:
    """``[SLURMEnvironment]`` inside a SLURM job (Lightning then saves an ``hpc_ckpt`` and
    requeues the job on ``requeue_signal``), ``[]`` elsewhere so Lightning picks the environment."""
    if not SLURMEnvironment.detect():
        return []
    return [SLURMEnvironment(auto_requeue, signal.Signals[requeue_signal])]

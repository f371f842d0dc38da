"""Closing Lightning loggers, shared by training and evaluation."""

from lightning.pytorch.loggers import Logger, WandbLogger


def close_loggers(loggers: list[Logger]) -> None:
    """Finish every logger (and the W&B run), so that a failed job never blocks the next."""
    for logger in loggers:
        logger.finalize("success")
    if any(isinstance(logger, WandbLogger) for logger in loggers):
        import wandb

        wandb.finish()

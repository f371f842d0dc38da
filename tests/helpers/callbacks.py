"""Callbacks that tests plug into real runs through Hydra overrides."""

import lightning as L


class StopAfterEpoch(L.Callback):
    """Stop training after epoch ``epoch``, as a pre-empted job would."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.current_epoch >= self.epoch:
            trainer.should_stop = True

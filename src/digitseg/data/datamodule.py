"""Lightning data module over the canvas generator.

Train canvases are drawn fresh every epoch (epoch ``e`` uses canvas indices
``e * train_size ...``); val and test are the fixed canvases ``0 .. size-1`` of their splits,
rendered on the fly from the preset's seed (the same canvases ``digitseg-generate`` writes).
Each rank takes every ``world_size``-th index, so under DDP ranks see different train
canvases and share out one val set. Every canvas and its augmentation depend only on
(seed, split, index): runs are reproducible for any ``num_workers``.
"""

from collections.abc import Mapping

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from digitseg.data.mixture import MixedGenerator
from digitseg.data.rng import split_key
from digitseg.data.scan_canvases import STYLE as SCAN_STYLE
from digitseg.data.sources import build_generator, build_train_generator
from digitseg.data.synth import CanvasGenerator
from digitseg.data.targets import digit_cores, instance_borders
from digitseg.data.transforms import Augment, build_augment, match_channels, to_tensor

# A batch's "contacts" are the pixels at most this many px from another digit, which the loss
# can weigh more (SegmentationLoss.contact_weight).
CONTACT_WIDTH = 2


class CanvasIndices(Sampler[int]):
    """This rank's canvas indices for one epoch; ``fresh`` moves to new canvases each epoch."""

    def __init__(self, size: int, fresh: bool, rank: int = 0, world_size: int = 1) -> None:
        self.size, self.fresh = size, fresh
        self.rank, self.world_size = rank, world_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Called by Lightning at the start of every epoch."""
        self.epoch = epoch

    def __iter__(self):
        start = self.epoch * self.size if self.fresh else 0
        return iter(range(start + self.rank, start + self.size, self.world_size))

    def __len__(self) -> int:
        return len(range(self.rank, self.size, self.world_size))


class CanvasDataset(Dataset):
    """Canvases of one split as model inputs: ``image`` (C, H, W) float, ``mask`` (H, W) long
    class ids, ``cores`` (H, W) float, 1 at the centre of each digit instance (the target
    of the net's core channel, see :func:`~digitseg.data.targets.digit_cores`), ``index``,
    ``generated`` (bool, False for canvases made of real scans), and with ``contacts=True``
    ``contacts`` (H, W) bool, the pixels within ``CONTACT_WIDTH`` px of another digit.

    Batches are rendered together through ``__getitems__``, which the DataLoader calls with
    a whole batch of indices.
    """

    def __init__(
        self,
        generator: CanvasGenerator,
        split: str,
        size: int,
        channels: int,
        augment: Augment | None = None,
        contacts: bool = False,
    ) -> None:
        self.generator, self.split, self.size = generator, split, size
        self.channels, self.augment, self.contacts = channels, augment, contacts
        self._key = split_key(generator.seed, f"augment/{split}")

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {key: value[0] for key, value in self.__getitems__([index]).items()}

    def __getitems__(self, indices: list[int]) -> dict[str, torch.Tensor]:
        batch = self.generator.render(self.split, indices)
        images, masks, cores, contacts = [], [], [], []
        for index, image, semantic, instances in zip(
            indices, batch.images, batch.semantic, batch.instances, strict=True
        ):
            image = match_channels(image, self.channels)
            if self.augment is not None:
                image, (semantic, instances) = self.augment(
                    self._key ^ int(index), image, [semantic, instances]
                )
            images.append(to_tensor(image))
            masks.append(torch.from_numpy(np.asarray(semantic, dtype=np.int64)))
            cores.append(torch.from_numpy(digit_cores(instances)))
            if self.contacts:
                contacts.append(torch.from_numpy(instance_borders(instances, CONTACT_WIDTH)))
        batch = {
            "image": torch.stack(images),
            "mask": torch.stack(masks),
            "cores": torch.stack(cores).float(),
            "index": torch.as_tensor(indices),
            "generated": torch.as_tensor([style != SCAN_STYLE for style in batch.styles]),
        }
        if self.contacts:
            batch["contacts"] = torch.stack(contacts)
        return batch


def _collated(batch):
    """``__getitems__`` already returns a collated batch."""
    return batch


class CanvasDataModule(L.LightningDataModule):
    """Train, val and test loaders for one ``conf/data`` preset; ``contacts``: batches carry
    the contact map (see :class:`CanvasDataset`)."""

    def __init__(
        self,
        name: str,
        spec: Mapping,
        seed: int = 0,
        digits: Mapping | None = None,
        train_size: int = 20000,
        val_size: int = 1000,
        test_size: int = 5000,
        batch_size: int = 64,
        num_workers: int = 0,
        in_channels: int = 1,
        contacts: bool = False,
        augment: Mapping | None = None,
        mixture: Mapping | None = None,
        mixture_weight: float = 1.0,
        paths: Mapping | None = None,
    ) -> None:
        super().__init__()
        self.name = name
        self.data_cfg = {
            "spec": spec,
            "seed": seed,
            "digits": digits or {"source": "mnist"},
            "mixture": mixture,
            "mixture_weight": mixture_weight,
        }
        self.sizes = {"train": train_size, "val": val_size, "test": test_size}
        self.batch_size, self.num_workers = batch_size, num_workers
        self.in_channels, self.contacts = in_channels, contacts
        self.augment_cfg = augment
        self.paths = paths or {}
        self.generator: CanvasGenerator | None = None
        self.train_generator: CanvasGenerator | MixedGenerator | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.generator is None:
            self.generator = build_generator(self.data_cfg, self.paths)
            self.train_generator = build_train_generator(self.data_cfg, self.paths)

    def dataset(self, split: str) -> CanvasDataset:
        """The split's canvases as model inputs; ``train`` is augmented and mixed when
        configured, ``val`` and ``test`` are always the preset's own spec."""
        if split == "train":
            augment = build_augment(self.augment_cfg)
            generator = self.train_generator
        else:
            generator, augment = self.generator, None
        return CanvasDataset(
            generator, split, self.sizes[split], self.in_channels, augment, self.contacts
        )

    def _loader(self, split: str) -> DataLoader:
        trainer = self.trainer
        rank, world = (trainer.global_rank, trainer.world_size) if trainer else (0, 1)
        sampler = CanvasIndices(
            self.sizes[split], fresh=split == "train", rank=rank, world_size=world
        )
        return DataLoader(
            self.dataset(split),
            batch_size=self.batch_size,
            sampler=sampler,
            num_workers=self.num_workers,
            collate_fn=_collated,
            persistent_workers=self.num_workers > 0,
            pin_memory=torch.cuda.is_available(),
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train")

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")

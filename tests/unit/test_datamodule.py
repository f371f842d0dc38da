"""The data module's datasets, samplers and augmentation: reproducible, sharded, aligned."""

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from digitseg.classes import BACKGROUND
from digitseg.data.datamodule import CONTACT_WIDTH, CanvasDataset, CanvasIndices, _collated
from digitseg.data.spec import CanvasSpec
from digitseg.data.synth import CanvasGenerator
from digitseg.data.targets import digit_cores, instance_borders
from digitseg.data.transforms import Augment, build_augment, match_channels, to_tensor
from tests.helpers.digits import tiny_splits

PAPER = CanvasSpec(backgrounds={"paper": 1.0, "black": 1.0})


@pytest.fixture(scope="module")
def generator() -> CanvasGenerator:
    return CanvasGenerator(PAPER, tiny_splits(), seed=5)


def test_train_indices_are_fresh_each_epoch_and_disjoint_across_ranks():
    ranks = [CanvasIndices(10, fresh=True, rank=r, world_size=2) for r in range(2)]
    epoch0 = [list(s) for s in ranks]
    assert sorted(epoch0[0] + epoch0[1]) == list(range(10))
    assert not set(epoch0[0]) & set(epoch0[1])
    for sampler in ranks:
        sampler.set_epoch(1)
    assert sorted(list(ranks[0]) + list(ranks[1])) == list(range(10, 20))
    assert len(ranks[0]) == 5


def test_val_indices_are_fixed_across_epochs():
    sampler = CanvasIndices(6, fresh=False)
    first = list(sampler)
    sampler.set_epoch(3)
    assert list(sampler) == first == list(range(6))


def test_batches_match_generator_and_channels(generator):
    dataset = CanvasDataset(generator, "val", size=8, channels=1)
    batch = dataset.__getitems__([0, 3])
    assert batch["image"].shape == (2, 1, 64, 84) and batch["image"].dtype == torch.float32
    assert batch["mask"].dtype == torch.int64
    canvas = generator("val", 3)
    assert np.array_equal(batch["mask"][1].numpy(), canvas.semantic)
    assert batch["image"].min() >= -1 and batch["image"].max() <= 1
    cores = torch.from_numpy(digit_cores(canvas.instances)).float()
    assert torch.equal(batch["cores"][1], cores)
    assert "contacts" not in batch  # only computed when asked for
    with_contacts = CanvasDataset(generator, "val", size=8, channels=1, contacts=True)
    contacts = torch.from_numpy(instance_borders(canvas.instances, CONTACT_WIDTH))
    flags = with_contacts.__getitems__([0, 3])["contacts"]
    assert flags.dtype == torch.bool and torch.equal(flags[1], contacts)
    rgb = CanvasDataset(generator, "val", size=8, channels=3)[0]["image"]
    assert rgb.shape == (3, 64, 84)


def test_loader_is_identical_with_and_without_workers(generator):
    dataset = CanvasDataset(generator, "train", 8, 1, build_augment({"enabled": True}))

    def batches(workers: int) -> list[torch.Tensor]:
        loader = DataLoader(
            dataset,
            batch_size=4,
            sampler=CanvasIndices(8, fresh=True),
            num_workers=workers,
            collate_fn=_collated,
        )
        return [b["image"] for b in loader]

    for single, multi in zip(batches(0), batches(2), strict=True):
        assert torch.equal(single, multi)


def test_augment_is_seeded_and_keeps_masks_aligned(generator):
    canvas = generator("val", 1)
    augment = Augment({"distortion": 1.0, "noise": 1.0})
    image_a, (mask_a,) = augment(7, canvas.image, [canvas.semantic])
    image_b, (mask_b,) = augment(7, canvas.image, [canvas.semantic])
    image_c, _ = augment(8, canvas.image, [canvas.semantic])
    assert np.array_equal(image_a, image_b) and np.array_equal(mask_a, mask_b)
    assert not np.array_equal(image_a, image_c)
    assert set(np.unique(mask_a)) <= set(np.unique(canvas.semantic))  # nearest: no new ids
    assert (mask_a != BACKGROUND).sum() > 0.5 * (canvas.semantic != BACKGROUND).sum()


def test_augment_config_switches_off_and_rejects_unknown_names():
    assert build_augment({"enabled": False}) is None
    assert build_augment(None) is None
    with pytest.raises(ValueError, match="rotate"):
        build_augment({"rotate": 0.5})


def test_channel_matching_and_tensor_range():
    gray = np.full((4, 5), 255, np.uint8)
    assert match_channels(gray, 3).shape == (4, 5, 3)
    assert match_channels(match_channels(gray, 3), 1).shape == (4, 5)
    with pytest.raises(ValueError, match="in_channels"):
        match_channels(gray, 2)
    assert to_tensor(gray).shape == (1, 4, 5) and float(to_tensor(gray).max()) == 1.0

"""A small model file trained for a few seconds, for tests of inference and its CLIs."""

from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from digitseg.models.checkpoint import save_model
from digitseg.train import build_datamodule
from tests.helpers.config import compose_train

# A small random-weight U-Net with a core output, as the shipped one has: its model file's
# ``model.net`` node.
SMALL_UNET = {
    "_target_": "digitseg.models.nets.build_net",
    "arch": "Unet",
    "encoder_name": "resnet18",
    "encoder_depth": 3,
    "decoder_channels": [16, 8, 8],
    "extra_channels": 1,
    "in_channels": 1,
}


def train_tiny_model(path: Path, steps: int = 60) -> Path:
    """Fit the test-sized U-Net (with its core channel) to a few m2nist canvases."""
    cfg = compose_train(["data.batch_size=8"], path.parent)
    torch.manual_seed(0)
    dm = build_datamodule(cfg)
    dm.setup()
    batch = dm.dataset("val").__getitems__(list(range(8)))
    model = instantiate(cfg.model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(steps):
        loss = model.compute_loss(batch)[0]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return save_model(path, model.net.eval(), OmegaConf.to_container(cfg, resolve=True))

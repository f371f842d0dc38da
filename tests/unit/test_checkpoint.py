"""Model files: half-precision copies load back as float32 and predict the same; fine-tuning
starts from a model file."""

import pytest
import torch

from digitseg.models.checkpoint import CheckpointError, init_weights, load_model, save_model

CONFIG = {
    "model": {
        "net": {
            "_target_": "digitseg.models.nets.build_net",
            "arch": "Unet",
            "encoder_name": "resnet18",
            "encoder_depth": 3,
            "decoder_channels": [16, 8, 8],
            "extra_channels": 1,
        }
    }
}


def test_half_precision_file_is_smaller_and_predicts_the_same(tmp_path):
    net, _ = load_model(save_model(tmp_path / "full.ckpt", _net(), CONFIG))
    half_path = save_model(tmp_path / "half.ckpt", net, CONFIG, half=True)
    half, _ = load_model(half_path)
    assert half_path.stat().st_size < 0.6 * (tmp_path / "full.ckpt").stat().st_size
    assert all(p.dtype == torch.float32 for p in half.parameters())
    image = torch.randn(1, 1, 40, 56)
    with torch.no_grad():
        assert torch.allclose(net(image), half(image), atol=2e-2)


def test_unused_encoder_stages_are_not_stored(tmp_path):
    _, payload = load_model(save_model(tmp_path / "m.ckpt", _net(), CONFIG))
    assert not any(".layer3." in key or ".layer4." in key for key in payload["state_dict"])


def test_init_weights_starts_a_fresh_net_from_a_model_file(tmp_path):
    path = save_model(tmp_path / "m.ckpt", _net(), CONFIG)
    fresh = _net(seed=1)
    init_weights(fresh, path)
    image = torch.randn(1, 1, 40, 56)
    with torch.no_grad():
        assert torch.equal(fresh(image), _net()(image))


def test_init_weights_names_the_file_when_the_layers_differ(tmp_path):
    path = save_model(tmp_path / "m.ckpt", _net(), CONFIG)
    other = dict(CONFIG["model"]["net"], decoder_channels=[32, 8, 8])
    from hydra.utils import instantiate

    with pytest.raises(CheckpointError, match="m.ckpt.*do not fit the configured model.net"):
        init_weights(instantiate(other), path)


def _net(seed: int = 0):
    from hydra.utils import instantiate

    torch.manual_seed(seed)
    return instantiate(CONFIG["model"]["net"]).eval()

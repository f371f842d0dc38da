"""Model files: half-precision copies load back as float32 and predict the same; fine-tuning
starts from a model file; the shipped files build the nets their configs always built."""

from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate

from digitseg.models.checkpoint import CheckpointError, init_weights, load_model, save_model
from tests.helpers.models import SMALL_UNET

CONFIG = {"model": {"net": SMALL_UNET}}


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
    with pytest.raises(CheckpointError, match="m.ckpt.*do not fit the configured model.net"):
        init_weights(instantiate(other), path)


@pytest.mark.parametrize(
    ("name", "shape"),
    [("digit_segmenter.ckpt", (1, 1, 40, 56)), ("digit_classifier.ckpt", (2, 2, 32, 32))],
)
def test_shipped_files_build_the_net_hydra_built_from_their_config(name, shape):
    path = Path(__file__).resolve().parents[2] / "models" / name
    net, payload = load_model(path)
    torch.manual_seed(0)
    before = instantiate(payload["config"]["model"]["net"]).eval()  # the way it was built
    before.load_state_dict(payload["state_dict"])
    assert type(net) is type(before) and not net.training
    assert {k: v.shape for k, v in net.state_dict().items()} == {
        k: v.shape for k, v in before.state_dict().items()
    }
    image = torch.rand(shape)
    with torch.no_grad():
        assert torch.equal(net(image), before(image))


def test_an_empty_file_is_named_as_cut_off(tmp_path):
    (tmp_path / "m.ckpt").touch()
    with pytest.raises(CheckpointError, match=r"m.ckpt is empty \(0 bytes\).*copy it again"):
        load_model(tmp_path / "m.ckpt")
    with pytest.raises(CheckpointError, match="m.ckpt is empty"):
        init_weights(_net(), tmp_path / "m.ckpt")


def _net(seed: int = 0):
    torch.manual_seed(seed)
    return instantiate(CONFIG["model"]["net"]).eval()

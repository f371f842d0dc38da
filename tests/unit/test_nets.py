"""Tests for the network factory, the padding wrapper and the FCN-8 baseline."""

import pytest
import torch
from torch import nn

from digitseg.classes import NUM_CLASSES
from digitseg.models.nets import FCN8, PadToMultiple, build_net, net_options


class _InputRecorder(nn.Module):
    """Returns its input unchanged and keeps a reference to it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen = x
        return x


@pytest.mark.parametrize("arch", ["Unet", "FCN8"])
@pytest.mark.parametrize(
    ("shape", "in_channels"), [((1, 1, 37, 53), 1), ((2, 3, 64, 84), 3), ((1, 1, 5, 3), 1)]
)
def test_forward_any_size_gives_full_size_logits(arch, shape, in_channels):
    net = build_net(arch, in_channels=in_channels).eval()
    with torch.no_grad():
        logits = net(torch.randn(shape))
    assert logits.shape == (shape[0], NUM_CLASSES, shape[2], shape[3])
    assert torch.isfinite(logits).all()


def test_default_is_unet_resnet18_without_weights():
    net = build_net()
    assert type(net.net).__name__ == "Unet"
    assert net.net.encoder.conv1.in_channels == 1
    assert net.multiple == 32


@pytest.mark.parametrize("arch", ["Unet", "FCN8"])
def test_extra_channels_add_outputs(arch):
    net = build_net(arch, extra_channels=1).eval()
    with torch.no_grad():
        assert net(torch.randn(1, 1, 40, 40)).shape == (1, NUM_CLASSES + 1, 40, 40)


def test_other_smp_arch_and_stride_read_from_encoder():
    fpn = build_net("FPN", encoder_name="resnet18").eval()
    shallow = build_net(
        "Unet", encoder_depth=3, decoder_channels=(64, 32, 16), encoder_name="resnet18"
    ).eval()
    assert shallow.multiple == 8
    with torch.no_grad():
        assert fpn(torch.randn(1, 1, 45, 50)).shape == (1, NUM_CLASSES, 45, 50)
        assert shallow(torch.randn(1, 1, 45, 50)).shape == (1, NUM_CLASSES, 45, 50)


def test_pad_bottom_right_and_crop_back():
    recorder = _InputRecorder()
    x = torch.rand(2, 1, 5, 7) + 1.0
    for mode in ("constant", "replicate", "reflect"):
        out = PadToMultiple(recorder, 4, mode=mode)(x)
        assert recorder.seen.shape == (2, 1, 8, 8)
        torch.testing.assert_close(recorder.seen[..., :5, :7], x)  # original pixels top-left
        torch.testing.assert_close(out, x)
    PadToMultiple(recorder, 4, mode="constant")(x)
    assert (recorder.seen[..., 5:, :] == 0).all() and (recorder.seen[..., 7:] == 0).all()
    PadToMultiple(recorder, 4, mode="replicate")(x)
    torch.testing.assert_close(recorder.seen[..., 7, :7], x[..., 4, :])


def test_no_padding_when_already_multiple():
    recorder = _InputRecorder()
    PadToMultiple(recorder, 32)(torch.randn(1, 1, 64, 96))
    assert recorder.seen.shape == (1, 1, 64, 96)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="pad_mode"):
        build_net(pad_mode="wrap")
    with pytest.raises(ValueError, match="extra_channels"):
        build_net(extra_channels=-1)
    with pytest.raises(ValueError, match="encoder_weights"):
        build_net("FCN8", encoder_weights="imagenet")
    with pytest.raises(KeyError):
        build_net("NoSuchNet")
    with pytest.raises(ValueError, match=r"FPN takes no decoder_channels .*'~model.net.decoder_"):
        build_net("FPN", decoder_channels=(96, 64, 32, 16))  # U-Net's, which FPN would ignore


def test_net_options_are_build_nets_and_the_architectures_own():
    unet, fpn, fcn8 = net_options("unet"), net_options("FPN"), net_options("FCN8")
    assert {"arch", "pad_mode", "extra_channels", "decoder_channels", "encoder_depth"} <= unet
    assert "decoder_channels" not in fpn and "decoder_pyramid_channels" in fpn
    assert "dropout" in fcn8 and "decoder_channels" not in fcn8
    assert not any(name in unet for name in ("self", "kwargs", "checkpoint_path"))
    with pytest.raises(ValueError, match="no architecture 'NoSuchNet'; .*fcn8"):
        net_options("NoSuchNet")


def test_the_readmes_other_architecture_composes_and_builds():
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate

    from digitseg.utils.config import CONF_DIR

    overrides = [
        "model.net.arch=FPN",
        "model.net.encoder_name=resnet34",
        "~model.net.decoder_channels",
    ]
    with initialize_config_dir(version_base="1.3", config_dir=CONF_DIR):
        cfg = compose(config_name="train", overrides=overrides)
    net = instantiate(cfg.model.net).eval()
    with torch.no_grad():
        assert net(torch.randn(1, 1, 64, 84)).shape == (1, NUM_CLASSES + 1, 64, 84)


def test_fcn8_layout():
    net = build_net("FCN8", in_channels=1)
    fcn = net.net
    assert isinstance(fcn, FCN8) and net.multiple == 32
    block_convs = [m for block in fcn.blocks for m in block if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in block_convs] == [32, 64, 128, 256, 256]
    assert all(c.kernel_size == (2, 2) for c in block_convs)
    assert all(
        any(isinstance(m, nn.MaxPool2d) and m.kernel_size == 2 for m in block)
        for block in fcn.blocks
    )
    head_convs = [m for m in fcn.head if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size) for c in head_convs] == [
        (512, (7, 7)),
        (512, (1, 1)),
        (NUM_CLASSES, (1, 1)),
    ]
    ups = [m for m in fcn.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [u.stride for u in ups] == [(2, 2), (2, 2), (8, 8)]


def test_fcn8_skip_fusion_shapes():
    fcn = FCN8(classes=NUM_CLASSES).eval()
    with torch.no_grad():
        assert fcn(torch.randn(1, 1, 64, 96)).shape == (1, NUM_CLASSES, 64, 96)


def test_channels_last_and_backward():
    net = build_net().to(memory_format=torch.channels_last)
    x = torch.randn(2, 1, 33, 47).to(memory_format=torch.channels_last)
    logits = net(x)
    assert logits.shape == (2, NUM_CLASSES, 33, 47)
    logits.mean().backward()
    assert net.net.encoder.conv1.weight.grad is not None

"""Network factory: any segmentation_models_pytorch architecture or the FCN-8 baseline.

Every net is wrapped in :class:`PadToMultiple`, so inputs of any height and width work.
"""

import inspect

import segmentation_models_pytorch as smp
import torch
import torch.nn.functional as F
from torch import nn

from digitseg.classes import NUM_CLASSES

PAD_MODES = ("constant", "reflect", "replicate")


class PadToMultiple(nn.Module):
    """Pad the input bottom/right to a multiple of ``multiple``, run ``net``, crop logits back.

    ``mode`` is an :func:`torch.nn.functional.pad` mode: ``"constant"`` (zeros),
    ``"replicate"`` (works for any size) or ``"reflect"`` (needs the padding to be smaller
    than the input side).
    """

    def __init__(self, net: nn.Module, multiple: int, mode: str = "replicate") -> None:
        super().__init__()
        if multiple < 1:
            raise ValueError(f"multiple must be >= 1, got {multiple}")
        if mode not in PAD_MODES:
            raise ValueError(f"pad_mode must be one of {PAD_MODES}, got {mode!r}")
        self.net = net
        self.multiple = multiple
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        pad_h, pad_w = -h % self.multiple, -w % self.multiple
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode=self.mode)
        return self.net(x)[..., :h, :w]


class FCN8(nn.Module):
    """FCN-8 baseline of the original Keras M2NIST project.

    Five blocks of one 2x2 'same' conv (32/64/128/256/256 filters, ReLU) and a 2x2 max-pool;
    a 7x7 and a 1x1 conv with 512 filters on pool5; 1x1 class scores; a x2 transposed conv
    fused (added) with the pool4 score, another x2 fused with the pool3 score, then a x8
    transposed conv to full size. Input sides must be multiples of :attr:`output_stride`.
    """

    output_stride = 32
    filters = (32, 64, 128, 256, 256)

    def __init__(self, in_channels: int = 1, classes: int = NUM_CLASSES, dropout: float = 0.0):
        super().__init__()
        blocks = []
        prev = in_channels
        for width in self.filters:
            blocks.append(
                nn.Sequential(
                    nn.ZeroPad2d((0, 1, 0, 1)),  # Keras 'same' for a 2x2 kernel: pad right/bottom
                    nn.Conv2d(prev, width, kernel_size=2),
                    nn.ReLU(inplace=True),
                    nn.MaxPool2d(2),
                )
            )
            prev = width
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Sequential(
            nn.Conv2d(prev, 512, kernel_size=7, padding=3),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Conv2d(512, 512, kernel_size=1),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Conv2d(512, classes, kernel_size=1),
        )
        self.score_pool4 = nn.Conv2d(self.filters[3], classes, kernel_size=1)
        self.score_pool3 = nn.Conv2d(self.filters[2], classes, kernel_size=1)
        self.up_pool4 = nn.ConvTranspose2d(classes, classes, 4, stride=2, padding=1, bias=False)
        self.up_pool3 = nn.ConvTranspose2d(classes, classes, 4, stride=2, padding=1, bias=False)
        self.up_out = nn.ConvTranspose2d(classes, classes, 16, stride=8, padding=4, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pools = []
        for block in self.blocks:
            x = block(x)
            pools.append(x)
        pool3, pool4, pool5 = pools[2:]
        score = self.up_pool4(self.head(pool5)) + self.score_pool4(pool4)
        score = self.up_pool3(score) + self.score_pool3(pool3)
        return self.up_out(score)


CUSTOM_ARCHS: dict[str, type[nn.Module]] = {"fcn8": FCN8}


def build_net(
    arch: str = "Unet",
    encoder_name: str = "resnet18",
    encoder_weights: str | None = None,
    in_channels: int = 1,
    classes: int = NUM_CLASSES,
    extra_channels: int = 0,
    pad_mode: str = "replicate",
    **kwargs,
) -> PadToMultiple:
    """Build ``arch`` with ``classes + extra_channels`` output channels, wrapped in PadToMultiple.

    ``arch`` is an smp architecture name (case-insensitive, e.g. "Unet", "FPN") or "FCN8"
    (which ignores ``encoder_name`` and has no pretrained weights). ``extra_channels`` leaves
    room for extra outputs such as the digit-core channel. ``kwargs`` go to the model.
    The padding multiple is the model's output stride (``encoder.output_stride`` for smp).
    """
    if extra_channels < 0:
        raise ValueError(f"extra_channels must be >= 0, got {extra_channels}")
    out_channels = classes + extra_channels
    custom = CUSTOM_ARCHS.get(arch.lower())
    if custom is not None:
        if encoder_weights is not None:
            raise ValueError(f"arch={arch!r} has no pretrained weights; set encoder_weights=None")
        net = custom(in_channels=in_channels, classes=out_channels, **kwargs)
        multiple = net.output_stride
    else:
        _check_smp_options(arch, encoder_name, kwargs)
        net = smp.create_model(
            arch,
            encoder_name=encoder_name,
            encoder_weights=encoder_weights,
            in_channels=in_channels,
            classes=out_channels,
            **kwargs,
        )
        multiple = net.encoder.output_stride
        _drop_unused_encoder_stages(net, in_channels, multiple)
    return PadToMultiple(net, multiple, pad_mode)


def net_options(arch: str) -> set[str]:
    """The options :func:`build_net` takes by name for ``arch``: its own and those of the
    architecture's constructor. ValueError for an architecture it does not build."""
    model_class = CUSTOM_ARCHS.get(arch.lower()) or smp.MODEL_ARCHITECTURES_MAPPING.get(
        arch.lower()
    )
    if model_class is None:
        archs = ", ".join([*smp.MODEL_ARCHITECTURES_MAPPING, *CUSTOM_ARCHS])
        raise ValueError(f"no architecture {arch!r}; the ones there are: {archs}")
    return keyword_parameters(build_net) | keyword_parameters(model_class.__init__)


def keyword_parameters(function) -> set[str]:
    """The parameters ``function`` takes by name (not ``self``, ``*args`` or ``**kwargs``)."""
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    parameters = inspect.signature(function).parameters.values()
    return {p.name for p in parameters if p.kind in named} - {"self"}


def _check_smp_options(arch: str, encoder_name: str, options: dict) -> None:
    """Refuse options the smp architecture ``arch`` does not name: it hands them on to its
    encoder, and smp's own encoders ignore them (timm's, ``tu-...``, take their own), e.g.
    U-Net's ``decoder_channels`` for FPN."""
    model_class = smp.MODEL_ARCHITECTURES_MAPPING.get(arch.lower())
    if model_class is None or encoder_name.startswith("tu-"):
        return  # smp.create_model names the architectures there are
    known = keyword_parameters(model_class.__init__)
    unknown = sorted(set(options) - known)
    if unknown:
        removals = " ".join(f"'~model.net.{name}'" for name in unknown)
        raise ValueError(
            f"{arch} takes no {', '.join(unknown)} (its options: {', '.join(sorted(known))}); "
            f"from conf/model, leave them out with {removals}"
        )


def _drop_unused_encoder_stages(net: nn.Module, in_channels: int, multiple: int) -> None:
    """Remove encoder stages a shallow ``encoder_depth`` never runs (smp still builds them).

    A resnet18 encoder of depth 4 keeps its 8.4 M-parameter ``layer4`` otherwise: dead
    weights in every optimizer step and model file.
    """
    used: set[str] = set()
    hooks = [
        module.register_forward_hook(lambda m, i, o, name=name: used.add(name))
        for name, module in net.encoder.named_children()
    ]
    with torch.no_grad():
        net.eval()(torch.zeros(1, in_channels, 2 * multiple, 2 * multiple))
    net.train()
    for hook in hooks:
        hook.remove()
    for name, module in list(net.encoder.named_children()):
        if name not in used and any(True for _ in module.parameters()):
            delattr(net.encoder, name)

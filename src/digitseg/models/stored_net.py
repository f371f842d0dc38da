"""The net a model file's stored config describes, built by digitseg's own builders only.

A model file's ``config.model.net`` names its builder by ``_target_`` and gives it options,
as a Hydra config does. Handing it to ``hydra.utils.instantiate`` would import and call
whatever the file names, so here the target only picks a builder from :data:`BUILDERS`
(nothing the file names is imported), every option must be one the builder takes by name
(``build_net``: one of its own or of the architecture's) and every value a plain one.
"""

from collections.abc import Callable, Mapping
from typing import Any

import segmentation_models_pytorch as smp
import timm
from torch import nn

from digitseg.classifier.net import DigitClassifier
from digitseg.models.nets import CUSTOM_ARCHS, build_net, keyword_parameters, net_options

PLAIN_TYPES = (str, int, float, bool, type(None))
PLAIN = "str, int, float, bool, None or a list of them"


class RefusedConfig(ValueError):
    """A stored net config naming something other than digitseg's builders and plain options."""


def _segmenter_options(options: Mapping[str, Any]) -> set[str]:
    """The options ``build_net`` takes for the stored ``arch``, whose encoder must be one smp
    or timm names (not a hub or folder to fetch from)."""
    arch = options.get("arch", "Unet")
    if not isinstance(arch, str):
        raise RefusedConfig(f"model.net.arch is a {type(arch).__name__}, not a name")
    try:
        allowed = net_options(arch)
    except ValueError as error:
        raise RefusedConfig(f"model.net.arch: {error}") from error
    encoder = options.get("encoder_name")
    if arch.lower() not in CUSTOM_ARCHS and encoder is not None and not _known_encoder(encoder):
        raise RefusedConfig(
            f"model.net.encoder_name {encoder!r} is not an encoder smp or timm names"
        )
    return allowed


def _known_encoder(name: Any) -> bool:
    if not isinstance(name, str):
        return False
    if name.startswith("tu-"):
        return timm.is_model(name.removeprefix("tu-"))
    return name in smp.encoders.encoders


def _classifier_options(options: Mapping[str, Any]) -> set[str]:
    return keyword_parameters(DigitClassifier.__init__)


# target -> (builder, the options it may be given)
BUILDERS: dict[str, tuple[Callable[..., nn.Module], Callable[[Mapping], set[str]]]] = {
    "digitseg.models.nets.build_net": (build_net, _segmenter_options),
    "digitseg.classifier.DigitClassifier": (DigitClassifier, _classifier_options),
    "digitseg.classifier.net.DigitClassifier": (DigitClassifier, _classifier_options),
}


def build_stored_net(config: Any) -> nn.Module:
    """The net of a model file's ``config`` (its ``model.net``), built by one of
    :data:`BUILDERS`; RefusedConfig names the key of anything else."""
    net_config = _net_config(config)
    target = net_config.get("_target_")
    if not isinstance(target, str) or target not in BUILDERS:
        raise RefusedConfig(
            f"model.net._target_ {target!r} is not one of digitseg's nets ({', '.join(BUILDERS)})"
        )
    builder, allowed_options = BUILDERS[target]
    options = {key: value for key, value in net_config.items() if key != "_target_"}
    for key, value in options.items():
        _check_plain(key, value)
    allowed = allowed_options(options)
    unknown = sorted(str(key) for key in options if key not in allowed)
    if unknown:
        raise RefusedConfig(
            f"model.net.{unknown[0]} is not an option of {target} "
            f"(its options: {', '.join(sorted(allowed))})"
        )
    if "encoder_weights" in options:
        options["encoder_weights"] = None  # the file's weights replace them: none are fetched
    return builder(**options)


def _net_config(config: Any) -> Mapping:
    try:
        net_config = config["model"]["net"]
    except (KeyError, TypeError, IndexError) as error:
        raise RefusedConfig("the file's config has no model.net") from error
    if not isinstance(net_config, Mapping):
        raise RefusedConfig(f"model.net is a {type(net_config).__name__}, not a net's config")
    return net_config


def _check_plain(key: Any, value: Any) -> None:
    """Refuse ``value`` unless it is a plain value or a list of them."""
    for item in value if isinstance(value, list | tuple) else [value]:
        if isinstance(item, PLAIN_TYPES):
            continue
        if isinstance(item, Mapping) and "_target_" in item:
            held = f"a config to instantiate (_target_ {item['_target_']!r})"
        else:
            held = f"a {type(item).__name__}"
        raise RefusedConfig(f"model.net.{key} holds {held}; an option may only be {PLAIN}")

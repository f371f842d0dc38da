"""The stable model file (``models/digit_segmenter.ckpt``): weights plus the config that built them.

The file holds only tensors and plain Python values, so it is read with
``torch.load(weights_only=True)``, and its config is never instantiated: its net is built by
one of digitseg's own builders, with options checked by name and type
(:mod:`digitseg.models.stored_net`). Loading runs no code from the file. A file of another
format or version, or a config naming anything else, is a clear error.
"""

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from digitseg import __version__
from digitseg.models.stored_net import RefusedConfig, build_stored_net

log = logging.getLogger(__name__)
FORMAT = "digitseg-segmenter"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A model file that cannot be used; the message names the file and what to do."""


def save_model(
    path: str | Path,
    net: nn.Module,
    config: dict[str, Any],
    metrics: dict[str, float] | None = None,
    half: bool = False,
) -> Path:
    """Write ``net``'s weights with the resolved run ``config`` (its ``model`` and ``data``).

    ``half`` stores floating-point weights in float16 (half the size; loading restores
    float32), for model files that travel, such as the one committed to the repository.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in _unwrap(net).state_dict().items()}
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "digitseg_version": __version__,
        "config": config,
        "metrics": metrics or {},
        "state_dict": state,
    }
    tmp = path.with_suffix(path.suffix + ".part")
    torch.save(payload, tmp)
    tmp.replace(path)
    return path


def export_model(
    export: Mapping[str, Any],
    local: Path,
    net: nn.Module,
    config: dict[str, Any],
    metrics: dict[str, float],
) -> Path | None:
    """Save ``net`` with ``config`` and ``metrics`` at ``export.path`` too (``export.half``:
    in float16), unless a file is there and ``export.overwrite`` is false: then the warning
    names ``local``, the copy just saved in the run folder. Returns the path written, or
    None."""
    target = export.get("path")
    if target is None:
        return None
    if Path(target).exists() and not export.get("overwrite", False):
        log.warning(
            "%s exists and was left unchanged; the new model is %s "
            "(pass export.overwrite=true to replace it)",
            target,
            local,
        )
        return None
    written = save_model(target, net, config, metrics, half=export.get("half", False))
    log.info("model exported to %s", written)
    return written


def load_model(path: str | Path, map_location: str | torch.device = "cpu"):
    """The net of a model file, in eval mode, and the file's payload (config, metrics)."""
    path = Path(path)
    payload = _read(path, map_location)
    net = _build(payload, path)
    _load_weights(net, payload, path, "the net its config builds")
    return net.eval(), payload


def init_weights(net: nn.Module, path: str | Path) -> None:
    """Start ``net`` from the weights of a model file (to fine-tune it); the file's net must
    have the same layers and shapes."""
    path = Path(path)
    _load_weights(_unwrap(net), _read(path, "cpu"), path, "the configured model.net")


def _build(payload: dict, path: Path) -> nn.Module:
    """The net the file's config describes, built without instantiating anything it names."""
    try:
        return build_stored_net(payload.get("config"))
    except RefusedConfig as error:
        raise CheckpointError(
            f"{path} was refused: {error}. A model file may name only digitseg's own nets with "
            "plain options; use one digitseg-train or digitseg-train-classifier wrote"
        ) from error
    except (ValueError, TypeError, KeyError) as error:
        raise CheckpointError(f"{path}: its config model.net builds no net: {error}") from error


def _read(path: Path, map_location) -> dict[str, Any]:
    """The checked payload of a model file."""
    if not path.is_file():
        raise CheckpointError(f"no model file at {path}; train one with `make train`")
    if path.stat().st_size == 0:
        raise CheckpointError(
            f"{path} is empty (0 bytes): it was cut off while being written or copied; "
            "copy it again, or write it anew with digitseg-train"
        )
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # torch raises several types for foreign or corrupt files
        reason = str(error) or f"{type(error).__name__} (the file is truncated or corrupt)"
        raise CheckpointError(
            f"{path} is not a readable digitseg model file: {reason}; copy it again, or write "
            "it anew with digitseg-train"
        ) from error
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} is not a digitseg model file (no '{FORMAT}' format tag); "
            "export one with digitseg-train or use a file it wrote"
        )
    if payload.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has model file format {payload.get('format_version')}, this digitseg "
            f"({__version__}) reads format {FORMAT_VERSION}: retrain or use a matching version"
        )
    return payload


def _load_weights(net: nn.Module, payload: dict, path: Path, target: str) -> None:
    try:
        net.load_state_dict(payload["state_dict"])
    except RuntimeError as error:
        raise CheckpointError(f"{path}: weights do not fit {target}: {error}") from error


def _unwrap(net: nn.Module) -> nn.Module:
    """The original module behind ``torch.compile``."""
    return getattr(net, "_orig_mod", net)

"""The net behind a Segmenter: a callable on (B, C, h, w) float32 batches whose sides are a
multiple of its ``multiple``, returning (B, K, h, w) float32 outputs.

On a CPU the same net can run several ways (``CPU_BACKENDS``, built by :func:`cpu_backend`):
PyTorch as it is (``torch``), with channels-last tensors, with bf16 autocast too (only where
the CPU runs bf16 natively), and as an ONNX Runtime session of its export, in fp32 or
quantised to int8 (weights only, or weights and activations calibrated on sample batches).
``scripts/benchmark_backends.py`` measures their speed and whether they read the same digits.
"""

import contextlib
import copy
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from digitseg import __version__
from digitseg.inference.backend_names import CPU_BACKENDS, check_backend
from digitseg.models.checkpoint import CheckpointError
from digitseg.utils.hardware import BF16_FEATURES

log = logging.getLogger(__name__)

ONNX_METADATA_KEY = "digitseg_config"
ONNX_INPUT, ONNX_OUTPUT = "image", "logits"
# The largest input an ONNX export accepts: this many multiples of its stride a side.
MAX_BLOCKS = 1024


class TorchBackend:
    """Runs the PyTorch net on (B, C, h, w) float32 arrays whose sides fit its stride.

    ``channels_last``: a copy of the net and its inputs in channels-last memory format (the
    caller's net is left as it is); ``bf16``: under bf16 autocast on ``device``.
    """

    def __init__(
        self, net: torch.nn.Module, device: str, channels_last: bool = False, bf16: bool = False
    ) -> None:
        self.device = torch.device(device)
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        if channels_last:
            net = copy.deepcopy(net).to(memory_format=self.memory_format)
        self.net = net.to(self.device).eval()
        self.multiple = net.multiple
        self.bf16 = bf16
        # As BACKENDS names it: torch, channels_last or channels_last_bf16.
        self.name = "_".join(["channels_last"] * channels_last + ["bf16"] * bf16) or "torch"

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(batch).to(self.device, memory_format=self.memory_format)
        with (
            torch.inference_mode(),
            torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16),
        ):
            out = self.net(x)
        return out.float().contiguous().cpu().numpy()


class OnnxBackend:
    """Runs an ONNX export of the net with onnxruntime, on the CPU; ``name`` as BACKENDS
    names it."""

    device = torch.device("cpu")

    def __init__(self, session, multiple: int, name: str = "onnxruntime") -> None:
        self.session = session
        self.multiple = multiple
        self.name = name

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run(None, {ONNX_INPUT: batch})[0]


def load_onnx(path: Path):
    """Backend and config of an ONNX export (config in the model's metadata)."""
    if not path.is_file():
        raise CheckpointError(f"no ONNX model at {path}; write one with digitseg-export")
    session = onnx_session(str(path))
    metadata = session.get_modelmeta().custom_metadata_map
    if ONNX_METADATA_KEY not in metadata:
        raise CheckpointError(f"{path} has no digitseg config; export it with digitseg-export")
    payload = json.loads(metadata[ONNX_METADATA_KEY])
    return OnnxBackend(session, int(payload["multiple"])), payload["config"]


def onnx_session(model: str | bytes):
    """A CPU onnxruntime session of ``model`` (a path or serialised bytes) that runs on as
    many threads as torch does. Its threads sleep between runs rather than spin: between
    the net's calls a reading does its own work (post-processing, the classifier in torch)
    on the same cores."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def onnx_model(net: torch.nn.Module):
    """The ONNX ``ModelProto`` of ``net`` (a :class:`~digitseg.models.nets.PadToMultiple`):
    its inner net, dynamic in batch, height and width (multiples of ``net.multiple``)."""
    multiple = net.multiple
    example = torch.zeros(1, in_channels(net), 4 * multiple, 4 * multiple)
    batch = torch.export.Dim("batch", min=1, max=4096)
    height = multiple * torch.export.Dim("height_blocks", min=1, max=MAX_BLOCKS)
    width = multiple * torch.export.Dim("width_blocks", min=1, max=MAX_BLOCKS)
    program = torch.onnx.export(
        net.net.eval(),
        (example,),
        input_names=[ONNX_INPUT],
        output_names=[ONNX_OUTPUT],
        dynamo=True,
        external_data=False,
        dynamic_shapes=({0: batch, 2: height, 3: width},),
        verbose=False,
    )
    return program.model_proto


def in_channels(net: torch.nn.Module) -> int:
    """The input channels of ``net``: those of its first convolution."""
    first = next((m for m in net.modules() if isinstance(m, torch.nn.Conv2d)), None)
    if first is None:
        raise ValueError(f"{type(net).__name__} has no Conv2d to read its input channels from")
    return first.in_channels


def native_bf16() -> list[str]:
    """The instruction sets of this CPU that run bf16 natively (empty: none, bf16 would be
    emulated, slower than fp32)."""
    capabilities = torch.cpu.get_capabilities()
    return [feature for feature in BF16_FEATURES if capabilities.get(feature)]


def cpu_backend(net: torch.nn.Module, name: str, calibration: Sequence[np.ndarray] | None = None):
    """The backend ``name`` (one of ``CPU_BACKENDS``) running ``net`` on the CPU.

    ``onnxruntime_int8_static`` needs ``calibration``: a few (B, C, h, w) float32 batches such
    as the backend will see, from which the ranges of the activations are set.
    """
    if name not in CPU_BACKENDS:
        raise ValueError(f"no CPU backend {name!r}; the ones there are: {', '.join(CPU_BACKENDS)}")
    if name == "channels_last_bf16" and not native_bf16():
        cpu = torch.cpu.get_capabilities().get("cpu_name") or "this CPU"
        raise ValueError(
            f"{cpu} has neither AMX-BF16 nor AVX512-BF16: bf16 would be emulated, slower than "
            "fp32; use --backend channels_last"
        )
    if name == "onnxruntime_int8_static" and not calibration:
        raise ValueError(
            "onnxruntime_int8_static needs calibration batches (B, C, h, w) of the net's inputs"
        )
    if name in ("torch", "channels_last", "channels_last_bf16"):
        return TorchBackend(
            net, "cpu", channels_last=name != "torch", bf16=name == "channels_last_bf16"
        )
    model = onnx_model(net)
    if name == "onnxruntime":
        return OnnxBackend(onnx_session(model.SerializeToString()), net.multiple)
    static = calibration if name == "onnxruntime_int8_static" else None
    return OnnxBackend(onnx_session(_int8_model(model, static)), net.multiple, name)


def net_backend(net: torch.nn.Module, name: str, device: str, checkpoint: Path | None = None):
    """The backend ``name`` (one of ``BACKENDS``) running ``net`` on ``device``: ``auto`` is
    ONNX Runtime on the CPU (it reads exactly as PyTorch does, faster:
    ``scripts/benchmark_backends.py``) and PyTorch elsewhere. ONNX Runtime's export of
    ``checkpoint``, the file ``net`` came from, is kept in the cache folder
    (:func:`onnx_cache_dir`), so that only the first reading of a model file exports it."""
    check_backend(name)
    if name == "auto":
        name = "onnxruntime" if torch.device(device).type == "cpu" else "torch"
    if name == "torch":
        return TorchBackend(net, device)
    if torch.device(device).type != "cpu":
        raise ValueError(
            f"--backend {name} runs on the CPU only; on {device} use --backend auto or torch, "
            "or read on the CPU (--device cpu)"
        )
    if name == "onnxruntime" and checkpoint is not None:
        return OnnxBackend(onnx_session(_cached_onnx(net, Path(checkpoint))), net.multiple)
    return cpu_backend(net, name)


def onnx_cache_dir() -> Path:
    """Where exports of model files are kept: ``$DIGITSEG_CACHE_DIR``, else
    ``~/.cache/digitseg``, then ``onnx/``."""
    root = os.environ.get("DIGITSEG_CACHE_DIR") or Path.home() / ".cache" / "digitseg"
    return Path(root) / "onnx"


def _cached_onnx(net: torch.nn.Module, checkpoint: Path) -> str | bytes:
    """The ONNX export of ``net``, loaded from ``checkpoint``: the cached file's path, named
    by the checkpoint's SHA-256 and digitseg's and torch's versions; exported (and cached,
    where the cache folder can be written) when there is none."""
    digest = hashlib.sha256(checkpoint.read_bytes()).hexdigest()[:32]
    cached = onnx_cache_dir() / f"{digest}-digitseg{__version__}-torch{torch.__version__}.onnx"
    if cached.is_file():
        return str(cached)
    model = onnx_model(net).SerializeToString()
    part = cached.with_name(f"{cached.name}.{os.getpid()}.part")  # renamed when whole
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        part.write_bytes(model)
        os.replace(part, cached)
    except OSError as error:
        log.warning("could not cache the ONNX export in %s (%s)", cached.parent, error)
        with contextlib.suppress(OSError):
            part.unlink()
    return model


def _int8_model(model, calibration: Sequence[np.ndarray] | None) -> bytes:
    """``model`` quantised to int8 by onnxruntime, serialised: with ``calibration``,
    statically (weights per channel, activations in the ranges the batches give them, as
    quantise-dequantise pairs that onnxruntime fuses into int8 kernels); without,
    dynamically (weights only, activations quantised at run time)."""
    import onnx
    from onnxruntime.quantization import (
        QuantFormat,
        QuantType,
        quant_pre_process,
        quantize_dynamic,
        quantize_static,
    )

    with tempfile.TemporaryDirectory() as folder:
        exported, prepared, quantised = (Path(folder) / n for n in ("f.onnx", "p.onnx", "q.onnx"))
        exported.write_bytes(model.SerializeToString())
        quant_pre_process(exported, prepared, skip_symbolic_shape=True)
        if calibration:
            graph = onnx.load(prepared).graph
            quantize_static(
                prepared,
                quantised,
                _Batches(calibration),
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                # a batch norm left after a convolution (not fused where the convolution's
                # output is also read for its shape) stays in fp32: its weights are vectors
                nodes_to_exclude=[n.name for n in graph.node if n.op_type == "BatchNormalization"],
            )
        else:
            quantize_dynamic(prepared, quantised, weight_type=QuantType.QUInt8)
        return quantised.read_bytes()


class _Batches:
    """onnxruntime's calibration data reader over a list of input batches."""

    def __init__(self, batches: Sequence[np.ndarray]) -> None:
        self.batches = iter(batches)

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self.batches, None)
        return None if batch is None else {ONNX_INPUT: batch}

"""The net behind a Segmenter: a callable on (B, C, h, w) float32 batches whose sides are a
multiple of its ``multiple``, returning (B, K, h, w) float32 outputs."""

import json
from pathlib import Path

import numpy as np
import torch

from digitseg.models.checkpoint import CheckpointError

ONNX_METADATA_KEY = "digitseg_config"


class TorchBackend:
    """Runs the PyTorch net on (B, C, h, w) float32 arrays whose sides fit its stride."""

    def __init__(self, net: torch.nn.Module, device: str) -> None:
        self.device = torch.device(device)
        self.net = net.to(self.device).eval()
        self.multiple = net.multiple

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return self.net(torch.from_numpy(batch).to(self.device)).float().cpu().numpy()


class OnnxBackend:
    """Runs an ONNX export of the net with onnxruntime."""

    def __init__(self, session, multiple: int) -> None:
        self.session = session
        self.multiple = multiple

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"image": batch})[0]


def load_onnx(path: Path):
    """Backend and config of an ONNX export (config in the model's metadata)."""
    import onnxruntime

    if not path.is_file():
        raise CheckpointError(f"no ONNX model at {path}; write one with digitseg-export")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    metadata = session.get_modelmeta().custom_metadata_map
    if ONNX_METADATA_KEY not in metadata:
        raise CheckpointError(f"{path} has no digitseg config; export it with digitseg-export")
    payload = json.loads(metadata[ONNX_METADATA_KEY])
    return OnnxBackend(session, int(payload["multiple"])), payload["config"]

"""The CPU backends of a net: each gives eager's outputs within what its arithmetic allows, at
any size that fits the stride; unknown names, bf16 where the CPU lacks it and static int8
without calibration are refused. A model file runs in ONNX Runtime on the CPU by default,
exported once and cached."""

import numpy as np
import pytest
import torch
from hydra.utils import instantiate

from digitseg.inference import backends as backends_module
from digitseg.inference.backends import (
    CPU_BACKENDS,
    OnnxBackend,
    TorchBackend,
    cpu_backend,
    native_bf16,
)
from digitseg.inference.segmenter import Segmenter
from digitseg.models.checkpoint import save_model
from tests.helpers.models import SMALL_UNET

# The largest |output - eager's| a backend may give, as a share of eager's output range.
TOLERANCE = {
    "torch": 0.0,
    "channels_last": 1e-5,
    "channels_last_bf16": 0.03,
    "onnxruntime": 1e-5,
    "onnxruntime_int8_dynamic": 0.06,
    "onnxruntime_int8_static": 0.1,
}
NO_BF16 = {"cpu_name": "Old Xeon", "avx2": True, "avx512_bf16": False, "amx_bf16": False}
AMX = {"cpu_name": "Xeon Max", "avx2": True, "avx512_bf16": True, "amx_bf16": True}


def batches(seed: int, multiple: int) -> list[np.ndarray]:
    """Input batches of two sizes, in the range of normalised canvases."""
    rng = np.random.default_rng(seed)
    shapes = [(2, 1, 2 * multiple, 4 * multiple), (1, 1, 3 * multiple, multiple)]
    return [rng.uniform(-0.5, 2.5, shape).astype(np.float32) for shape in shapes]


@pytest.fixture(scope="module")
def net() -> torch.nn.Module:
    """A small random-weight U-Net with a core output, as the shipped one has."""
    torch.manual_seed(0)
    return instantiate(SMALL_UNET).eval()


@pytest.fixture(scope="module")
def backends(net) -> dict:
    """Every backend this CPU runs, built once (each ONNX one exports the net)."""
    names = [n for n in CPU_BACKENDS if n != "channels_last_bf16" or native_bf16()]
    calibration = batches(1, net.multiple)
    return {name: cpu_backend(net, name, calibration) for name in names}


@pytest.mark.parametrize("name", CPU_BACKENDS)
def test_every_backend_gives_eagers_outputs(net, backends, name):
    if name not in backends:
        pytest.skip("this CPU has no native bf16")
    backend = backends[name]
    assert backend.multiple == net.multiple and backend.name == name
    for batch in batches(2, net.multiple):
        with torch.inference_mode():
            expected = net(torch.from_numpy(batch)).numpy()
        got = backend(batch)
        assert got.shape == expected.shape and got.dtype == np.float32
        scale = expected.max() - expected.min()
        assert np.abs(got - expected).max() <= TOLERANCE[name] * scale


def test_channels_last_leaves_the_callers_net_as_it_is(net, backends):
    assert backends["channels_last"].net is not net
    assert all(p.is_contiguous() for p in net.parameters())


def test_onnx_runtime_runs_on_torchs_threads_without_spinning(backends):
    options = backends["onnxruntime"].session.get_session_options()
    assert options.intra_op_num_threads == torch.get_num_threads()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_an_unknown_backend_is_named_with_the_known_ones(net):
    with pytest.raises(ValueError, match="no CPU backend 'int4'.*torch, channels_last"):
        cpu_backend(net, "int4")


def test_static_int8_needs_calibration(net):
    with pytest.raises(ValueError, match="needs calibration batches"):
        cpu_backend(net, "onnxruntime_int8_static")


def test_bf16_only_where_the_cpu_runs_it_natively(net, monkeypatch):
    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: AMX)
    assert native_bf16() == ["amx_bf16", "avx512_bf16"]
    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: NO_BF16)
    assert native_bf16() == []
    with pytest.raises(ValueError, match="Old Xeon has neither AMX-BF16 nor AVX512-BF16"):
        cpu_backend(net, "channels_last_bf16")


SMALL_FILE_CONFIG = {
    "model": {"net": SMALL_UNET},
    "data": {"spec": {"scale": [1.0, 1.0], "backgrounds": {"black": 1.0}}},
}


@pytest.fixture()
def model_file(tmp_path, net):
    """A small model file, and the cache folder its exports go to."""
    return save_model(tmp_path / "small.ckpt", net, SMALL_FILE_CONFIG), tmp_path / "cache"


def test_auto_runs_a_model_file_in_onnxruntime_on_the_cpu_exporting_it_once(
    model_file, net, monkeypatch
):
    path, cache = model_file
    monkeypatch.setenv("DIGITSEG_CACHE_DIR", str(cache))
    first = Segmenter.from_checkpoint(path, device="cpu")
    assert isinstance(first.backend, OnnxBackend) and first.backend.name == "onnxruntime"
    assert [f.suffix for f in (cache / "onnx").iterdir()] == [".onnx"]

    def exports_again(_):
        raise AssertionError("the cached export should have been used")

    monkeypatch.setattr(backends_module, "onnx_model", exports_again)
    second = Segmenter.from_checkpoint(path, device="cpu")
    batch = batches(4, net.multiple)[0]
    with torch.inference_mode():
        expected = net(torch.from_numpy(batch)).numpy()
    for segmenter in (first, second):
        np.testing.assert_allclose(segmenter.backend(batch), expected, atol=1e-4)
    assert isinstance(Segmenter.from_checkpoint(path, "torch").backend, TorchBackend)


def test_an_unwritable_cache_costs_the_export_not_the_reading(model_file, monkeypatch, caplog):
    path, cache = model_file
    cache.write_text("a file where the cache folder should be")
    monkeypatch.setenv("DIGITSEG_CACHE_DIR", str(cache))
    segmenter = Segmenter.from_checkpoint(path, device="cpu")
    assert isinstance(segmenter.backend, OnnxBackend)
    assert "could not cache the ONNX export" in caplog.text


def test_backend_names_are_checked(model_file):
    path, _ = model_file
    with pytest.raises(ValueError, match="--backend must be one of auto, torch"):
        Segmenter.from_checkpoint(path, "tensorrt")
    with pytest.raises(ValueError, match="runs on the CPU only"):
        backends_module.net_backend(torch.nn.Identity(), "onnxruntime", "cuda")
    with pytest.raises(
        ValueError, match="an ONNX export: read it with --backend auto or onnxruntime"
    ):
        Segmenter.from_checkpoint(path.with_suffix(".onnx"), "torch")

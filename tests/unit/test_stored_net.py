"""A model file's config builds only digitseg's own nets: a file naming anything else runs
nothing, whichever way it is loaded, and the error names the file and the key."""

import copy
from pathlib import Path

import numpy as np
import pytest
import segmentation_models_pytorch as smp
import torch
from PIL import Image

from digitseg import segment
from digitseg.inference.segmenter import Segmenter
from digitseg.models.checkpoint import CheckpointError, load_model
from digitseg.models.stored_net import RefusedConfig, build_stored_net

MODELS = Path(__file__).resolve().parents[2] / "models"
SEGMENTER, CLASSIFIER = MODELS / "digit_segmenter.ckpt", MODELS / "digit_classifier.ckpt"


@pytest.fixture(scope="module")
def shipped():
    """The shipped model files' payloads (tensors and plain values)."""
    return {path: torch.load(path, weights_only=True) for path in (SEGMENTER, CLASSIFIER)}


@pytest.fixture
def marker(tmp_path):
    """A file that exists only if a model file's command ran."""
    return tmp_path / "pwned"


def _command(marker: Path) -> dict:
    """A config that runs a shell command when Hydra instantiates it."""
    run = {"_target_": "os.system", "_args_": [f"touch {marker}"]}
    return {"_target_": "builtins.max", "_args_": [11, run]}


def _evil_file(shipped, source: Path, key: str, marker: Path, folder: Path) -> Path:
    """A copy of the shipped ``source`` (its real weights) whose ``model.net.<key>`` runs a
    command; it passes ``torch.load(weights_only=True)``."""
    payload = copy.deepcopy(shipped[source])
    payload["config"]["model"]["net"][key] = _command(marker)
    path = folder / f"evil_{source.name}"
    torch.save(payload, path)
    torch.load(path, weights_only=True)
    return path


def test_load_model_refuses_a_file_whose_config_runs_a_command(shipped, marker, tmp_path):
    path = _evil_file(shipped, SEGMENTER, "classes", marker, tmp_path)
    with pytest.raises(CheckpointError, match=f"{path} was refused: model.net.classes holds a "):
        load_model(path)
    assert not marker.exists()


def test_segmenter_refuses_such_a_checkpoint_or_classifier(shipped, marker, tmp_path):
    evil = _evil_file(shipped, SEGMENTER, "classes", marker, tmp_path)
    with pytest.raises(CheckpointError, match="model.net.classes holds a config to instantiate"):
        Segmenter.from_checkpoint(evil, device="cpu")
    evil_classifier = _evil_file(shipped, CLASSIFIER, "width", marker, tmp_path)
    with pytest.raises(CheckpointError, match=f"{evil_classifier} was refused: model.net.width"):
        Segmenter.from_checkpoint(SEGMENTER, device="cpu", classifier=evil_classifier)
    assert not marker.exists()


@pytest.mark.parametrize("option", ["--checkpoint", "--classifier"])
def test_digitseg_segment_refuses_such_a_file(shipped, marker, tmp_path, capsys, option):
    source, key = (SEGMENTER, "classes") if option == "--checkpoint" else (CLASSIFIER, "width")
    evil = _evil_file(shipped, source, key, marker, tmp_path)
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / "digit.png")
    models = ["--checkpoint", str(SEGMENTER), "--classifier", str(CLASSIFIER), option, str(evil)]
    argv = ["--input_dir", str(tmp_path / "digit.png"), "--output_dir", str(tmp_path / "out")]
    assert segment.main([*argv, *models]) == 1
    assert f"{evil} was refused: model.net.{key}" in capsys.readouterr().err
    assert not marker.exists() and not (tmp_path / "out").exists()


def test_the_shipped_configs_build_and_the_classifier_takes_either_path(shipped):
    for payload in shipped.values():
        assert isinstance(build_stored_net(payload["config"]), torch.nn.Module)
    net = {"_target_": "digitseg.classifier.net.DigitClassifier", "width": 8}
    assert build_stored_net({"model": {"net": net}}).features[0].out_channels == 8


UNET = {
    "_target_": "digitseg.models.nets.build_net",
    "arch": "Unet",
    "encoder_depth": 3,
    "decoder_channels": [16, 8, 8],
}


@pytest.mark.parametrize(
    ("net", "refused"),
    [
        ({"_target_": "os.system", "_args_": ["true"]}, "model.net._target_ 'os.system' is not"),
        (dict(UNET, _args_=["true"]), "model.net._args_ is not an option of"),
        (dict(UNET, _partial_=True), "model.net._partial_ is not an option of"),
        (dict(UNET, aux_params={"classes": 2}), "model.net.aux_params holds a dict"),
        (dict(UNET, decoder_channels=[[16], 8, 8]), "model.net.decoder_channels holds a list"),
        (dict(UNET, classes={"_target_": "x"}), r"holds a config to instantiate \(_target_ 'x'\)"),
        (dict(UNET, arch="Exec"), "model.net.arch: no architecture 'Exec'"),
        (dict(UNET, encoder_name="tu-hf-hub:someone/net"), "encoder_name 'tu-hf-hub:someone/"),
        (dict(UNET, encoder_name="tu-resnet18", checkpoint_path="x.pth"), "checkpoint_path is"),
        (dict(UNET, encoder_name=5), "model.net.encoder_name 5 is not an encoder"),
        ({"_target_": "digitseg.classifier.DigitClassifier", "depth": 3}, "model.net.depth is"),
        ("digitseg.models.nets.build_net", "model.net is a str"),
    ],
)
def test_anything_but_our_nets_with_plain_options_is_refused_by_key(net, refused):
    with pytest.raises(RefusedConfig, match=refused):
        build_stored_net({"model": {"net": net}})


def test_a_config_without_a_net_is_refused():
    with pytest.raises(RefusedConfig, match="no model.net"):
        build_stored_net({"model": {}})


def test_pretrained_encoder_weights_are_not_fetched(monkeypatch):
    """The file's weights replace them: a stored encoder_weights downloads nothing."""

    def download(*args, **kwargs):
        raise AssertionError(f"a model file's config fetched {args}")

    monkeypatch.setattr(smp.encoders, "hf_hub_download", download)
    with pytest.raises(AssertionError, match="fetched"):  # what the stored value would do
        smp.encoders.get_encoder("resnet18", weights="imagenet")
    net = build_stored_net({"model": {"net": dict(UNET, encoder_weights="imagenet")}})
    assert net.net.encoder.conv1.in_channels == 1

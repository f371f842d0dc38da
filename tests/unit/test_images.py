"""Reading user images: formats, orientation, bit depth, transparency, limits, bad files."""

import os

import numpy as np
import pytest
from PIL import Image

from digitseg.inference import ImageReadError, list_images, read_image


def test_grayscale_rgb_and_16_bit(tmp_path):
    gray = np.arange(48, dtype=np.uint8).reshape(6, 8) * 5
    Image.fromarray(gray).save(tmp_path / "g.png")
    assert np.array_equal(read_image(tmp_path / "g.png"), gray)
    Image.fromarray(np.stack([gray] * 3, -1)).save(tmp_path / "c.jpg", quality=100)
    assert read_image(tmp_path / "c.jpg").shape == (6, 8, 3)
    deep = gray.astype(np.uint16) * 257
    Image.fromarray(deep).save(tmp_path / "d.png")
    assert np.array_equal(read_image(tmp_path / "d.png"), gray)


def test_transparency_is_composited_on_white_and_palette_expanded(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[0, 0] = [0, 0, 0, 255]
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    image = read_image(tmp_path / "a.png")
    assert image[0, 0].tolist() == [0, 0, 0] and image[3, 3].tolist() == [255, 255, 255]
    colours = np.zeros((4, 4, 3), np.uint8)
    colours[0, 0] = [200, 30, 10]
    Image.fromarray(colours).convert("P", palette=Image.Palette.ADAPTIVE).save(tmp_path / "p.png")
    image = read_image(tmp_path / "p.png")
    assert image.shape == (4, 4, 3) and image[0, 0].tolist() == [200, 30, 10]


def test_32_bit_integers_are_scaled_by_their_type_not_their_brightest_pixel(tmp_path):
    dim = np.array([[0, 200]], np.int32)
    Image.fromarray(dim).save(tmp_path / "dim.tif")
    Image.fromarray(np.array([[0, 200, 2**31 - 1]], np.int32)).save(tmp_path / "full.tif")
    assert Image.open(tmp_path / "dim.tif").mode == "I"
    assert read_image(tmp_path / "dim.tif").tolist() == [[0, 0]]
    assert read_image(tmp_path / "full.tif").tolist() == [[0, 0, 255]]
    # Pillow also opens 16-bit PGM as "I": read from 0..65535 like a 16-bit PNG
    (tmp_path / "deep.pgm").write_bytes(
        b"P5 2 1 65535\n" + np.array([0, 257 * 100], ">u2").tobytes()
    )
    assert read_image(tmp_path / "deep.pgm").tolist() == [[0, 100]]


def test_float_images_are_read_from_0_to_1(tmp_path):
    Image.fromarray(np.array([[0.0, 0.5, 1.0, 2.0]], np.float32)).save(tmp_path / "f.tif")
    assert Image.open(tmp_path / "f.tif").mode == "F"
    assert read_image(tmp_path / "f.tif").tolist() == [[0, 128, 255, 255]]


def test_grayscale_with_alpha_or_a_grey_palette_stays_grayscale(tmp_path):
    gray = np.array([[0, 100], [200, 0]], np.uint8)
    alpha = np.array([[255, 255], [255, 0]], np.uint8)
    Image.fromarray(np.stack([gray, alpha], -1), "LA").save(tmp_path / "la.png")
    assert read_image(tmp_path / "la.png").tolist() == [[0, 100], [200, 255]]  # white paper
    Image.fromarray(gray).save(tmp_path / "g.gif")
    assert Image.open(tmp_path / "g.gif").mode == "P"
    assert np.array_equal(read_image(tmp_path / "g.gif"), gray)


def test_exif_orientation_is_applied(tmp_path):
    array = np.zeros((4, 10), np.uint8)
    image = Image.fromarray(array)
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    image.save(tmp_path / "r.jpg", exif=exif)
    assert read_image(tmp_path / "r.jpg").shape == (10, 4)


def test_pixel_limit_and_corrupt_files_name_the_file(tmp_path):
    Image.fromarray(np.zeros((100, 100), np.uint8)).save(tmp_path / "big.png")
    with pytest.raises(ImageReadError, match=r"big.png.*--max-pixels"):
        read_image(tmp_path / "big.png", max_pixels=5000)
    (tmp_path / "bad.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(ImageReadError, match="bad.png"):
        read_image(tmp_path / "bad.png")


def test_listing_is_sorted_filtered_and_optionally_recursive(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ("b.png", "a.JPG", "notes.txt", "sub/c.webp"):
        (tmp_path / name).write_bytes(b"")
    flat = list_images([tmp_path])
    assert [rel.as_posix() for _, rel in flat.images] == ["a.JPG", "b.png"]
    assert [rel.as_posix() for rel, _ in flat.skipped] == ["notes.txt", "sub"]
    deep = list_images([tmp_path], recursive=True)
    assert [rel.as_posix() for _, rel in deep.images] == ["a.JPG", "b.png", "sub/c.webp"]
    assert [rel.as_posix() for rel, _ in deep.skipped] == ["notes.txt"]
    assert [rel.name for _, rel in list_images([tmp_path / "notes.txt"]).images] == ["notes.txt"]
    with pytest.raises(FileNotFoundError, match="missing"):
        list_images([tmp_path / "missing"])


@pytest.mark.timeout(60)  # opening a FIFO to read it waits for a writer: forever
def test_what_is_not_read_is_listed_with_the_reason_and_never_opened(tmp_path):
    inputs, other = tmp_path / "in", tmp_path / "other"
    (inputs / "x.png").mkdir(parents=True)
    other.mkdir()
    for name in ("a.png", "g.gif", "x.png/c.png", "b.png"):
        Image.fromarray(np.zeros((4, 4), np.uint8)).save(inputs / name)
    os.mkfifo(inputs / "pipe.png")
    os.mkfifo(tmp_path / "named.png")
    (inputs / "gone.png").symlink_to("missing.png")
    (inputs / "folder.png").symlink_to(other, target_is_directory=True)

    flat = list_images([inputs, tmp_path / "named.png"])
    assert [rel.as_posix() for _, rel in flat.images] == ["a.png", "b.png"]
    assert [(rel.as_posix(), reason) for rel, reason in flat.unreadable] == [
        ("gone.png", "a link to missing.png, which does not exist"),
        ("pipe.png", "a FIFO (named pipe)"),
        ("named.png", "a FIFO (named pipe)"),
    ]
    skipped = {rel.as_posix(): reason for rel, reason in flat.skipped}
    assert list(skipped) == ["folder.png", "g.gif", "x.png"]
    assert "not followed" in skipped["folder.png"] and ".png .jpg" in skipped["g.gif"]
    assert "--recursive" in skipped["x.png"]

    deep = list_images([inputs], recursive=True)
    assert [rel.as_posix() for _, rel in deep.images] == ["a.png", "b.png", "x.png/c.png"]
    assert [rel.as_posix() for rel, _ in deep.skipped] == ["folder.png", "g.gif"]
    with pytest.raises(ImageReadError, match=r"pipe.png: a FIFO \(named pipe\), not an image"):
        read_image(inputs / "pipe.png")


def test_each_file_is_listed_once_under_a_name_of_its_own(tmp_path):
    for name in ("one/scan/y.png", "two/scan/y.png", "one/x.png"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    inputs = [tmp_path / "one/x.png", tmp_path / "one", tmp_path / "two", tmp_path / "one/x.png"]
    listed = list_images([*inputs, tmp_path / "one/scan/../x.png"], recursive=True).images
    assert [(file, name.as_posix()) for file, name in listed] == [
        (tmp_path / "one/x.png", "x.png"),
        (tmp_path / "one/scan/y.png", "one/scan/y.png"),
        (tmp_path / "two/scan/y.png", "two/scan/y.png"),
    ]

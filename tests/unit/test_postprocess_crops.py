"""Crops of instances: ink boxes with a margin, and MNIST-style digits with others masked out."""

import numpy as np
import pytest
from scipy import ndimage

from digitseg.classes import BACKGROUND, NUM_CLASSES
from digitseg.postprocess import extract_instances, ink_crop, masked_ink, mnist_crop

PAPER, INK = 230, 30


def seven_and_one() -> tuple[np.ndarray, np.ndarray]:
    """Semantic map of a 7 and a 1 whose boxes overlap, and its dark-on-light image."""
    semantic = np.full((40, 64), BACKGROUND, np.uint8)
    semantic[8:11, 10:24] = 7
    semantic[8:32, 21:24] = 7
    semantic[10:32, 26:29] = 1
    semantic[10:13, 19:26] = 1  # the 1's flag reaches into the 7's box
    image = np.where(semantic == BACKGROUND, PAPER, INK).astype(np.uint8)
    return semantic, image


def instances_of(semantic: np.ndarray):
    probs = np.eye(NUM_CLASSES, dtype=np.float32)[semantic].transpose(2, 0, 1)
    return {i.label: i for i in extract_instances(probs)}


def test_ink_crop_is_the_box_with_a_margin():
    semantic, image = seven_and_one()
    seven = instances_of(semantic)[7]
    x0, y0, x1, y1 = seven.bbox
    crop = ink_crop(image, seven, margin=2)
    np.testing.assert_array_equal(crop, image[y0 - 2 : y1 + 2, x0 - 2 : x1 + 2])
    assert ink_crop(image, seven, margin=0).shape == (y1 - y0, x1 - x0)


def test_ink_crop_is_clipped_to_the_image_and_keeps_colour():
    semantic, image = seven_and_one()
    semantic, image = semantic[8:, 10:], np.repeat(image[8:, 10:, None], 3, axis=2)
    seven = instances_of(semantic)[7]
    assert seven.bbox[:2] == (0, 0)
    crop = ink_crop(image, seven, margin=3)
    assert crop.shape == (seven.bbox[3] + 3, seven.bbox[2] + 3, 3)


def test_mnist_crop_is_mnist_style():
    semantic, image = seven_and_one()
    digit = mnist_crop(image, instances_of(semantic)[7])
    assert digit.shape == (28, 28) and digit.dtype == np.uint8
    assert digit.max() == 255  # white ink ...
    assert digit[0].max() == digit[-1].max() == digit[:, 0].max() == digit[:, -1].max() == 0
    rows, cols = np.nonzero(digit)
    assert max(rows.max() - rows.min(), cols.max() - cols.min()) + 1 == 20
    np.testing.assert_allclose(ndimage.center_of_mass(digit.astype(float)), (14, 14), atol=1)


def test_mnist_crop_masks_out_other_digits():
    semantic, image = seven_and_one()
    seven = instances_of(semantic)[7]
    alone = np.where(semantic == 1, PAPER, image).astype(np.uint8)
    np.testing.assert_array_equal(mnist_crop(image, seven), mnist_crop(alone, seven))
    ink = masked_ink(image, seven)
    assert ink[~seven.mask].max() == 0 and ink[seven.mask].min() == PAPER - INK


def test_mnist_crop_does_not_depend_on_polarity():
    semantic, image = seven_and_one()
    seven = instances_of(semantic)[7]
    np.testing.assert_array_equal(mnist_crop(image, seven), mnist_crop(255 - image, seven))
    rgb = np.repeat(image[..., None], 3, axis=2)
    np.testing.assert_array_equal(mnist_crop(image, seven), mnist_crop(rgb, seven))


def test_mnist_crop_of_ink_the_paper_hides_uses_the_mask():
    semantic, _ = seven_and_one()
    seven = instances_of(semantic)[7]
    flat = np.full(semantic.shape, 128, np.uint8)
    digit = mnist_crop(flat, seven)
    assert digit.max() == 255 and digit[0, 0] == 0


def test_masked_ink_rejects_other_images():
    semantic, image = seven_and_one()
    seven = instances_of(semantic)[7]
    with pytest.raises(ValueError, match="uint8"):
        masked_ink(image.astype(np.float32), seven)

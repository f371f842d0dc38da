"""Where an image's ink is: the ink over the paper's local level."""

import numpy as np
import pytest

from digitseg.inference.ink import ink_mask


@pytest.mark.parametrize("shape", [(400, 600), (1000, 1400), (3000, 4000)])
def test_the_ink_of_a_ring_on_flat_paper_is_the_ring(shape):
    """Photos of a page too: their paper's level is taken on the image shrunk."""
    page = np.zeros(shape, np.uint8)  # light ink on dark paper
    page[100:300, 100:240] = 255  # a 200 px tall "0" with 20 px strokes
    page[120:280, 120:220] = 0
    np.testing.assert_array_equal(ink_mask(page), page > 0)

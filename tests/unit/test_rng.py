"""Counter-based random numbers: values depend only on (key, index, stream, element)."""

import numpy as np
import pytest

from digitseg.data.rng import CounterRandom, split_key, to_integers, to_range


def test_values_do_not_depend_on_the_batch():
    whole = CounterRandom(7, np.arange(100)).uniform(3, 5)
    picked = CounterRandom(7, np.array([42, 3, 99])).uniform(3, 5)
    np.testing.assert_array_equal(picked, whole[[42, 3, 99]])
    np.testing.assert_array_equal(
        CounterRandom(7, np.arange(100)).subset([42, 3]).uniform(3, 5), whole[[42, 3]]
    )
    # More elements of a stream extend it: the first ones do not change.
    np.testing.assert_array_equal(CounterRandom(7, np.arange(100)).uniform(3, 9)[:, :5], whole)


def test_streams_keys_and_indices_give_different_values():
    rnd = CounterRandom(7, np.arange(1000))
    first = rnd.uniform(1, 4)
    for other in (
        rnd.uniform(2, 4),
        CounterRandom(8, np.arange(1000)).uniform(1, 4),
        CounterRandom(7, np.arange(1000, 2000)).uniform(1, 4),
    ):
        assert not np.isin(first, other).any()
        assert abs(np.corrcoef(first.ravel(), other.ravel())[0, 1]) < 0.1


def test_uniforms_are_uniform_in_the_unit_interval():
    u = CounterRandom(1, np.arange(20_000)).uniform(5, 2)
    assert u.shape == (20_000, 2)
    assert u.dtype == np.float64 and u.min() >= 0 and u.max() < 1
    counts = np.histogram(u, bins=10, range=(0, 1))[0]
    expected = u.size / 10
    assert ((counts - expected) ** 2 / expected).sum() < 30  # chi-square, 9 dof: p < 0.001


def test_integers_cover_the_inclusive_range():
    u = CounterRandom(1, np.arange(5000)).uniform(1)
    values = to_integers(u, -2, 2)
    assert values.dtype == np.int64
    assert set(np.unique(values)) == {-2, -1, 0, 1, 2}
    np.testing.assert_array_equal(CounterRandom(1, np.arange(5000)).integers(1, -2, 2), values)


def test_bounds_broadcast_per_canvas():
    u = CounterRandom(1, np.arange(4)).uniform(1, 1000)
    low = np.array([[0], [10], [20], [30]])
    values = to_integers(u, low, low + 3)
    assert ((values >= low) & (values <= low + 3)).all()
    floats = to_range(u, low, low + 0.5)
    assert ((floats >= low) & (floats < low + 0.5)).all()


def test_values_are_fixed_constants():
    # Canvases must not change with the Python or numpy version, hash seed or machine.
    assert split_key(0, "train") == 0x6756E2C22ABE085
    u = CounterRandom(1, np.array([5])).uniform(2, 2)
    assert u.tolist() == [[0.8290482779342754, 0.791175648404821]]


def test_split_keys_are_distinct():
    keys = {split_key(seed, split) for seed in (0, 1, 2) for split in ("train", "val", "test")}
    assert len(keys) == 9


def test_too_many_draws_per_stream_are_refused():
    with pytest.raises(ValueError, match="at most"):
        CounterRandom(0, np.arange(1)).uniform(0, 1 << 24)

"""one_hot and minibatches."""

from __future__ import annotations

import numpy as np
import pytest

from dlcore.data import minibatches, one_hot


def test_one_hot():
    out = one_hot(np.array([3, 0, 9]))
    assert out.shape == (3, 10) and out.dtype == np.float32
    np.testing.assert_array_equal(out.argmax(axis=1), [3, 0, 9])
    np.testing.assert_array_equal(out.sum(axis=1), [1, 1, 1])
    assert one_hot([1, 0], num_classes=2, dtype=np.float64).tolist() == [[0.0, 1.0], [1.0, 0.0]]
    assert one_hot(np.array([], dtype=np.int64)).shape == (0, 10)


@pytest.mark.parametrize("labels", [[0, 10], [-1, 2]])
def test_one_hot_out_of_range(labels):
    with pytest.raises(ValueError, match=r"0\.\.9"):
        one_hot(np.array(labels))


def test_one_hot_rejects_non_integer_labels():
    with pytest.raises(ValueError, match="integer"):
        one_hot(np.array([0.5, 1.0]))


def _data(n=23, d=3):
    x = np.arange(n * d, dtype=np.float32).reshape(n, d)
    t = np.arange(n)  # t[i] == x[i, 0] / d: rows stay aligned iff this holds in every batch
    return x, t


def test_minibatches_in_order_cover_everything_once():
    x, t = _data()
    batches = list(minibatches(x, t, batch_size=5))
    assert [len(b[0]) for b in batches] == [5, 5, 5, 5, 3]
    np.testing.assert_array_equal(np.concatenate([b[0] for b in batches]), x)
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), t)


def test_minibatches_shuffled_cover_once_aligned_deterministic():
    x, t = _data()
    a = list(minibatches(x, t, batch_size=4, rng=np.random.default_rng(0)))
    seen = np.concatenate([tb for _, tb in a])
    assert sorted(seen.tolist()) == list(range(len(x)))  # every sample exactly once
    assert not np.array_equal(seen, t)  # actually shuffled
    for xb, tb in a:
        np.testing.assert_array_equal(xb[:, 0] / x.shape[1], tb)  # aligned
    b = list(minibatches(x, t, batch_size=4, rng=np.random.default_rng(0)))
    np.testing.assert_array_equal(seen, np.concatenate([tb for _, tb in b]))  # same seed, same order


def test_minibatches_fresh_permutation_per_call():
    x, t = _data(n=50)
    rng = np.random.default_rng(1)
    first = np.concatenate([tb for _, tb in minibatches(x, t, 10, rng)])
    second = np.concatenate([tb for _, tb in minibatches(x, t, 10, rng)])
    assert not np.array_equal(first, second)


def test_minibatches_targets_of_any_shape():
    x, _ = _data(n=6)
    t = np.eye(6, 10)
    for xb, tb in minibatches(x, t, 4, np.random.default_rng(2)):
        assert tb.shape[1:] == (10,) and len(tb) == len(xb)


def test_minibatches_argument_errors_are_eager():
    x, t = _data()
    with pytest.raises(ValueError, match="batch_size"):
        minibatches(x, t, 0)
    with pytest.raises(ValueError, match="23 samples but t has 22"):
        minibatches(x, t[:-1], 5)

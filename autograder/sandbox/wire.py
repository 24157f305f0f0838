"""The grader <-> jail channel: framed messages of JSON and numeric arrays, read with bounds.

A message is a tree of dicts, lists, strings, numbers, booleans, None and numpy arrays. On the
wire it is one frame::

    8 bytes   the length of the header, big-endian
    header    JSON: {"body": <the tree, each array replaced by {"$array": i}>,
                     "arrays": [{"dtype": "<f8", "shape": [3, 4]}, ...]}
    payload   the arrays' bytes, one after the other, in C order

Between frames the reader skips ``END`` bytes (0xFE). No frame can start with one (a header is
shorter than 2**20 bytes, so its length starts with zeros), and the MNIST session's binary records
read ``END`` as "the session's process ended": the runner writes :data:`ENDED` after each call's
process has ended, before its exit frame, so a training that dies is told apart from one that
reports a step, whichever record the grader was waiting for.

This file runs on both sides (the runner and probes import it inside the jail). The reading side
never trusts the writing side: header size, number and size of arrays, dtypes (plain numbers and
booleans only: no objects, no pickles) and shapes are checked before a byte of payload is read,
and the total is capped by the caller. Arrays arrive as fresh, writable, native-endian copies.
"""

from __future__ import annotations

import json
import os
import struct

import numpy as np

MAX_HEADER = 1 << 20
MAX_ARRAYS = 4096
MAX_NDIM = 8
DTYPES = frozenset("?bBhHiIlLqQefd")  # booleans, integers and floats: what numpy arrays of numbers are


END = 0xFE
ENDED = bytes([END]) * 16  # as long as the session's longest record


class WireError(Exception):
    """The other side sent something that is not a valid message within the limits."""


def encode(body: object) -> bytes:
    """One frame holding ``body`` (arrays inside it are sent as binary)."""
    arrays: list[np.ndarray] = []

    def strip(node: object) -> object:
        if isinstance(node, np.ndarray | np.generic):
            array = np.asarray(node)
            arrays.append(array if array.flags.c_contiguous else array.copy(order="C"))
            return {"$array": len(arrays) - 1}
        if isinstance(node, dict):
            return {str(k): strip(v) for k, v in node.items()}
        if isinstance(node, list | tuple):
            return [strip(v) for v in node]
        return node

    skeleton = strip(body)
    header = json.dumps({"body": skeleton, "arrays": [{"dtype": a.dtype.str, "shape": list(a.shape)}
                                                      for a in arrays]}).encode()
    return b"".join([struct.pack(">Q", len(header)), header, *(a.tobytes() for a in arrays)])


def write(fd: int, body: object) -> None:
    data = memoryview(encode(body))
    while data:
        n = os.write(fd, data)
        data = data[n:]


class Reader:
    """Reads frames from a file descriptor, a chunk at a time, so the caller can watch budgets.

    ``poll(timeout)`` returns a decoded message once a whole frame has arrived, else None; it
    raises :class:`WireError` for a frame that breaks the limits and :class:`EOFError` when the
    other side closed the channel.
    """

    def __init__(self, fd: int, max_bytes: int = 64 << 20) -> None:
        self.fd, self.max_bytes = fd, max_bytes
        self.buffer = bytearray()
        self.need: int | None = None  # bytes of the frame being read, once its header is known
        self.header: dict | None = None

    def poll(self, timeout: float) -> object | None:
        import select

        if self._complete():
            return self._take()
        ready, _, _ = select.select([self.fd], [], [], max(timeout, 0.0))
        if not ready:
            return None
        chunk = os.read(self.fd, 1 << 20)
        if not chunk:
            raise EOFError("the channel was closed")
        self.buffer += chunk
        return self._take() if self._complete() else None

    def _complete(self) -> bool:
        if self.header is None:
            skip = len(self.buffer) - len(self.buffer.lstrip(bytes([END])))
            if skip:
                del self.buffer[:skip]
            if len(self.buffer) < 8:
                return False
            (size,) = struct.unpack(">Q", self.buffer[:8])
            if size > MAX_HEADER:
                raise WireError(f"a message header of {size} bytes (at most {MAX_HEADER})")
            if len(self.buffer) < 8 + size:
                return False
            self.header = _parse_header(bytes(self.buffer[8:8 + size]))
            payload = sum(_nbytes(spec) for spec in self.header["arrays"])
            if payload > self.max_bytes:
                raise WireError(f"a message of {payload / 2**20:.1f} MB of arrays (at most "
                                f"{self.max_bytes / 2**20:.0f} MB)")
            del self.buffer[:8 + size]
            self.need = payload
        return len(self.buffer) >= (self.need or 0)

    def _take(self) -> object:
        header, offset, arrays = self.header, 0, []
        assert header is not None
        view = memoryview(self.buffer)
        for spec in header["arrays"]:
            n = _nbytes(spec)
            dtype = np.dtype(spec["dtype"])
            arrays.append(np.frombuffer(view[offset:offset + n], dtype=dtype).reshape(spec["shape"])
                          .astype(dtype.newbyteorder("="), copy=True))
            offset += n
        view.release()
        del self.buffer[:offset]
        self.header, self.need = None, None
        return _fill(header["body"], arrays)


def _parse_header(raw: bytes) -> dict:
    try:
        header = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise WireError(f"a message header that is not JSON ({type(exc).__name__})") from None
    if not isinstance(header, dict) or not isinstance(header.get("arrays"), list) or "body" not in header:
        raise WireError("a message header without body and arrays")
    if len(header["arrays"]) > MAX_ARRAYS:
        raise WireError(f"a message of {len(header['arrays'])} arrays (at most {MAX_ARRAYS})")
    for spec in header["arrays"]:
        if not isinstance(spec, dict) or not isinstance(spec.get("dtype"), str) or not isinstance(
                spec.get("shape"), list):
            raise WireError("an array without dtype or shape")
        try:
            dtype = np.dtype(spec["dtype"])
        except TypeError:
            raise WireError(f"an array of unknown dtype {spec['dtype'][:20]!r}") from None
        if dtype.char not in DTYPES or dtype.hasobject:
            raise WireError(f"an array of dtype {dtype} (numbers and booleans only)")
        shape = spec["shape"]
        if len(shape) > MAX_NDIM or not all(isinstance(d, int) and 0 <= d < 2**40 for d in shape):
            raise WireError(f"an array of shape {shape[:10]}")
    return header


def _nbytes(spec: dict) -> int:
    n = np.dtype(spec["dtype"]).itemsize
    for d in spec["shape"]:
        n *= d
    return n


def _fill(node: object, arrays: list[np.ndarray]) -> object:
    if isinstance(node, dict):
        if set(node) == {"$array"}:
            index = node["$array"]
            if not isinstance(index, int) or not 0 <= index < len(arrays):
                raise WireError("an array reference out of range")
            return arrays[index]
        return {k: _fill(v, arrays) for k, v in node.items()}
    if isinstance(node, list):
        return [_fill(v, arrays) for v in node]
    return node

"""The grader <-> jail channel: frames round-trip, every limit is checked before the payload is read,
and the end-of-call filler is skipped between frames but read as 'ended' by the session's records."""

import tempfile

import numpy as np
import pytest

from autograder.sandbox import wire
from autograder.sandbox.session import ENDED_OP, ENDED_STEP, REPLY, STEP


def _reader(data: bytes, **kwargs) -> wire.Reader:
    """A reader of ``data`` (a file: a pipe would block a writer of more than its buffer)."""
    f = tempfile.TemporaryFile()
    f.write(data)
    f.seek(0)
    reader = wire.Reader(f.fileno(), **kwargs)
    reader.source = f  # kept open as long as the reader
    return reader


def _read(reader: wire.Reader) -> object:
    for _ in range(100):
        message = reader.poll(1.0)
        if message is not None:
            return message
    raise AssertionError("no message")


def test_a_tree_of_arrays_round_trips_as_fresh_native_copies():
    body = {"y": np.arange(12.0).reshape(3, 4), "n": [1, "two", None, True],
            "big": np.arange(5, dtype=">i4"), "f32": np.ones((2, 2), np.float32).T}
    got = _read(_reader(wire.encode(body)))
    assert got["n"] == [1, "two", None, True]
    np.testing.assert_array_equal(got["y"], body["y"])
    assert got["big"].dtype == np.dtype("int32") and got["big"].dtype.isnative
    assert got["f32"].dtype == np.float32 and got["f32"].flags.writeable


def test_the_end_filler_is_skipped_between_frames():
    data = wire.ENDED + wire.encode({"exit": {"status": 0}}) + wire.ENDED + wire.encode({"a": 1})
    reader = _reader(data)
    assert _read(reader) == {"exit": {"status": 0}}
    assert _read(reader) == {"a": 1}


def test_the_filler_reads_as_ended_in_both_session_modes():
    assert STEP.unpack(wire.ENDED[:STEP.size])[0] == ENDED_STEP
    assert REPLY.unpack(wire.ENDED[:REPLY.size])[0] == ENDED_OP
    assert len(wire.ENDED) >= max(STEP.size, REPLY.size)
    assert wire.encode({})[0] != wire.END  # no frame starts with the filler


@pytest.mark.parametrize("data, words", [
    ((1 << 40).to_bytes(8, "big"), "header of"),
    (len(b"not json").to_bytes(8, "big") + b"not json", "not JSON"),
    (b'\x00' * 7 + b'\x10' + b'{"body": 1}     ', "without body"),
])
def test_bad_headers_are_refused_before_anything_else_is_read(data, words):
    with pytest.raises(wire.WireError, match=words):
        _read(_reader(data))


def test_limits_on_arrays_are_checked_from_the_header():
    too_big = wire.encode({"a": np.zeros(2 << 20)})  # 16 MB
    with pytest.raises(wire.WireError, match="MB of arrays"):
        _read(_reader(too_big, max_bytes=8 << 20))
    many = wire.encode({"a": [np.zeros(1)] * (wire.MAX_ARRAYS + 1)})
    with pytest.raises(wire.WireError, match="arrays"):
        _read(_reader(many))
    objects = wire.encode({"a": np.zeros(1)}).replace(b'"<f8"', b'"|O8"')
    with pytest.raises(wire.WireError, match="dtype"):
        _read(_reader(objects))


def test_a_closed_channel_is_an_eof():
    with pytest.raises(EOFError):
        _read(_reader(wire.encode({"a": 1})[:5]))

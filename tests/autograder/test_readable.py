"""Files bound into a jail are readable by the jail's unprivileged uid, whatever their mode on the host."""

from __future__ import annotations

import stat
import subprocess
import sys

import pytest

from autograder.sandbox import bwrap
from autograder.sandbox.readable import readable_by_jail

pytestmark = pytest.mark.skipif(not bwrap.privileged(), reason="as another user, the jail keeps our uid")


def _read_in_jail(path, inside: str = "/box/data/train-images-idx3-ubyte") -> subprocess.CompletedProcess:
    jail = bwrap.Jail(binds=[*bwrap.python_binds(), (path, inside)])
    argv = [sys.executable, "-c", f"print(len(open({inside!r}, 'rb').read()))"]
    return subprocess.run(bwrap.command(jail, argv), capture_output=True, text=True, timeout=60, check=False)


def test_a_file_only_its_owner_reads_is_bound_as_a_readable_copy(tmp_path):
    """MNIST fetched with mkstemp's 0600 (seen in CI): the jail read 'Permission denied' and the training
    targets scored 0. The copy keeps the name (the jail's paths use it) and the bytes."""
    private = tmp_path / "train-images-idx3-ubyte"
    private.write_bytes(b"\x00\x01" * 1000)
    private.chmod(0o600)
    assert _read_in_jail(private).returncode != 0  # the premise: the jail's uid cannot read it in place
    [copy] = readable_by_jail([private])
    assert copy != private and copy.name == private.name and copy.read_bytes() == private.read_bytes()
    assert copy.stat().st_mode & stat.S_IROTH
    run = _read_in_jail(copy)
    assert run.returncode == 0 and run.stdout.strip() == "2000", run.stderr
    assert readable_by_jail([private]) == [copy]  # one copy per grading process


def test_a_readable_file_is_bound_in_place(tmp_path):
    public = tmp_path / "train-labels-idx1-ubyte"
    public.write_bytes(b"labels")
    public.chmod(0o644)
    assert readable_by_jail([public]) == [public.resolve()]

"""Files a jail's uid can read: the data bound read-only into jails (MNIST's training files).

A jail runs as an unprivileged uid, so a file bound into it must be readable by "others". Data
fetched or copied with a restrictive umask (0600, as ``mkstemp`` creates) is not: instead of a
training that fails with "Permission denied" (which would read as the student's failure), such a
file is copied once per grading process into a private folder, readable by all, and the copy is
bound instead. Files already readable are used in place (no copy).
"""

from __future__ import annotations

import atexit
import os
import shutil
import stat
import tempfile
from pathlib import Path

_copies: dict[tuple[Path, int, int], Path] = {}
_folder: Path | None = None


def _readable_by_others(path: Path) -> bool:
    return bool(path.stat().st_mode & stat.S_IROTH)


def _copy_folder() -> Path:
    global _folder
    if _folder is None:
        _folder = Path(tempfile.mkdtemp(prefix="dlcore-jail-data-"))
        _folder.chmod(0o755)  # mkdtemp makes it 0700: the jail's uid must enter it
        atexit.register(shutil.rmtree, _folder, ignore_errors=True)
    return _folder


def readable_by_jail(files: list[Path]) -> list[Path]:
    """``files``, each replaced by a readable copy (same name) when the jail's uid could not read it."""
    from autograder.sandbox.bwrap import privileged

    if not privileged():  # the jail keeps our uid: what we read, it reads
        return list(files)
    out = []
    for path in files:
        path = path.resolve()
        if _readable_by_others(path):
            out.append(path)
            continue
        info = path.stat()
        key = (path, info.st_size, info.st_mtime_ns)
        if key not in _copies:
            folder = _copy_folder() / str(len(_copies))  # one folder per copy: names stay as they were
            folder.mkdir(mode=0o755)
            copy = folder / path.name
            shutil.copyfile(path, copy)
            os.chmod(copy, 0o644)
            _copies[key] = copy
        out.append(_copies[key])
    return out

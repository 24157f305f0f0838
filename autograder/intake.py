"""A student's submission as the grader reads it: notebook files only, never links, bounded sizes."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

MAX_NOTEBOOK = 16 << 20


@dataclass
class Intake:
    notebooks: dict[str, bytes] = field(default_factory=dict)  # file name -> content
    refused: list[str] = field(default_factory=list)  # one line per entry not accepted


def _read(path: Path, intake: Intake) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        intake.refused.append(f"{path.name}: {'a symbolic link' if os.path.islink(path) else exc.strerror}: "
                              "only regular files are accepted")
        return
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            intake.refused.append(f"{path.name} is not a regular file: only regular files are accepted")
        elif st.st_size > MAX_NOTEBOOK:
            intake.refused.append(f"{path.name} is larger than {MAX_NOTEBOOK >> 20} MB")
        else:
            intake.notebooks[path.name] = f.read(MAX_NOTEBOOK + 1)[:MAX_NOTEBOOK]


def read_submission(path: str | Path) -> Intake:
    """The notebooks at ``path`` (a notebook, or a folder of them)."""
    path, intake = Path(path), Intake()
    if path.is_dir() and not path.is_symlink():
        for entry in sorted(path.iterdir()):
            if entry.name.endswith(".ipynb") and not entry.name.startswith("."):
                _read(entry, intake)
    elif path.name.endswith(".ipynb"):
        _read(path, intake)
    return intake

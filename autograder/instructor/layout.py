"""The nbgrader course folder and how this repository maps onto it.

nbgrader wants ``<root>/source/<assignment>/<notebook>.ipynb``; this repository keeps the source
notebooks flat in ``solutions/`` (the notebook loader and the CLI read ``solutions/*.ipynb``). The
thin wrapper: a course folder (``autograder/course/`` by default, git-ignored, or a temporary one)
gets *copies* of ``solutions/*.ipynb`` in ``source/dlcore/`` and a two-line ``nbgrader_config.py``
that loads ``autograder/nbgrader_config.py``; nbgrader runs there, so its usual layout
(``release/``, ``submitted/``, ``autograded/``, ``feedback/``, ``gradebook.db``) lives there too.

All notebooks form ONE assignment, ``dlcore``: a later notebook may load an earlier one from the
same folder, and a student gets one row in the grades.

The term's own settings (due date, late policy, parts, LMS names) are in ``autograder/term.toml``
(:mod:`.term`), the course's ``term`` unless another file is given. Instructor commands that write
the course hold :meth:`Course.lock` so that two of them never interleave.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SOLUTIONS = REPO / "solutions"
NOTEBOOKS = REPO / "notebooks"
CONFIG = REPO / "autograder" / "nbgrader_config.py"
DEFAULT_COURSE = REPO / "autograder" / "course"
TERM = REPO / "autograder" / "term.toml"
ASSIGNMENT = "dlcore"

_STUB = '''\
# Written by `python -m autograder.course`: the course configuration lives in the repository.
c = get_config()  # noqa: F821
load_subconfig({config!r})  # noqa: F821
c.CourseDirectory.root = {root!r}
'''


def source_notebooks(solutions: Path = SOLUTIONS) -> list[Path]:
    """The nbgrader source notebooks: ``solutions/*.ipynb`` in name order."""
    paths = sorted(p for p in Path(solutions).glob("*.ipynb") if not p.name.startswith("."))
    if not paths:
        raise FileNotFoundError(f"{solutions} holds no notebooks (*.ipynb)")
    return paths


@dataclass(frozen=True)
class Course:
    """An nbgrader course folder fed from a flat folder of source notebooks."""

    root: Path = DEFAULT_COURSE
    solutions: Path = SOLUTIONS
    assignment: str = ASSIGNMENT
    term: Path = TERM

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root).resolve())
        object.__setattr__(self, "solutions", Path(self.solutions).resolve())
        object.__setattr__(self, "term", Path(self.term).resolve())

    def folder(self, step: str, student: str | None = None) -> Path:
        """``<root>/<step>/[<student>/]<assignment>``, e.g. ``folder("submitted", "alice")``."""
        parts = [step] + ([student] if student else []) + [self.assignment]
        return self.root.joinpath(*parts)

    @property
    def gradebook(self) -> Path:
        return self.root / "gradebook.db"

    def prepare(self) -> list[Path]:
        """Write the config stub and refresh ``source/<assignment>/`` from the source notebooks."""
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "nbgrader_config.py").write_text(_STUB.format(config=str(CONFIG), root=str(self.root)))
        source = self.folder("source")
        if source.exists():
            shutil.rmtree(source)
        source.mkdir(parents=True)
        copies = []
        for path in source_notebooks(self.solutions):
            copies.append(Path(shutil.copyfile(path, source / path.name)))
        return copies

    def released(self) -> list[Path]:
        """The notebooks nbgrader released into ``release/<assignment>/``."""
        return sorted(self.folder("release").glob("*.ipynb"))

    def students(self) -> list[str]:
        """Students with a submission, in name order."""
        submitted = self.root / "submitted"
        if not submitted.is_dir():
            return []
        return sorted(p.name for p in submitted.iterdir() if (p / self.assignment).is_dir())

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the course's lock (``<root>/.lock``) or fail at once: one instructor command that
        writes the course at a time (collect, autograde, import-hidden, feedback, export).

        Raises:
            RuntimeError: another command holds it (its process id is in the message).
        """
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
                raise RuntimeError(f"another instructor command (process {holder}) is working on {self.root}: "
                                   "wait for it to finish") from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
            yield
        finally:
            os.close(fd)  # closing releases the lock

"""Intake: read a student's notebooks from a submission, regular files only, never following links.

A submission (a Gradescope upload, a zip, a git push, a folder collected for nbgrader) can carry
symbolic links, FIFOs, devices, sockets, folders named like notebooks, huge files and absurd
trees. :func:`read_submission` reads what the grader may use, the bytes of each notebook, and
turns everything else into one-line reasons meant for the student's results.

Contract of ``read_submission(path)``:

* ``path`` is a notebook file or a folder. A folder is searched **recursively**, so notebooks in
  subfolders are found (a Gradescope upload of a folder keeps the folder). Names starting with a
  dot (``.ipynb_checkpoints/``, ``.git/``, macOS's ``._*`` files) are skipped and not entered.
* A notebook is a **regular file** whose name ends in ``.ipynb``. Every file is opened relative to
  its folder's descriptor with ``O_NOFOLLOW | O_NONBLOCK``, after ``fstatat`` (not following links)
  said it is a regular file, and ``fstat`` of the open descriptor must say so again. Nothing is
  ever opened through a symbolic link: not a file, not a folder while walking, not ``path``
  itself. FIFOs, devices and sockets are never opened. A hard link is read like any regular file.
* Refused, with one line each in :attr:`Intake.refused` (and never read): any symbolic link, FIFO,
  device or socket; a folder named like a notebook; a notebook over ``max_notebook_bytes``, or
  one that would bring the notebooks read so far over ``max_total_bytes``; a file that is not a
  notebook by nbformat's judgement (not UTF-8, not JSON, or not valid against the notebook
  schema); a name with unprintable characters; a file that cannot be read.
* **A notebook's name may appear once.** The same name in two places (``a/01_modules.ipynb`` and
  ``b/01_modules.ipynb``) is refused, naming every place, and neither copy is used.
* **The walk is bounded**: more than ``max_entries`` files and folders, or folders nested deeper
  than ``max_depth``, refuse the whole submission (no notebooks, one reason) after at most
  ``max_entries`` entries were looked at, without recursion beyond ``max_depth``.
* No notebook and no other reason: the reason "no notebook (.ipynb) was found in the submission".
* Other regular files (data, scripts, a README) are ignored without a reason.
* Returns :class:`Intake`: ``notebooks`` maps each accepted notebook's file name to its bytes,
  exactly as on disk, in name order; ``locations`` maps it to its path within the submission;
  ``refused`` lists the reasons (at most :data:`MAX_REASONS` lines, the last one counting the rest).
  Paths in reasons are relative to ``path`` and shown with unprintable characters replaced.
* Raises only when ``path`` itself does not exist (``FileNotFoundError``): that is the grader's
  error, not the student's. Nothing in the submission makes it raise.
"""

from __future__ import annotations

import errno
import os
import stat
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

MAX_NOTEBOOK_BYTES = 20 * 2**20
MAX_TOTAL_BYTES = 50 * 2**20
MAX_DEPTH = 16
MAX_ENTRIES = 10_000
MAX_REASONS = 20

_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_DIR_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_DIRECTORY | os.O_CLOEXEC
ONLY_REGULAR = "only regular files are accepted"


@dataclass(frozen=True)
class Intake:
    """What :func:`read_submission` read: the notebooks' bytes and the reasons for what it refused."""

    notebooks: dict[str, bytes] = field(default_factory=dict)  # file name -> bytes, in name order
    locations: dict[str, str] = field(default_factory=dict)  # file name -> path within the submission
    refused: list[str] = field(default_factory=list)  # one line each, for the student's results


class _WalkLimit(Exception):
    """The tree is too large or too deep: the whole submission is refused with this message."""


def _show(relpath: str, limit: int = 100) -> str:
    """``relpath`` fit for a line of the student's results: printable, not too long."""
    text = "".join(c if c.isprintable() else "?" for c in relpath)  # undecodable bytes are surrogates: "?"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _megabytes(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n % 2**20 else f"{n // 2**20} MB"


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def _notebook_problem(data: bytes) -> str | None:
    """None when ``data`` is a notebook nbformat reads and validates; else what is wrong, briefly."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return "not UTF-8 text"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. cells without ids: nbformat still reads them
        try:
            nbformat.validate(nbformat.convert(nbformat.reader.reads(text), 4))
        except nbformat.reader.NotJSONError:
            return "not JSON"
        except nbformat.ValidationError as exc:
            where = "/".join(str(p) for p in getattr(exc, "absolute_path", ()))
            return "does not follow the notebook format" + (f" at {_show(where, 40)}" if where else "")
        except nbformat.NBFormatError as exc:
            return _show(str(exc).strip().splitlines()[0] if str(exc).strip() else "unknown format", 80)
        except Exception:  # nbformat raises many types for a damaged file; RecursionError too
            return "not a notebook"
    return None


class _Reader:
    """One walk of one submission; collects notebooks, duplicates and reasons."""

    def __init__(self, max_notebook_bytes: int, max_total_bytes: int, max_depth: int, max_entries: int):
        self.max_notebook_bytes = max_notebook_bytes
        self.max_total_bytes = max_total_bytes
        self.max_depth = max_depth
        self.max_entries = max_entries
        self.entries = 0
        self.total = 0
        self.found: dict[str, list[tuple[str, bytes]]] = {}  # name -> [(relpath, bytes), ...]
        self.reasons: list[str] = []

    def refuse(self, relpath: str, why: str) -> None:
        self.reasons.append(f"{_show(relpath)} {why}")

    def read_file(self, dir_fd: int, name: str, relpath: str) -> None:
        """Read the regular file ``name`` of the folder ``dir_fd`` as a notebook, or refuse it."""
        try:
            fd = os.open(name, _FILE_FLAGS, dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # became a link since it was looked at
                self.refuse(relpath, f"is a symbolic link: {ONLY_REGULAR}")
            else:
                self.refuse(relpath, f"could not be read ({os.strerror(exc.errno or 0)})")
            return
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                self.refuse(relpath, f"is {_kind(st.st_mode)}: {ONLY_REGULAR}")
                return
            if st.st_size > self.max_notebook_bytes:
                self.refuse(relpath, f"is {_megabytes(st.st_size)}, over the limit of "
                                     f"{_megabytes(self.max_notebook_bytes)} per notebook: clear its outputs "
                                     "and upload it again")
                return
            chunks, size = [], 0
            while size <= self.max_notebook_bytes:  # bounded, whatever st_size said
                chunk = os.read(fd, min(1 << 20, self.max_notebook_bytes + 1 - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
        except OSError as exc:
            self.refuse(relpath, f"could not be read ({os.strerror(exc.errno or 0)})")
            return
        finally:
            os.close(fd)
        data = b"".join(chunks)
        if len(data) > self.max_notebook_bytes:
            self.refuse(relpath, f"is over the limit of {_megabytes(self.max_notebook_bytes)} per notebook")
            return
        if self.total + len(data) > self.max_total_bytes:
            self.refuse(relpath, f"was not read: the notebooks together are over the limit of "
                                 f"{_megabytes(self.max_total_bytes)}")
            return
        problem = _notebook_problem(data)
        if problem:
            self.refuse(relpath, f"is not a valid notebook ({problem}): open it in Jupyter, save it "
                                 "and upload it again")
            return
        self.total += len(data)
        self.found.setdefault(name, []).append((relpath, data))

    def walk(self, dir_fd: int, prefix: str, depth: int) -> None:
        """Look at every entry of the folder ``dir_fd`` (``prefix`` within the submission)."""
        names = []
        with os.scandir(dir_fd) as it:
            for entry in it:
                self.entries += 1
                if self.entries > self.max_entries:
                    raise _WalkLimit(f"the submission holds more than {self.max_entries} files and folders: "
                                     "upload only your notebooks")
                names.append(entry.name)
        for name in sorted(names):
            if name.startswith("."):
                continue
            relpath = prefix + name
            if not name.isprintable():
                self.refuse(relpath, "has unprintable characters in its name: rename it")
                continue
            try:
                mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
            except OSError as exc:
                self.refuse(relpath, f"could not be read ({os.strerror(exc.errno or 0)})")
                continue
            if stat.S_ISDIR(mode):
                if name.endswith(".ipynb"):
                    self.refuse(relpath, f"is a folder, not a notebook: {ONLY_REGULAR}")
                else:
                    self.enter(dir_fd, name, relpath, depth + 1)
            elif stat.S_ISREG(mode):
                if name.endswith(".ipynb"):
                    self.read_file(dir_fd, name, relpath)
            else:  # links, FIFOs, devices, sockets: never opened, whatever their name
                self.refuse(relpath, f"is {_kind(mode)}: {ONLY_REGULAR}")

    def enter(self, parent_fd: int, name: str, relpath: str, depth: int) -> None:
        """Walk the subfolder ``name`` of ``parent_fd``, opened without following a link."""
        if depth > self.max_depth:
            raise _WalkLimit(f"the submission has folders nested more than {self.max_depth} deep: "
                             "upload only your notebooks")
        try:
            fd = os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):  # replaced by a link or a file meanwhile
                self.refuse(relpath, f"is not a folder any more: {ONLY_REGULAR}")
            else:
                self.refuse(relpath, f"could not be read ({os.strerror(exc.errno or 0)})")
            return
        try:
            self.walk(fd, relpath + "/", depth)
        except OSError as exc:  # an unreadable folder costs that folder only
            self.refuse(relpath, f"could not be read ({os.strerror(exc.errno or 0)})")
        finally:
            os.close(fd)

    def result(self) -> Intake:
        """The notebooks found once each, and every reason (a missing notebook says so)."""
        notebooks, locations = {}, {}
        for name in sorted(self.found):
            copies = self.found[name]
            if len(copies) > 1:
                places = ", ".join(_show(relpath) for relpath, _ in copies)
                self.reasons.append(f"{_show(name)} appears {len(copies)} times ({places}): upload one copy only")
                continue
            locations[name], notebooks[name] = copies[0]
        if not notebooks and not self.reasons:
            self.reasons.append("no notebook (.ipynb) was found in the submission")
        return _intake(notebooks, locations, self.reasons)


def _intake(notebooks: dict[str, bytes], locations: dict[str, str], reasons: list[str]) -> Intake:
    if len(reasons) > MAX_REASONS:
        reasons = [*reasons[: MAX_REASONS - 1], f"... and {len(reasons) - MAX_REASONS + 1} more refused"]
    return Intake(notebooks, locations, reasons)


def read_submission(path: str | Path, *, max_notebook_bytes: int = MAX_NOTEBOOK_BYTES,
                    max_total_bytes: int = MAX_TOTAL_BYTES, max_depth: int = MAX_DEPTH,
                    max_entries: int = MAX_ENTRIES) -> Intake:
    """Read the notebooks of the submission at ``path`` (a notebook or a folder); see the module's contract.

    Raises:
        FileNotFoundError: ``path`` does not exist.
    """
    path = Path(path)
    reader = _Reader(max_notebook_bytes, max_total_bytes, max_depth, max_entries)
    mode = os.lstat(path).st_mode  # FileNotFoundError: the grader's error, not the student's
    name = path.name
    if stat.S_ISLNK(mode):
        return _intake({}, {}, [f"the submission {_show(name)} is a symbolic link: {ONLY_REGULAR}"])
    if stat.S_ISREG(mode):
        if not name.endswith(".ipynb"):
            return _intake({}, {}, [f"{_show(name)} is not a notebook (.ipynb)"])
        parent_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)  # the grader's folder
        try:
            reader.read_file(parent_fd, name, name)
        finally:
            os.close(parent_fd)
        return reader.result()
    if not stat.S_ISDIR(mode):
        return _intake({}, {}, [f"the submission {_show(name)} is {_kind(mode)}: {ONLY_REGULAR}"])
    try:
        fd = os.open(path, _DIR_FLAGS)
    except OSError as exc:
        return _intake({}, {}, [f"the submission could not be read ({os.strerror(exc.errno or 0)})"])
    try:
        reader.walk(fd, "", 0)
    except _WalkLimit as limit:
        return _intake({}, {}, [str(limit)])
    except OSError as exc:
        return _intake({}, {}, [f"the submission could not be read ({os.strerror(exc.errno or 0)})"])
    finally:
        os.close(fd)
    return reader.result()

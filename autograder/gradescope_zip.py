"""Build the Gradescope autograder zip: setup.sh, run_autograder and what grading needs, nothing else.

Gradescope unpacks the zip into ``/autograder/source``, runs ``setup.sh`` once when building the
image, and ``run_autograder`` for every submission (notebooks in ``/autograder/submission``,
results expected in ``/autograder/results/results.json``). ``$AUTOGRADER_ROOT`` replaces
``/autograder`` (CI runs both scripts in a fake layout) and ``$AUTOGRADER_ARGS`` adds options.

The zip is built from an **allow-list** (:data:`ALLOWED`): the grader's and dlcore's Python
source, the reference notebooks ``solutions/*.ipynb``, ``requirements-grader.txt`` and
``pyproject.toml``. Nothing else of the checkout goes in, whatever lies there: not the course
folder ``autograder/course/`` (gradebook, submissions, feedback, hidden results), nor ``.venv/``,
``data/``, ``out/``, tests, caches, notes or the nbgrader tooling. In a git checkout only tracked
files are candidates (an untracked draft notebook in ``solutions/`` would change the reference).
A symbolic link, or anything but a regular file, where an allowed file should be stops the build
(:class:`ZipRefused`): its target could be anything on the instructor's machine.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import zipfile
from collections.abc import Iterable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: Every file of the zip besides the two scripts: ``{folder: pattern of a file name in it}``, relative
#: to the checkout (``""`` is its root). Files of these folders only, not of their subfolders: a
#: folder not named here (a new subpackage, the course folder ``autograder/course/``, the
#: instructor tooling ``autograder/instructor/``) contributes nothing.
ALLOWED: dict[str, str] = {
    "": r"requirements-grader\.txt|pyproject\.toml",
    "dlcore": r"[A-Za-z0-9_]+\.py",  # the library students get; the sandbox copies it into the box
    "dlcore/data": r"[A-Za-z0-9_]+\.py",
    "autograder": r"[A-Za-z0-9_]+\.py",  # the grader, minus the nbgrader tooling (EXCLUDED)
    "autograder/checks": r"[A-Za-z0-9_]+\.py",
    "autograder/sandbox": r"[A-Za-z0-9_]+\.py",
    "solutions": r"[A-Za-z0-9_]+\.ipynb",  # the reference the grader runs
}
#: Allowed by a pattern above, yet left out: instructor-only nbgrader tooling.
EXCLUDED: frozenset[str] = frozenset({"autograder/course.py", "autograder/nbgrader_config.py"})

_ALLOWED = {folder: re.compile(pattern) for folder, pattern in ALLOWED.items()}
# A fixed timestamp and fixed modes: the same checkout gives the same zip, byte for byte.
_DATE = (1980, 1, 1, 0, 0, 0)

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (its default image is
# Ubuntu 22.04, whose python3 is 3.10). Reproducible: requirements-grader.txt pins every package
# exactly; they are installed without resolving anything else (--no-deps), and `pip check` fails
# if the set is incomplete.
# $AUTOGRADER_ROOT replaces /autograder; $PYTHON picks the interpreter (default: python3, which
# apt installs here); SKIP_APT=1 skips apt-get (python3-venv and bubblewrap must then be there).
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
cd "$ROOT/source"
if [ "${SKIP_APT:-0}" != 1 ]; then
    # python3-venv: the grader's venv; bubblewrap (bwrap) and util-linux (unshare, setpriv): the sandbox
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \\
        python3 python3-venv bubblewrap util-linux ca-certificates > /dev/null
fi
PYTHON="${PYTHON:-python3}"
"$PYTHON" -c 'import sys; v = sys.version_info[:2]; (3, 10) <= v <= (3, 13) or sys.exit(
    "setup.sh: Python %d.%d is not one of 3.10 to 3.13, the versions requirements-grader.txt is checked on" % v)'
"$PYTHON" -m venv "$ROOT/venv"
PIP=("$ROOT/venv/bin/python" -m pip --disable-pip-version-check --no-input)
"${PIP[@]}" install --quiet --no-deps -r requirements-grader.txt
"${PIP[@]}" install --quiet --no-deps --no-build-isolation .
"${PIP[@]}" check
"$ROOT/venv/bin/python" -m dlcore data fetch   # MNIST into source/data/mnist, SHA-256 verified
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Runs for every submission. The grader writes its results atomically, whatever the student's code
# does. results.json is handed to Gradescope only when the submission was graded: when the grader
# could not grade it (exit status 3: the machine was too busy, retry; 4: the sandbox cannot start;
# 1: the grader failed), Gradescope shows that the autograder failed and records no score, so the
# staff regrade it; a zero is never recorded for the grader's trouble.
set -uo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PYTHON="${PYTHON:-$ROOT/venv/bin/python}"
cd "$ROOT/source"
"$PYTHON" -m autograder grade "$ROOT/submission" --results "$ROOT/results/.graded.json" --format text \\
    ${AUTOGRADER_ARGS:-}
status=$?
if [ "$status" -eq 0 ]; then
    mv "$ROOT/results/.graded.json" "$ROOT/results/results.json"
fi
exit "$status"
"""

#: The zip's two scripts, written by this module (not files of the checkout).
SCRIPTS: dict[str, str] = {"setup.sh": SETUP_SH, "run_autograder": RUN_AUTOGRADER}


class ZipRefused(Exception):
    """The checkout holds something where an allowed file should be that must not be packed."""


def is_allowed(relpath: str) -> bool:
    """Whether the file at ``relpath`` (relative to the checkout, ``/``-separated) belongs in the zip."""
    folder, _, name = relpath.rpartition("/")
    pattern = _ALLOWED.get(folder)
    return pattern is not None and pattern.fullmatch(name) is not None and relpath not in EXCLUDED


def _is_git_checkout(root: Path) -> bool:
    return (root / ".git").exists() and shutil.which("git") is not None


def _candidates(root: Path) -> Iterable[str]:
    """Paths relative to ``root``: git's tracked files in a git checkout, else every file found
    by a walk that never enters a symbolically linked folder."""
    if _is_git_checkout(root):
        out = subprocess.run(["git", "-C", str(root), "ls-files", "-z", "--cached"], check=True,
                             capture_output=True).stdout
        yield from (name for name in out.decode("utf-8", "surrogateescape").split("\0") if name)
        return
    for folder, dirs, files in os.walk(root):  # followlinks=False: a linked folder is listed, not entered
        rel = Path(folder).relative_to(root)
        yield from ((rel / name).as_posix() for name in dirs + files)


def _read_regular(root: Path, relpath: str) -> bytes | None:
    """The bytes of ``root/relpath``, opened without following links; None when it does not exist.

    Raises :class:`ZipRefused` when the path, or a folder on its way, is a symbolic link, or when
    it is not a regular file.
    """
    parts = relpath.split("/")
    for i in range(1, len(parts) + 1):
        here = root.joinpath(*parts[:i])
        try:
            st = os.lstat(here)
        except FileNotFoundError:
            return None  # tracked by git but deleted in the working tree: not shipped
        if stat.S_ISLNK(st.st_mode):
            raise ZipRefused(f"{'/'.join(parts[:i])} is a symbolic link: the zip takes regular files only")
    fd = os.open(root / relpath, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ZipRefused(f"{relpath} is not a regular file: the zip takes regular files only")
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read()
    finally:
        os.close(fd)


def zip_members(root: Path = REPO) -> dict[str, bytes]:
    """What the zip holds, ``{path in the zip: bytes}``, read from the checkout at ``root``."""
    for folder in filter(None, ALLOWED):
        if (root / folder).is_symlink():
            raise ZipRefused(f"{folder} is a symbolic link: the zip takes regular files only")
    members = {name: text.encode() for name, text in SCRIPTS.items()}
    for relpath in sorted(set(_candidates(root))):
        if not is_allowed(relpath):
            continue
        data = _read_regular(root, relpath)
        if data is not None:
            members[relpath] = data
    missing = [p for p in ("requirements-grader.txt", "pyproject.toml", "autograder/grade.py") if p not in members]
    if missing or not any(name.startswith("solutions/") for name in members):
        hint = " (in a git checkout only tracked files are packed: git add them)" if _is_git_checkout(root) else ""
        raise ZipRefused(f"{root}: missing {', '.join(missing) or 'solutions/*.ipynb'}{hint}")
    return members


def build_zip(out: Path, root: Path = REPO) -> Path:
    """Write the zip of the checkout at ``root`` to ``out`` (the same bytes for the same checkout)."""
    members = zip_members(root)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for name in sorted(members):
            info = zipfile.ZipInfo(name, date_time=_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            mode = 0o755 if name in SCRIPTS else 0o644  # the scripts run once unpacked
            info.external_attr = (stat.S_IFREG | mode) << 16
            z.writestr(info, members[name])
    os.replace(tmp, out)
    return out

"""Run nbgrader's own commands (as subprocesses) in a course folder, with the course's environment.

The kernel that executes notebooks is the ``python3`` kernel of the interpreter running nbgrader:
jupyter_client replaces the kernelspec's ``python`` by ``sys.executable``, so the ipykernel of this
environment (``.venv`` in CI) is used whatever ``jupyter kernelspec list`` shows elsewhere.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .layout import REPO, Course


class NbgraderError(RuntimeError):
    """An nbgrader command exited with a non-zero status."""


def nbgrader_env(quick: bool = True, term: Path | None = None) -> dict[str, str]:
    """The environment for nbgrader and its kernels.

    ``DLCORE_QUICK=1`` (unless already set) shortens the ``long-running`` MNIST cells while grading;
    the MNIST error targets are graded separately. This repository goes first on ``PYTHONPATH`` so
    that the kernels import its ``dlcore``, and the interpreter's ``bin/`` first on ``PATH``:
    nbgrader runs ``alembic`` from there to open the gradebook, even when the environment
    (``.venv``) is not activated. ``term``: the term file nbgrader's late-penalty plugin reads
    (``$DLCORE_TERM``).
    """
    from .late import TERM_ENV

    env = dict(os.environ)
    if term is not None:
        env[TERM_ENV] = str(term)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), *filter(None, [env.get("PATH")])])
    if quick:
        env.setdefault("DLCORE_QUICK", "1")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    return env


def run_nbgrader(course: Course, *args: str, quiet: bool = False, check: bool = True) -> subprocess.CompletedProcess:
    """``nbgrader ARGS`` in ``course.root`` (whose ``nbgrader_config.py`` loads the course's config);
    ``quiet`` captures its output; ``check`` raises :class:`NbgraderError` when it fails."""
    command = [sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={course.root}"]
    result = subprocess.run(command, cwd=course.root, env=nbgrader_env(term=course.term), text=True,
                            capture_output=quiet, check=False)
    if check and result.returncode != 0:
        detail = f"\n{result.stdout}{result.stderr}" if quiet else ""
        raise NbgraderError(f"`nbgrader {' '.join(args)}` failed with status {result.returncode}{detail}")
    return result


def generate_assignment(course: Course, database: bool = True, quiet: bool = False) -> list[Path]:
    """Copy the sources in and run ``nbgrader generate_assignment``; the released notebooks."""
    course.prepare()
    args = ["generate_assignment", course.assignment, "--force"] + ([] if database else ["--no-db"])
    run_nbgrader(course, *args, quiet=quiet)
    return course.released()

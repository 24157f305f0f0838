"""Driving a temporary nbgrader course through ``python -m autograder``, and reading its gradebook."""

from __future__ import annotations

import hashlib
import html
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat

from autograder.instructor.layout import ASSIGNMENT
from autograder.instructor.nbgrader_run import nbgrader_env
from helpers import REPO


def course_cli(course: Path, *args: str, check: bool = True, term: Path | None = None,
               solutions: Path | None = None) -> subprocess.CompletedProcess:
    """``python -m autograder --quiet --course COURSE [--term T] [--solutions S] ARGS``; asserts success
    unless ``check`` is False."""
    options = [*(["--term", str(term)] if term else []), *(["--solutions", str(solutions)] if solutions else [])]
    command = [sys.executable, "-m", "autograder", "--quiet", "--course", str(course), *options, *args]
    result = subprocess.run(command, cwd=REPO, env=nbgrader_env(), capture_output=True, text=True, check=False)
    if check:
        assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result


def cell(nb: nbformat.NotebookNode, grade_id: str) -> nbformat.NotebookNode:
    """The cell of ``nb`` whose nbgrader grade_id is ``grade_id``."""
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def graded_test_cells(path: Path) -> dict[tuple[str, str], float]:
    """(notebook, grade_id) -> points of the autograded test cells of a source notebook."""
    cells = {}
    for c in nbformat.read(path, as_version=4).cells:
        meta = c.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            cells[path.stem, meta["grade_id"]] = float(meta["points"])
    return cells


def grades(course: Path, student: str) -> dict[tuple[str, str], tuple[float | None, float | None, float, bool]]:
    """(notebook, grade_id) -> (auto_score, manual_score, score, needs_manual_grade) of each code grade cell."""
    from nbgrader.api import Gradebook

    out = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for notebook in gb.find_submission(ASSIGNMENT, student).notebooks:
            for grade in notebook.grades:
                if grade.cell.cell_type == "code":
                    out[notebook.name, grade.name] = (grade.auto_score, grade.manual_score, grade.score,
                                                      grade.needs_manual_grade)
    return out


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts = []

    def handle_data(self, data):
        self.parts.append(data)


def html_text(path: Path) -> str:
    """The text of an HTML page, entities decoded."""
    parser = _Text()
    parser.feed(path.read_text())
    return html.unescape("".join(parser.parts))


def digest(folder: Path) -> dict[str, str]:
    """Name -> SHA-256 of the notebooks of ``folder``."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.ipynb"))}

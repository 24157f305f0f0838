"""Build the nbgrader source notebooks ``solutions/*.ipynb`` from ``solutions/src/*.py``.

The sources are Jupytext "percent" scripts: readable diffs, lintable code, no hand-edited JSON.
A cell header carries short metadata that this module expands into nbgrader's schema:

* ``kind="solution" grade_id=ID``: autograded answer code (``### BEGIN/END SOLUTION`` inside);
* ``kind="tests" grade_id=ID``: the visible tests of an autograded part, locked. Its points are
  not written in the source: they are the sum of the points of the hidden checks that score this
  cell (``autograder/checks``), so that nbgrader's gradebook and the headless grader agree;
* ``kind="answer" grade_id=ID points=P``: manually graded answer (markdown);
* ``kind="readonly" grade_id=ID``: locked, ungraded;
* ``tags=[...]``: kept as is (``long-running`` marks cells that train).

Markdown may quote the course's numbers from :mod:`dlcore.course` as ``{NOTEBOOK_TARGET_ERRORS[mlp]}``
(any name of that module, indexed or not): the build writes the value.

``python -m autograder build`` writes the notebooks; ``--check`` exits 1 if any committed notebook
differs from what the sources give.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import jupytext
import nbformat

from autograder.instructor.layout import SOLUTIONS

SOURCES = SOLUTIONS / "src"

_NBGRADER = {
    "solution": {"grade": False, "solution": True, "locked": False},
    "tests": {"grade": True, "solution": False, "locked": True},
    "answer": {"grade": True, "solution": True, "locked": False},
    "readonly": {"grade": False, "solution": False, "locked": True},
}


def cell_points() -> dict[tuple[str, str], float]:
    """(notebook, grade_id) -> points of every autograded test cell: the sum of its checks' points."""
    from autograder.checks import all_checks

    points: dict[tuple[str, str], float] = {}
    for check in all_checks():
        points[check.cell] = points.get(check.cell, 0.0) + check.points
    return points


_QUOTE = re.compile(r"\{([A-Z][A-Z_]*)(?:\[(\w+)\])?\}")


def course_numbers(text: str) -> str:
    """``text`` with every ``{NAME}`` or ``{NAME[key]}`` of :mod:`dlcore.course` replaced by its value."""
    import dlcore.course as course

    def value(match: re.Match) -> str:
        obj = getattr(course, match.group(1), None)
        if obj is None:
            return match.group(0)
        v = obj[match.group(2)] if match.group(2) else obj
        return f"{v:,}" if isinstance(v, int) else str(v)

    return _QUOTE.sub(value, text)


def build_notebook(source: Path, stem: str | None = None) -> nbformat.NotebookNode:
    """The nbgrader source notebook that ``source`` describes, with stable cell ids (``stem``: the
    notebook's name, for the points of its test cells; default the source's)."""
    stem = stem or source.stem
    points_of = cell_points()
    nb = jupytext.read(source, fmt="py:percent")
    cells = []
    for index, cell in enumerate(nb.cells, start=1):
        meta = dict(cell.metadata)
        kind, grade_id, points = meta.pop("kind", None), meta.pop("grade_id", None), meta.pop("points", None)
        metadata = {"tags": meta["tags"]} if meta.get("tags") else {}
        if kind is not None:
            if kind not in _NBGRADER or grade_id is None:
                raise ValueError(f"{source.name}, cell {index}: kind must be one of {sorted(_NBGRADER)} "
                                 "and needs a grade_id")
            nbgrader = {**_NBGRADER[kind], "grade_id": grade_id, "schema_version": 3}
            if kind == "tests":
                if points is not None:
                    raise ValueError(f"{source.name}, cell {index}: a tests cell's points come from the checks "
                                     "that score it (autograder/checks), not from the source")
                if (stem, grade_id) not in points_of:
                    raise ValueError(f"{source.name}, cell {index}: no hidden check scores the tests cell {grade_id}: "
                                     "add checks for it (autograder/checks) or make it a readonly cell")
                nbgrader["points"] = points_of[stem, grade_id]
            elif nbgrader["grade"]:
                if points is None:
                    raise ValueError(f"{source.name}, cell {index}: graded cell {grade_id} needs points")
                nbgrader["points"] = points
            metadata["nbgrader"] = nbgrader
        make = nbformat.v4.new_code_cell if cell.cell_type == "code" else nbformat.v4.new_markdown_cell
        text = course_numbers(cell.source) if cell.cell_type == "markdown" else cell.source
        new = make(source=text, metadata=metadata)
        new["id"] = grade_id or f"cell-{index}"
        cells.append(new)
    notebook = nbformat.v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    })
    nbformat.validate(notebook)
    return notebook


def target(source: Path) -> Path:
    return SOLUTIONS / f"{source.stem}.ipynb"


def build(check: bool = False, log=print) -> list[str]:
    """Write ``solutions/*.ipynb`` from the sources; with ``check``, write nothing and return the
    names of the committed notebooks that differ from what the sources give."""
    stale = []
    for source in sorted(SOURCES.glob("*.py")):
        text = nbformat.writes(build_notebook(source)) + "\n"
        path = target(source)
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(path.name)
        else:
            path.write_text(text)
            log(f"wrote {path.relative_to(SOLUTIONS.parent)}")
    if stale:
        print(f"stale notebooks: {', '.join(stale)}: run `python -m autograder build`", file=sys.stderr)
    return stale

"""Build the nbgrader source notebooks ``solutions/*.ipynb`` from ``solutions/src/*.py``.

The sources are Jupytext "percent" scripts: readable diffs, lintable code, no hand-edited JSON.
A cell header carries short metadata that this script expands into nbgrader's schema:

* ``kind="solution" grade_id=ID``: autograded answer code (``### BEGIN/END SOLUTION`` inside);
* ``kind="tests" grade_id=ID points=P``: autograder tests, locked;
* ``kind="answer" grade_id=ID points=P``: manually graded answer (markdown);
* ``kind="readonly" grade_id=ID``: locked, ungraded;
* ``tags=[...]``: kept as is (``long-running`` marks cells that train).

Usage: ``python solutions/build.py`` writes the notebooks; ``--check`` exits 1 if any committed
notebook differs from what the sources give.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jupytext
import nbformat

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "src"

_NBGRADER = {
    "solution": {"grade": False, "solution": True, "locked": False},
    "tests": {"grade": True, "solution": False, "locked": True},
    "answer": {"grade": True, "solution": True, "locked": False},
    "readonly": {"grade": False, "solution": False, "locked": True},
}


def build_notebook(source: Path) -> nbformat.NotebookNode:
    """The nbgrader source notebook that ``source`` describes, with stable cell ids."""
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
            if nbgrader["grade"]:
                if points is None:
                    raise ValueError(f"{source.name}, cell {index}: graded cell {grade_id} needs points")
                nbgrader["points"] = points
            metadata["nbgrader"] = nbgrader
        make = nbformat.v4.new_code_cell if cell.cell_type == "code" else nbformat.v4.new_markdown_cell
        new = make(source=cell.source, metadata=metadata)
        new["id"] = grade_id or f"cell-{index}"
        cells.append(new)
    notebook = nbformat.v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    })
    nbformat.validate(notebook)
    return notebook


def target(source: Path) -> Path:
    return HERE / f"{source.stem}.ipynb"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a committed notebook is stale")
    args = parser.parse_args(argv)
    stale = []
    for source in sorted(SOURCES.glob("*.py")):
        text = nbformat.writes(build_notebook(source)) + "\n"
        path = target(source)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(path.name)
        else:
            path.write_text(text)
            print(f"wrote {path.relative_to(HERE.parent)}")
    if stale:
        print(f"stale notebooks: {', '.join(stale)}: run `python solutions/build.py`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""solutions/*.ipynb are exactly what solutions/build.py makes from solutions/src/."""

import subprocess
import sys
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]


def test_solution_notebooks_are_fresh():
    result = subprocess.run([sys.executable, str(REPO / "solutions" / "build.py"), "--check"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_solution_notebooks_have_no_outputs_and_valid_nbgrader_metadata():
    for path in sorted((REPO / "solutions").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        ids = []
        for cell in nb.cells:
            assert cell.cell_type == "markdown" or not cell.outputs, f"{path.name} has outputs"
            meta = cell.metadata.get("nbgrader")
            if meta:
                ids.append(meta["grade_id"])
                if meta["solution"] and cell.cell_type == "code":
                    assert "### BEGIN SOLUTION" in cell.source
        assert len(ids) == len(set(ids)), f"{path.name} repeats a grade_id"

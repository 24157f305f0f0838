"""solutions/*.ipynb are exactly what `python -m autograder build` makes from solutions/src/, and each
tests cell is worth what its hidden checks are."""

import subprocess
import sys

import nbformat
from helpers import REPO


def test_solution_notebooks_are_fresh():
    result = subprocess.run([sys.executable, "-m", "autograder", "build", "--check"], cwd=REPO,
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


def test_every_tests_cell_is_worth_its_checks_and_every_check_scores_a_cell():
    from autograder.checks import all_checks
    from autograder.instructor.build import cell_points

    points = cell_points()
    cells = {}
    for path in sorted((REPO / "solutions").glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade") and not meta.get("solution"):
                cells[path.stem, meta["grade_id"]] = meta["points"]
    assert cells == points  # the same cells, the same points
    assert {c.cell for c in all_checks()} == set(cells)
    assert sum(points.values()) == sum(c.points for c in all_checks()) == 150

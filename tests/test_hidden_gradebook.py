"""One score per part: the hidden autograder's verdicts in nbgrader's gradebook.

The map (autograder/instructor/hidden_map.py) must cover every autograded test cell of
solutions/*.ipynb and every hidden test exactly once. End to end, in a temp course: the solutions
and a mutant that fools nbgrader's test cells (its Linear.bprop halves grad_b, then replaces
``np.allclose`` and ``gradcheck`` in the kernel by functions that always pass) are collected,
autograded (which imports the hidden scores, ``--no-mnist``), given feedback and exported.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from autograder.instructor.hidden_map import HIDDEN_MAP, MARKER, NBGRADER_ONLY, derive  # noqa: E402
from autograder.instructor.hidden_scores import autograded_cells  # noqa: E402
from autograder.instructor.layout import ASSIGNMENT, SOLUTIONS, source_notebooks  # noqa: E402
from tests.test_nbgrader_workflow import (  # noqa: E402
    course_cli,
    grade_submissions,
    graded_test_cells,
    grades,
    html_text,
    replace_cell,
)

CHEAT = '''        import types
        np.allclose = lambda *args, **kwargs: True  # nbgrader's value asserts now always pass
        globals()["gradcheck"] = lambda *args, **kwargs: types.SimpleNamespace(passed=True)
        self.grad_W = self.z.T @ grad_output
        self.grad_b = 0.5 * grad_output.sum(axis=0)'''
HONEST = '''        self.grad_W = self.z.T @ grad_output
        self.grad_b = grad_output.sum(axis=0)'''
FOOLED = {("01_modules", "test_linear_bprop"), ("01_modules", "test_linear_gradcheck")}
MNIST_CELLS = {("03_training", "test_targets"), ("04_cnn", "test_cnn_target")}


def hidden_test_names() -> list[str]:
    from autograder.checks import table
    from autograder.grade import reference

    _, checks = table(reference(str(SOLUTIONS.resolve())), Path("no-mnist-needed"))  # MNIST checks included
    return [c.name for c in checks]


def test_map_covers_every_test_cell_once():
    cells = {key for path in source_notebooks() for key in graded_test_cells(path)}
    assert not set(HIDDEN_MAP) & set(NBGRADER_ONLY), "a cell is both mapped and nbgrader-only"
    listed = set(HIDDEN_MAP) | set(NBGRADER_ONLY)
    assert cells - listed == set(), f"test cells missing from hidden_map.py: {sorted(cells - listed)}"
    assert listed - cells == set(), f"hidden_map.py names cells that do not exist: {sorted(listed - cells)}"
    assert {(c.notebook, c.grade_id) for c in autograded_cells(SOLUTIONS)} == cells


def test_map_names_every_hidden_test_once():
    names = hidden_test_names()
    mapped = [name for tests in HIDDEN_MAP.values() for name in tests]
    unknown = sorted(set(mapped) - set(names))
    assert not unknown, f"hidden_map.py names tests the hidden suite does not have: {unknown}"
    twice = sorted({n for n in mapped if mapped.count(n) > 1})
    assert not twice, f"hidden tests mapped to two cells: {twice}"
    assert sorted(set(names) - set(mapped)) == [], "hidden tests that score no nbgrader cell"


def test_derive_mnist_targets():
    """The MNIST case without training: the MLP target fails (e.g. Tanh broken), the linear one passes."""
    names = HIDDEN_MAP["03_training", "test_targets"]
    results = {"tests": [{"name": names[0], "score": 10.0, "max_score": 10.0, "status": "passed", "output": ""},
                         {"name": names[1], "score": 0.0, "max_score": 10.0, "status": "failed",
                          "output": "your mlp model makes 8000 errors"}]}
    score, note = derive(2.0, names, results)
    assert score == 1.0 and "1/2 hidden tests" in note and "8000 errors" in note
    assert derive(2.0, names, {"tests": []}) is None  # --no-mnist: nbgrader's score stands


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hidden")
    course, release, subs = tmp / "course", tmp / "release", tmp / "submissions"
    course_cli(course, "release", "--out", str(release))
    for student in ("solution", "mutant"):
        (subs / student).mkdir(parents=True)
        for path in source_notebooks():
            (subs / student / path.name).write_bytes(path.read_bytes())
    nb_path = subs / "mutant" / "01_modules.ipynb"
    nb = nbformat.read(nb_path, as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "linear")
    assert HONEST in cell.source
    cell.source = cell.source.replace(HONEST, CHEAT)
    nbformat.write(nb, nb_path)
    # A part only nbgrader grades, left as the stub: nbgrader's 0 must stand.
    replace_cell(subs / "mutant" / "02_gradcheck.ipynb", "max_mixed_error", release / "02_gradcheck.ipynb")
    log, rows = grade_submissions(course, subs, tmp / "grades.csv")
    return {"course": course, "rows": rows, "log": log}


def test_solution_keeps_every_point(graded):
    points = {key: pts for path in source_notebooks() for key, pts in graded_test_cells(path).items()}
    got = grades(graded["course"], "solution")
    assert {key: score for key, (_a, _m, score) in got.items()} == points
    assert float(graded["rows"]["solution"]["score"]) == sum(points.values())
    assert "imported solution: hidden autograder 122/122" in graded["log"]  # core 80 + bonus 42, no MNIST


def test_mutant_gets_the_hidden_suites_score(graded):
    course = graded["course"]
    points = {key: pts for path in source_notebooks() for key, pts in graded_test_cells(path).items()}
    results = json.loads((course / "hidden" / "mutant.json").read_text())
    got = grades(course, "mutant")
    for key, pts in points.items():
        auto, manual, score = got[key]
        if key in NBGRADER_ONLY or key in MNIST_CELLS:  # --no-mnist: nbgrader's score
            assert manual is None and score == auto, key
        else:
            assert manual == derive(pts, HIDDEN_MAP[key], results)[0], key
        if key in FOOLED:
            assert auto == pts, f"{key}: nbgrader's own test cell should have been fooled"
            assert score < pts, f"{key}: the hidden suite's lower score should be the cell's score"
        elif key == ("02_gradcheck", "test_max_mixed_error"):
            assert score == auto == 0.0
        else:
            assert score == pts, f"{key}: a part the mutant does not touch keeps full points"
    assert got["01_modules", "test_linear_gradcheck"][2] == 0.0
    expected_total = sum(score for _a, _m, score in got.values())
    assert float(graded["rows"]["mutant"]["score"]) == pytest.approx(expected_total)
    assert expected_total < sum(points.values()) - 1  # max_mixed_error's 1 point and the Linear deficit

    # Feedback: the derived cell scores and totals, and the note explaining them.
    page = html_text(course / "feedback" / "mutant" / ASSIGNMENT / "01_modules.html")
    bprop = got["01_modules", "test_linear_bprop"][2]
    assert f"Score: {round(bprop, 2)} / 3.0" in page
    nb_total = sum(s for (nb, _g), (_a, _m, s) in got.items() if nb == "01_modules")
    assert f"(Score: {round(nb_total, 2)} /" in page.replace("\n", " ")
    assert MARKER.strip("*") in page and "test_linear_bprop" in page and "Linear.bprop: grad_b" in page


def test_import_hidden_alone_is_idempotent(graded):
    course = graded["course"]
    before = grades(course, "mutant")
    log = course_cli(course, "import-hidden", "--student", "mutant", "--no-mnist")
    assert log.startswith("imported mutant: hidden autograder")
    assert grades(course, "mutant") == before
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        comment = gb.find_comment("linear", "01_modules", ASSIGNMENT, "mutant").comment
    assert comment.count(MARKER) == 1  # the note is replaced, not appended again

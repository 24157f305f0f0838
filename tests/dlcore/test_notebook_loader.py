"""The notebook loader runs notebooks as "Run All" would: whole cells, each notebook in its own
namespace, test and long-running cells skipped; the grader's mode records failing cells and goes on."""

import nbformat
import pytest

import dlcore.notebook_loader as loader
from dlcore.notebook_loader import NotebookLoadError, load_implementation, load_notebook, run_notebook


def _notebook(path, cells):
    nb = nbformat.v4.new_notebook()
    for cell in cells:
        if isinstance(cell, str):
            cell = nbformat.v4.new_code_cell(cell)
        nb.cells.append(cell)
    nbformat.write(nb, path)
    return path


def _test_cell(source):
    return nbformat.v4.new_code_cell(source, metadata={"nbgrader": {
        "grade": True, "solution": False, "locked": True, "points": 1, "grade_id": "t", "schema_version": 3}})


def _given_cell(source):
    return nbformat.v4.new_code_cell(source, metadata={"nbgrader": {
        "grade": False, "solution": False, "locked": True, "grade_id": "g", "schema_version": 3}})


def test_skips_test_cells_and_long_running_cells(tmp_path):
    path = _notebook(tmp_path / "a.ipynb", [
        "import math\nSCALE = 2\n\ndef double(x):\n    return SCALE * x",
        _test_cell("raise AssertionError('a test cell must not run')"),
        nbformat.v4.new_code_cell("raise RuntimeError('training')", metadata={"tags": ["long-running"]}),
        nbformat.v4.new_markdown_cell("# not code"),
    ])
    module = load_notebook(path)
    assert module.double(3) == 6 and module.math.pi > 3


def test_runs_whole_cells_so_computed_constants_are_seen(tmp_path):
    """The graded functions may use what a given cell computes (EPS) and helpers built by expressions."""
    path = _notebook(tmp_path / "a.ipynb", [
        _given_cell("import numpy as np\nEPS = np.finfo(np.float64).eps\nprint('set up')"),
        "STEP = np.sqrt(EPS)\nTABLE = {k: k * STEP for k in range(3)}\n\ndef h(x):\n    return STEP * max(abs(x), 1)",
    ])
    module = load_notebook(path)
    assert module.h(10.0) == pytest.approx(10 * 2.0**-26) and module.TABLE[2] == 2 * module.STEP


def test_each_notebook_runs_in_its_own_namespace(tmp_path):
    _notebook(tmp_path / "01_a.ipynb", ["N = 1\n\ndef f():\n    return N", "def g():\n    return 'a'"])
    _notebook(tmp_path / "02_b.ipynb", ["N = 2\n\ndef g():\n    return N"])
    module = load_implementation(tmp_path)
    assert module.f() == 1  # f sees its own notebook's N, not 02's
    assert module.g() == 2  # the later notebook's g replaces the earlier one in the merged view


def test_a_failing_cell_is_named(tmp_path):
    path = _notebook(tmp_path / "nb.ipynb", ["import math", "import no_such_module_here"])
    expected = r"nb\.ipynb, cell 2 .*import no_such_module_here.*ModuleNotFound"
    with pytest.raises(NotebookLoadError, match=expected):
        load_notebook(path)


def test_a_syntax_error_is_named(tmp_path):
    path = _notebook(tmp_path / "nb.ipynb", ["def f(:\n    pass"])
    with pytest.raises(NotebookLoadError, match=r"cell 1 .*syntax error on line 1"):
        load_notebook(path)


def test_the_graders_mode_records_failing_cells_and_goes_on(tmp_path):
    path = _notebook(tmp_path / "nb.ipynb", ["A = 1", "def f(:\n    pass", "B = undefined_name",
                                            "import sys\nsys.exit(3)", _given_cell("raise ValueError('a demo')"),
                                            "C = A + 1"])
    loaded = run_notebook(path, stop_on_error=False)
    assert loaded.module.C == 2
    messages = [str(e) for e in loaded.errors]
    assert len(messages) == 4 and "syntax error" in messages[0] and "NameError" in messages[1]
    assert "SystemExit" in messages[2]
    assert [e.given for e in loaded.errors] == [False, False, False, True]


def test_magics_do_nothing_but_cell_magics_run_their_cell(tmp_path):
    path = _notebook(tmp_path / "nb.ipynb", ["%matplotlib inline\n!echo hello\nX = 1", "%%time\nY = X + 1"])
    module = load_notebook(path)
    assert module.X == 1 and module.Y == 2


def test_relative_paths_resolve_against_the_notebooks_folder(tmp_path):
    (tmp_path / "data.txt").write_text("42")
    _notebook(tmp_path / "01_a.ipynb", ["VALUE = int(open('data.txt').read())"])
    _notebook(tmp_path / "02_b.ipynb", ["from dlcore.notebook_loader import load_notebook\n"
                                        "part1 = load_notebook('01_a.ipynb')\nVALUE = part1.VALUE + 1"])
    module = load_notebook(tmp_path / "02_b.ipynb")
    assert module.VALUE == 43


def test_a_runaway_cell_is_interrupted_and_the_rest_still_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(loader, "CELL_CPU_SECONDS", 0.3)
    path = _notebook(tmp_path / "nb.ipynb", ["A = 1", "while True:\n    pass", "B = 2"])
    loaded = run_notebook(path, stop_on_error=False)
    assert loaded.module.B == 2 and "interrupted" in str(loaded.errors[0])


def test_a_nested_load_cannot_outlast_the_cell_that_loads_it(tmp_path, monkeypatch):
    monkeypatch.setattr(loader, "CELL_CPU_SECONDS", 5.0)
    monkeypatch.setattr(loader, "GIVEN_CELL_CPU_SECONDS", 0.3)
    _notebook(tmp_path / "01_a.ipynb", ["X = 1"])
    _notebook(tmp_path / "02_b.ipynb", [
        _given_cell("from dlcore.notebook_loader import load_notebook\npart1 = load_notebook('01_a.ipynb')\n"
                    "while True:\n    pass"),
        "Y = 2"])
    loaded = run_notebook(tmp_path / "02_b.ipynb", stop_on_error=False)
    assert loaded.module.Y == 2 and loaded.module.part1.X == 1 and loaded.errors[0].given


def test_the_jail_runs_a_loaded_notebook_once(tmp_path, monkeypatch):
    monkeypatch.setattr(loader, "REUSE_LOADED", True)
    monkeypatch.setattr(loader, "_LOADED", {})
    path = _notebook(tmp_path / "01_a.ipynb", ["import random\nR = random.random()"])
    assert load_notebook(path).R == load_notebook(path).R


def test_a_damaged_notebook_is_reported(tmp_path):
    (tmp_path / "bad.ipynb").write_text("{not json")
    with pytest.raises(NotebookLoadError, match="not a readable notebook"):
        load_notebook(tmp_path / "bad.ipynb")
    with pytest.raises(NotebookLoadError, match="no such notebook"):
        load_implementation(tmp_path / "missing.ipynb")
    (tmp_path / "empty").mkdir()
    with pytest.raises(NotebookLoadError, match="holds no notebooks"):
        load_implementation(tmp_path / "empty")


def test_tracebacks_show_the_cell_source(tmp_path):
    import traceback

    path = _notebook(tmp_path / "nb.ipynb", ["def f():\n    return 1 / 0"])
    module = load_notebook(path)
    with pytest.raises(ZeroDivisionError) as info:
        module.f()
    assert "return 1 / 0" in "".join(traceback.format_tb(info.tb))


def test_loads_the_reference_solutions(reference):
    for name in ("Linear", "Tanh", "SoftMax", "CrossEntropy", "Conv2d", "build_cnn"):
        assert hasattr(reference, name)


def test_a_cell_that_waits_is_interrupted_by_its_wall_clock_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(loader, "CELL_CPU_SECONDS", 0.05)  # 20 × 0.05 = 1 s of wall clock
    path = _notebook(tmp_path / "nb.ipynb", ["import time\ntime.sleep(100)", "B = 2"])
    loaded = run_notebook(path, stop_on_error=False)
    assert loaded.module.B == 2 and "waited" in str(loaded.errors[0])

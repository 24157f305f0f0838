"""The notebook loader runs definitions only, skips test and long-running cells, names failing cells."""

import nbformat
import pytest

from dlcore.notebook_loader import NotebookLoadError, load_implementation, load_notebook


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


def test_skips_test_cells_and_long_running_cells(tmp_path):
    path = _notebook(tmp_path / "a.ipynb", [
        "import math\nSCALE = 2\n\ndef double(x):\n    return SCALE * x",
        _test_cell("raise AssertionError('a test cell must not run')"),
        nbformat.v4.new_code_cell("raise RuntimeError('training')", metadata={"tags": ["long-running"]}),
        nbformat.v4.new_markdown_cell("# not code"),
    ])
    module = load_notebook(path)
    assert module.double(3) == 6 and module.math.pi > 3


def test_runs_definitions_only(tmp_path):
    path = _notebook(tmp_path / "a.ipynb", [
        "%matplotlib inline\nclass A:\n    pass\nprint('side effect')\nA().missing()\nx = compute()",
        "for i in range(10**12):\n    pass",
    ])
    module = load_notebook(path)
    assert hasattr(module, "A") and not hasattr(module, "x")


def test_a_failing_cell_is_named(tmp_path):
    path = _notebook(tmp_path / "nb.ipynb", ["import math", "import no_such_module_here"])
    expected = r"nb\.ipynb, cell 2 .*import no_such_module_here.*ModuleNotFound"
    with pytest.raises(NotebookLoadError, match=expected):
        load_notebook(path)


def test_a_syntax_error_is_named(tmp_path):
    path = _notebook(tmp_path / "nb.ipynb", ["def f(:\n    pass"])
    with pytest.raises(NotebookLoadError, match=r"cell 1 .*syntax error on line 1"):
        load_notebook(path)


def test_a_damaged_notebook_is_reported(tmp_path):
    (tmp_path / "bad.ipynb").write_text("{not json")
    with pytest.raises(NotebookLoadError, match="not a readable notebook"):
        load_notebook(tmp_path / "bad.ipynb")
    with pytest.raises(NotebookLoadError, match="no such notebook"):
        load_implementation(tmp_path / "missing.ipynb")
    (tmp_path / "empty").mkdir()
    with pytest.raises(NotebookLoadError, match="holds no notebooks"):
        load_implementation(tmp_path / "empty")


def test_a_folder_loads_in_name_order(tmp_path):
    _notebook(tmp_path / "01_a.ipynb", ["def f():\n    return 1"])
    _notebook(tmp_path / "02_b.ipynb", ["def g():\n    return f() + 1"])
    module = load_implementation(tmp_path)
    assert module.g() == 2


def test_tracebacks_show_the_cell_source(tmp_path):
    import traceback

    path = _notebook(tmp_path / "nb.ipynb", ["def f():\n    return 1 / 0"])
    module = load_notebook(path)
    with pytest.raises(ZeroDivisionError) as info:
        module.f()
    assert "return 1 / 0" in "".join(traceback.format_tb(info.tb))


def test_loads_the_reference_solutions(reference):
    for name in ("Linear", "Tanh", "SoftMax", "CrossEntropy"):
        assert hasattr(reference, name)

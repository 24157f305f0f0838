"""dlcore.notebook_errors: an unwritten stub shows one friendly line, other errors keep their traceback."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

STUB = 'raise NotImplementedError("not written yet: replace this line with your code")'


@pytest.fixture
def shell():
    shell = InteractiveShell.instance()
    shell.run_cell("from dlcore import friendly_errors; friendly_errors()")
    yield shell
    shell.set_custom_exc((), None)


def run(shell: InteractiveShell, source: str):
    with capture_output() as captured:
        result = shell.run_cell(textwrap.dedent(source))
    return result, captured.stdout + captured.stderr


def test_a_stub_method_shows_one_line_and_the_cell_fails(shell):
    run(shell, f"""
        class Linear:
            def fprop(self, z):
                # YOUR CODE HERE
                {STUB}
        """)
    result, text = run(shell, "Linear().fprop(1.0)")
    assert not result.success and isinstance(result.error_in_exec, NotImplementedError)
    assert text.strip() == ("⚠ Linear.fprop is not written yet: write it in the cell that defines Linear, "
                            "run that cell, then this one.")
    assert "Traceback" not in text


def test_a_stub_function_and_a_missing_method_of_the_contract(shell):
    run(shell, f"def numerical_jacobian(f, x):\n    {STUB}")
    assert run(shell, "numerical_jacobian(abs, 1.0)")[1].startswith("⚠ numerical_jacobian is not written yet")
    run(shell, "from dlcore import Module\nclass Tanh(Module):\n    pass")
    text = run(shell, "Tanh().fprop(1.0)")[1]
    assert text.startswith("⚠ Tanh.fprop is not written yet") and "Traceback" not in text


def test_a_librarys_own_not_implemented_error_keeps_its_traceback(shell, tmp_path, monkeypatch):
    (tmp_path / "somelib.py").write_text("def api():\n    raise NotImplementedError('unsupported')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    result, text = run(shell, "import somelib\nsomelib.api()")
    assert not result.success
    assert "Traceback" in text and "unsupported" in text and "⚠" not in text


def test_outside_ipython_it_does_nothing():
    code = "from dlcore.notebook_errors import friendly_errors; import sys; friendly_errors(); " \
           "print('IPython' in sys.modules and sys.modules['IPython'].get_ipython() is not None)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_importing_dlcore_does_not_import_ipython():
    code = "import sys, dlcore; print('IPython' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"

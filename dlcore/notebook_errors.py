"""Friendlier errors in Jupyter: one line instead of a traceback for code that is not written yet.

In the student release every answer is a stub that raises ``NotImplementedError``. Running a test
before writing the answer would show a traceback wall through the test, the module contract and
the stub; what the student needs to know is which function is missing and where to write it.
:func:`friendly_errors` (called in each notebook's imports cell) makes IPython print that as one
line. The exception still fails the cell, so "Run All" stops there and nbgrader still counts the
test as failed.
"""

from __future__ import annotations

from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

# The base classes' fprop/bprop raise NotImplementedError when a subclass does not define them.
_CONTRACT = Path(__file__).with_name("module.py").resolve()
_LOADED_PREFIX = "<notebook "  # code names given by dlcore.notebook_loader: "<notebook NAME cell I>"


def _innermost_frame(tb: TracebackType) -> FrameType:
    while tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame


def _where(frame: FrameType) -> tuple[str, str | None]:
    """(what is missing, e.g. ``Linear.fprop``; the class or function a student must write)."""
    owner = frame.f_locals.get("self")
    name = frame.f_code.co_name
    if owner is not None:
        cls = type(owner).__name__
        return f"{cls}.{name}", cls
    return (name, name) if name != "<module>" else ("this cell", None)


def friendly_message(shell: Any, tb: TracebackType, again: str = "run this cell again") -> str | None:
    """The one-line message for a NotImplementedError raised at ``tb``, or None when it is not raised
    by notebook code (a library's own NotImplementedError keeps its full traceback). ``again`` says
    what to do once the code is written (the command line says "run the command again")."""
    frame = _innermost_frame(tb)
    filename = frame.f_code.co_filename
    missing, definer = _where(frame)
    if filename.startswith(_LOADED_PREFIX):  # part 3 loads part 1's classes from its notebook
        notebook = filename[len(_LOADED_PREFIX):].split(" cell ")[0]
        return (f"⚠ {missing} is not written yet in {notebook}: write it there and save that notebook, "
                f"then {again}.")
    in_cell = getattr(shell, "compile", None) is not None and shell.compile.format_code_name(filename) is not None
    if not in_cell and Path(filename).resolve() != _CONTRACT:
        return None
    if definer is None:
        return "⚠ This cell is not written yet: replace the `raise NotImplementedError(...)` line with your code."
    return f"⚠ {missing} is not written yet: write it in the cell that defines {definer}, run that cell, then this one."


def _handler(shell: Any, etype: type[BaseException], value: BaseException, tb: TracebackType,
             tb_offset: int | None = None) -> list[str]:
    message = friendly_message(shell, tb) if tb is not None else None
    if message is None:
        shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
        return []
    # An error (not printed text): the cell fails, ipykernel stops "Run All" and nbgrader scores 0.
    stb = [message]
    shell._showtraceback(etype, value, stb)
    return stb


def friendly_errors() -> None:
    """Under IPython, show unwritten stubs (``NotImplementedError``) as one friendly line.

    Outside IPython it does nothing. Returns None so that the notebook cell displays nothing.
    """
    try:
        from IPython import get_ipython  # imported here: dlcore itself must not need IPython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None:
        shell.set_custom_exc((NotImplementedError,), _handler)

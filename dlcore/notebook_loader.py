"""Run a notebook's code into a Python module object, as "Run All" in Jupyter would.

The solutions, the demo (``python -m dlcore train --impl``) and the grader all read student or
reference code through this one loader. Each notebook runs top to bottom in a namespace of its
own (as in its own kernel), every code cell in full: imports, definitions, and the top-level
statements between them (``EPS = np.finfo(float).eps``, a helper table computed from others, a
call that sets something up). Two kinds of cells are skipped:

* nbgrader autograder tests (``grade: true`` and ``solution: false`` in the cell's metadata), and
* cells tagged ``long-running`` (training, plots, anything slow).

IPython syntax is translated first; its magics and shell escapes (``%matplotlib inline``,
``!pip ...``) do nothing here, except the cell magics ``%%time`` and ``%%capture``, whose cell runs.
A notebook's relative paths resolve against its own folder, as in Jupyter, while it loads.

What happens when a cell fails depends on who loads:

* :func:`load_notebook` and :func:`load_implementation` (students, the command line) stop at the
  first failing cell and raise :class:`NotebookLoadError`, naming the notebook and the cell;
* :func:`run_notebook` with ``stop_on_error=False`` (the grader) records the failure as a
  :class:`CellError` and goes on with the next cell, as nbgrader does when it executes a
  submission: a broken demo cell costs what it defines, never the rest of the notebook.

Tracebacks through loaded code show the cell's own lines.
"""

from __future__ import annotations

import ast
import contextlib
import linecache
import os
import sys
import time
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import nbformat

SKIP_TAGS = frozenset({"long-running"})
# Whether load_notebook stops at the first failing cell. The grader's jail turns it off, so that a
# notebook that loads another (part 3 loads part 1) gets its classes even when a demo cell fails.
STOP_ON_ERROR = True
# CPU seconds one cell may take before it is interrupted (None: no limit). The grader's jail sets
# it, as nbgrader's per-cell timeout would: a runaway cell costs what it defines, not the notebook.
CELL_CPU_SECONDS: float | None = None
GIVEN_CELL_CPU_SECONDS: float | None = None  # the course's locked cells (demos: they need little)


# Whether load_notebook returns the namespace a notebook already got in this process instead of
# running it again (the grader's jail: part 3's and part 4's cells load part 1, which ran already).
REUSE_LOADED = False
_LOADED: dict[Path, LoadedNotebook] = {}


class CellTimeout(BaseException):  # noqa: N818 - like KeyboardInterrupt: `except Exception` lets it through
    """A cell ran out of its CPU seconds (:data:`CELL_CPU_SECONDS`)."""


class NotebookLoadError(Exception):
    """A notebook could not be loaded; the message names the notebook and the cell."""


@dataclass
class CellError:
    """A cell that failed while its notebook ran: where, and the exception in one line."""

    notebook: str
    cell: int  # 1-based index among all the notebook's cells
    label: str  # "01_modules.ipynb, cell 7 ('linear') starting `class Linear(Module):`"
    message: str  # "NameError: name 'EPS' is not defined"
    given: bool = False  # a locked cell of the course (nbgrader's read-only cells), not the student's
    exception: BaseException | None = field(default=None, repr=False, compare=False)

    def __str__(self) -> str:
        return f"{self.label}: {self.message}"


@dataclass
class LoadedNotebook:
    """One notebook's namespace after running it, and the cells that failed."""

    path: Path
    module: types.ModuleType
    errors: list[CellError] = field(default_factory=list)


def is_test_cell(cell: nbformat.NotebookNode) -> bool:
    """True for nbgrader autograder-test cells (graded, but not a solution)."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("grade")) and not meta.get("solution")


def is_skipped(cell: nbformat.NotebookNode) -> bool:
    """True for cells the loader never runs: autograder tests and ``long-running`` cells."""
    tags = set(cell.get("metadata", {}).get("tags", []))
    return cell.get("cell_type") != "code" or is_test_cell(cell) or bool(tags & SKIP_TAGS)


def _cell_label(path: Path, index: int, cell: nbformat.NotebookNode) -> str:
    grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    first = next((line.strip() for line in cell.source.splitlines() if line.strip()), "")
    label = f"{path.name}, cell {index}"
    if grade_id:
        label += f" ('{grade_id}')"
    return f"{label} starting `{first[:60]}`"


def _python_source(source: str) -> str:
    from IPython.core.inputtransformer2 import TransformerManager  # IPython parses its own syntax

    return TransformerManager().transform_cell(source)


class _Shell:
    """What ``get_ipython()`` gives loaded code: magics and shell escapes do nothing (they set up a
    kernel, which a loaded notebook has not got), but a timed or captured cell still runs."""

    def __init__(self, namespace: dict) -> None:
        self.namespace = namespace

    def run_line_magic(self, name: str, line: str, *args, **kwargs) -> None:
        return None

    def run_cell_magic(self, name: str, line: str, cell: str) -> None:
        if name in ("time", "capture"):
            exec(compile(cell, "<cell magic>", "exec"), self.namespace)

    def system(self, command: str) -> None:
        return None

    getoutput = system


WALL_PER_CPU_SECOND = 20  # a cell's wall-clock limit, per CPU second of its limit: for code that waits


@contextlib.contextmanager
def _cpu_limit(seconds: float | None) -> Iterator[None]:
    """Interrupt the block with :class:`CellTimeout` after ``seconds`` of this process's CPU time, or
    after ``WALL_PER_CPU_SECOND`` times as many seconds of wall-clock time (code that sleeps or waits
    uses no CPU: this looser limit catches it, and no busy machine comes near it)."""
    import signal
    import threading

    if seconds is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    with _timer(signal.ITIMER_PROF, signal.SIGPROF, seconds, time.process_time,
                f"the cell used more than {seconds:g} CPU seconds and was interrupted"):
        with _timer(signal.ITIMER_REAL, signal.SIGALRM, WALL_PER_CPU_SECOND * seconds, time.monotonic,
                    f"the cell waited more than {WALL_PER_CPU_SECOND * seconds:g} s and was interrupted"):
            yield


@contextlib.contextmanager
def _timer(which: int, signum: int, seconds: float, clock, message: str) -> Iterator[None]:
    """One interval timer around a block. A cell that loads another notebook runs that notebook's cells
    inside its own limit: theirs cannot outlast it, and the outer limit resumes with what is left."""
    import signal

    def interrupt(signum, frame):
        raise CellTimeout(message)

    outer, _ = signal.getitimer(which)
    start = clock()
    previous = signal.signal(signum, interrupt)
    signal.setitimer(which, min(seconds, outer) if outer > 0 else seconds)
    try:
        yield
    finally:
        signal.setitimer(which, 0)
        signal.signal(signum, previous)
        if outer > 0:
            signal.setitimer(which, max(outer - (clock() - start), 1e-3))


def _one_line(exc: BaseException) -> str:
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text if len(text) <= 500 else text[:499] + "…"


@contextlib.contextmanager
def _in_folder(folder: Path) -> Iterator[None]:
    """Relative paths resolve against the notebook's folder while it runs, as in Jupyter."""
    previous = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)


def _read(path: Path) -> nbformat.NotebookNode:
    import nbformat  # deferred: it costs more to import than the rest of dlcore

    try:
        return nbformat.read(path, as_version=4)
    except FileNotFoundError:
        raise NotebookLoadError(f"{path}: no such notebook") from None
    except Exception as exc:  # nbformat raises many types for a damaged file
        raise NotebookLoadError(f"{path} is not a readable notebook: {_one_line(exc)}") from None


def run_notebook(path: str | Path, module: types.ModuleType | None = None, *,
                 stop_on_error: bool | None = None) -> LoadedNotebook:
    """Run the code cells of the notebook at ``path`` into ``module`` (a new one by default).

    Test cells and ``long-running`` cells are skipped. With ``stop_on_error`` the first failing
    cell raises :class:`NotebookLoadError`; without, it is recorded in ``errors`` and the next cell
    runs (``None``: :data:`STOP_ON_ERROR`). An unreadable file always raises.
    """
    stop_on_error = STOP_ON_ERROR if stop_on_error is None else stop_on_error
    path = Path(path)
    if REUSE_LOADED and module is None and path.resolve() in _LOADED:
        return _LOADED[path.resolve()]
    nb = _read(path)
    if module is None:
        module = _new_module(path.stem)
    loaded = LoadedNotebook(path=path, module=module)
    shell = _Shell(module.__dict__)
    module.__dict__.setdefault("get_ipython", lambda: shell)
    with _in_folder(path.resolve().parent):
        for index, cell in enumerate(nb.cells, start=1):
            if is_skipped(cell):
                continue
            error = _run_cell(path, index, cell, module)
            if error is None:
                continue
            if stop_on_error:
                raise NotebookLoadError(str(error)) from error.exception
            loaded.errors.append(error)
    if REUSE_LOADED:
        _LOADED[path.resolve()] = loaded
    return loaded


def _run_cell(path: Path, index: int, cell: nbformat.NotebookNode, module: types.ModuleType) -> CellError | None:
    label = _cell_label(path, index, cell)
    meta = cell.get("metadata", {}).get("nbgrader", {})
    given = bool(meta.get("locked")) and not meta.get("solution")
    filename = f"<notebook {path.name} cell {index}>"
    try:
        source = _python_source(cell.source)
        code = compile(ast.parse(source, filename=filename), filename, "exec")
    except SyntaxError as exc:
        return CellError(path.name, index, label, f"syntax error on line {exc.lineno} of the cell: {exc.msg}", given)
    # Register the cell's lines so that tracebacks through student code show them.
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    try:
        with _cpu_limit(GIVEN_CELL_CPU_SECONDS if given else CELL_CPU_SECONDS):
            exec(code, module.__dict__)
    except CellTimeout as exc:
        return CellError(path.name, index, label, f"{exc} (mark slow cells with the tag long-running)", given, exc)
    except (Exception, SystemExit) as exc:  # sys.exit() in a cell fails that cell, as in Jupyter
        return CellError(path.name, index, label, f"failed: {_one_line(exc)}", given, exc)
    finally:
        _close_figures()
    return None


def _close_figures() -> None:
    """Close the cell's pyplot figures, as Jupyter's inline backend does once it has shown them (the
    Figure objects stay usable); a loaded notebook would otherwise pile them up."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None and "inline" not in str(pyplot.get_backend()).lower():
        pyplot.close("all")


def load_notebook(path: str | Path, module: types.ModuleType | None = None) -> types.ModuleType:
    """Run the notebook at ``path`` into ``module`` (a new one by default) and return the module.

    Raises:
        NotebookLoadError: the file is not a readable notebook, or a cell fails to compile or run
            (unless :data:`STOP_ON_ERROR` is off).
    """
    return run_notebook(path, module).module


def _new_module(stem: str) -> types.ModuleType:
    name = "dlcore_notebook_" + "".join(c if c.isalnum() else "_" for c in stem)
    module = types.ModuleType(name)
    module.__file__ = None
    # Registered so that dataclasses, pickling and typing can resolve the module by name.
    sys.modules[name] = module
    return module


def notebook_paths(path: str | Path) -> list[Path]:
    """The notebook at ``path``, or the notebooks in folder ``path`` sorted by name."""
    path = Path(path)
    if path.is_dir():
        paths = sorted(p for p in path.glob("*.ipynb") if not p.name.startswith("."))
        if not paths:
            raise NotebookLoadError(f"{path} holds no notebooks (*.ipynb)")
        return paths
    if not path.exists():
        raise NotebookLoadError(f"{path}: no such notebook or folder")
    return [path]


def load_implementation(path: str | Path, stop_on_error: bool | None = None) -> types.ModuleType:
    """Load one notebook, or every notebook of a folder in name order, and merge their names.

    Each notebook runs in its own namespace (its functions see its own globals, as in Jupyter);
    the returned module holds every public name they define, a later notebook's definition
    replacing an earlier one's. Without ``stop_on_error``, the cells that failed are listed in the
    module's ``__notebook_errors__`` (:class:`CellError`).
    """
    path = Path(path)
    merged = _new_module(path.stem if path.suffix else path.name or "impl")
    merged.__notebook_errors__ = []
    for nb_path in notebook_paths(path):
        loaded = run_notebook(nb_path, stop_on_error=stop_on_error)
        merged.__dict__.update({k: v for k, v in vars(loaded.module).items() if not k.startswith("__")})
        merged.__notebook_errors__ += loaded.errors
    return merged

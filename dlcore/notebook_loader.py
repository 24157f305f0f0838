"""Load the classes and functions a notebook defines into a Python module object.

The solutions, the demo (``python -m dlcore train --impl``) and the grader all read student or
reference code through this one loader. From each code cell it runs only the *definitions*:
``import`` statements, ``def`` and ``class`` blocks, and assignments of literal constants. It
skips whole cells that are

* nbgrader autograder tests (``grade: true`` and ``solution: false`` in the cell's metadata), or
* tagged ``long-running`` (training, plots, anything slow).

Everything else at the top level of a cell (calls, prints, training) is left out, so a
notebook whose demo cells are unfinished or slow still loads. IPython syntax (``%magic``,
``!shell``) is translated first. An error in a cell raises :class:`NotebookLoadError` naming the
notebook and the cell; tracebacks show the cell's own lines.
"""

from __future__ import annotations

import ast
import linecache
import sys
import types
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import nbformat

SKIP_TAGS = frozenset({"long-running"})


class NotebookLoadError(Exception):
    """A notebook could not be loaded; the message names the notebook and the cell."""


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


def _is_literal(node: ast.expr) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def _definitions(tree: ast.Module) -> ast.Module:
    """Keep only imports, functions, classes and constant assignments at the top level."""
    keep = []
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            keep.append(node)
        elif isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) for t in node.targets):
            if _is_literal(node.value):
                keep.append(node)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            if node.value is not None and _is_literal(node.value):
                keep.append(node)
    return ast.Module(body=keep, type_ignores=[])


def _python_source(source: str) -> str:
    from IPython.core.inputtransformer2 import TransformerManager  # IPython parses its own syntax

    return TransformerManager().transform_cell(source)


def load_notebook(path: str | Path, module: types.ModuleType | None = None) -> types.ModuleType:
    """Run the definitions of the notebook at ``path`` into ``module`` (a new one by default).

    Raises:
        NotebookLoadError: the file is not a readable notebook, or a cell fails to compile or run.
    """
    import nbformat  # deferred: it costs more to import than the rest of dlcore

    path = Path(path)
    try:
        nb = nbformat.read(path, as_version=4)
    except FileNotFoundError:
        raise NotebookLoadError(f"{path}: no such notebook") from None
    except Exception as exc:  # nbformat raises many types for a damaged file
        raise NotebookLoadError(f"{path} is not a readable notebook: {exc}") from None
    if module is None:
        module = _new_module(path.stem)
    for index, cell in enumerate(nb.cells, start=1):
        if is_skipped(cell):
            continue
        label = _cell_label(path, index, cell)
        filename = f"<notebook {path.name} cell {index}>"
        try:
            source = _python_source(cell.source)
            tree = _definitions(ast.parse(source, filename=filename))
            code = compile(tree, filename, "exec")
        except SyntaxError as exc:
            raise NotebookLoadError(f"{label}: syntax error on line {exc.lineno} of the cell: {exc.msg}") from None
        # Register the cell's lines so that tracebacks through student code show them.
        linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
        try:
            exec(code, module.__dict__)
        except Exception as exc:
            raise NotebookLoadError(f"{label} failed: {type(exc).__name__}: {exc}") from exc
    return module


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


def load_implementation(path: str | Path) -> types.ModuleType:
    """Load one notebook, or every notebook of a folder in name order, into one module.

    Later notebooks may use (and override) what earlier ones define.
    """
    path = Path(path)
    module = _new_module(path.stem if path.suffix else path.name or "impl")
    for nb_path in notebook_paths(path):
        load_notebook(nb_path, module)
    return module

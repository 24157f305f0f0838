"""The jail's copy of dlcore: the library students import, minus the references of graded tasks.

dlcore holds reference implementations that would answer graded tasks if student code could
call them: ``numerical_jacobian`` and ``gradcheck`` (part 2), ``SGD``, ``train_epoch`` and ``fit``
(``sgd_step``, ``train``), ``build_model`` (the model builders), ``LogSoftMax``/``NLLLoss``
(SoftMax/CrossEntropy) and ``Sigmoid`` (Tanh). In the jail's copy each of these keeps its name,
so that every notebook still imports and a class can still be built (the CNN ends with the given
``LogSoftMax``), but every function body and method is replaced by a ``raise``: no route (import,
attribute access, ``importlib``, reading the source) leads to an implementation, and a student's
function that delegates to one fails with a message that says why. The jail sees no other copy
of dlcore (the installed one is hidden behind this one).
"""

from __future__ import annotations

import ast
import shutil
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import dlcore

# module (relative to dlcore/) -> {name: the graded task it would answer}
REFERENCES: dict[str, dict[str, str]] = {
    "gradcheck.py": {"numerical_jacobian": "numerical_jacobian", "_central_difference": "numerical_jacobian",
                     "gradcheck": "numerical_jacobian and backprop_jacobian", "_Jacobians": "backprop_jacobian",
                     "_compare": "max_mixed_error", "summarize": "the gradient checks"},
    "train.py": {"SGD": "sgd_step", "train_epoch": "train", "fit": "train"},
    "models.py": {"build_model": "build_linear, build_mlp and build_cnn"},
    "log_softmax.py": {"LogSoftMax": "SoftMax", "NLLLoss": "CrossEntropy"},
    "activations.py": {"Sigmoid": "Tanh"},
}
ERROR_CLASS = "DelegatedToReference"


def _message(name: str, task: str) -> str:
    return (f"dlcore's {name} is the library's reference for {task}: graded code must not call it (the grader's copy "
            f"of dlcore has none). Write the computation yourself.")


def _stub(node: ast.stmt, task: str) -> ast.stmt:
    """``node`` with bodies that only raise: a function's, or every method of a class but ``__init__``
    (its docstring goes too: only the names and signatures stay)."""
    raise_stmt = ast.parse(f"raise {ERROR_CLASS}({_message(node.name, task)!r})").body[0]
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        node.body, node.decorator_list = [raise_stmt], []
        return node
    body = []
    for item in node.body:
        if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item.name != "__init__":
            item.body, item.decorator_list = [raise_stmt], [d for d in item.decorator_list
                                                            if isinstance(d, ast.Name) and d.id == "property"]
        if not (isinstance(item, ast.Expr) and isinstance(item.value, ast.Constant)):
            body.append(item)
    node.body = body or [ast.Pass()]
    return node


def strip(source: str, names: dict[str, str]) -> str:
    """``source`` with the definitions of ``names`` stubbed (and the error class defined first)."""
    tree = ast.parse(source)
    body = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node.name in names:
            node = _stub(node, names[node.name])
        body.append(node)
    error = ast.parse(f"class {ERROR_CLASS}(RuntimeError):\n    '''Graded code called a reference.'''").body
    future = [n for n in body if isinstance(n, ast.ImportFrom) and n.module == "__future__"]
    rest = [n for n in body if n not in future]
    docstring = rest[:1] if rest and isinstance(rest[0], ast.Expr) and isinstance(rest[0].value, ast.Constant) else []
    tree.body = [*docstring, *future, *error, *rest[len(docstring):]]
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


@dataclass
class JailLibrary:
    """A temporary folder holding the jail's ``dlcore`` package; delete it with :meth:`close`."""

    root: Path

    @property
    def package(self) -> Path:
        return self.root / "dlcore"

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def build_library() -> JailLibrary:
    """Copy dlcore, stub its references, and return the folder (readable by the jail's uid)."""
    source = Path(dlcore.__file__).resolve().parent
    root = Path(tempfile.mkdtemp(prefix="dlcore-jail-lib-"))
    root.chmod(0o755)
    shutil.copytree(source, root / "dlcore", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name, names in REFERENCES.items():
        path = root / "dlcore" / name
        path.write_text(strip(path.read_text(), names))
    for path in [root / "dlcore", *(root / "dlcore").rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return JailLibrary(root)


def installed_copies() -> list[Path]:
    """Copies of dlcore installed in the Python the jail runs (a wheel in site-packages): each is
    hidden behind the jail's copy, so that its references cannot be read there either."""
    import site
    import sys

    folders = {Path(p) for p in [*site.getsitepackages(), site.getusersitepackages(), *sys.path] if p}
    return sorted({(f / "dlcore").resolve() for f in folders if (f / "dlcore" / "__init__.py").is_file()
                   and str(f.resolve()).startswith((sys.prefix, sys.base_prefix, str(Path(sys.prefix).resolve())))})


@lru_cache(maxsize=1)
def matplotlib_config() -> Path | None:
    """A matplotlib configuration folder with its font cache built, bound read-only into jails (a fresh
    jail would otherwise spend seconds building it at every import of matplotlib)."""
    import os
    import subprocess
    import sys

    folder = Path(tempfile.gettempdir()) / f"dlcore-mplconfig-{os.getuid()}"
    folder.mkdir(mode=0o755, exist_ok=True)
    env = {**os.environ, "MPLCONFIGDIR": str(folder), "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, "-c", "import matplotlib.font_manager"], env=env, capture_output=True,
                          check=False, timeout=300)
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return folder if proc.returncode == 0 else None

"""Gradient checking: compare backprop's Jacobians with central finite differences.

For a module ``y = f(x, θ)`` the Jacobian ``J = ∂y/∂x`` is built twice, in float64:

* numerically, column by column: ``J[:, i] = (f(x + h_i e_i) − f(x − h_i e_i)) / 2h_i`` with
  ``h_i = sqrt(eps) · max(|x_i|, 1)``, a step that balances truncation against rounding error;
* by backprop, row by row: ``J[j, :] = bprop(e_j)``, and the rows of ``∂y/∂θ`` from ``grads()``.

The entries are compared with the *mixed* error ``|a − n| / max(|a|, |n|, 1)``: relative for
entries larger than 1 and absolute below, since the rounding error of a central difference
scales with ``|f|``, not with the derivative. A correct float64 module stays below 1e-6.

Large modules are checked on a random subset of entries (``subset=k``): ``k`` random rows and
columns per variable, plus, for each of those, the row or column where the other side has its
largest entry, so that the sparse structure of a Jacobian (Linear's is mostly zeros) is hit.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from dlcore.module import Criterion, Module

EPS = np.finfo(np.float64).eps


def _steps(x: np.ndarray) -> np.ndarray:
    return np.sqrt(EPS) * np.maximum(np.abs(x), 1.0)


def numerical_jacobian(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> np.ndarray:
    """Jacobian of ``f`` at ``x`` by central differences: ``(f(x).size, x.size)``.

    ``f`` maps an array of ``x``'s shape to an array (or a scalar); ``x`` is not modified.
    """
    x = np.array(x, dtype=np.float64)
    columns = [_central_difference(lambda: np.asarray(f(x), dtype=np.float64), x, i) for i in range(x.size)]
    out_size = np.asarray(f(x)).size
    return np.stack(columns, axis=1) if columns else np.zeros((out_size, 0))


def _central_difference(evaluate: Callable[[], np.ndarray], variable: np.ndarray, i: int) -> np.ndarray:
    """Column ``i`` of ``∂evaluate()/∂variable``, perturbing ``variable.flat[i]`` in place and restoring it."""
    old = variable.flat[i]
    h = _steps(np.asarray(old))
    variable.flat[i] = old + h
    plus = np.array(evaluate(), dtype=np.float64).ravel()
    up = variable.flat[i]
    variable.flat[i] = old - h
    minus = np.array(evaluate(), dtype=np.float64).ravel()
    down = variable.flat[i]
    variable.flat[i] = old
    # Divide by the step actually taken, (old + h) − (old − h) after rounding, not by 2h.
    return (plus - minus) / (up - down)


@dataclass
class BlockCheck:
    """The comparison of one Jacobian block, ``∂output/∂name``."""

    name: str
    shape: tuple[int, ...]
    max_abs_error: float
    max_rel_error: float
    worst_output: tuple[int, ...]
    worst_wrt: tuple[int, ...]
    analytic: float
    numerical: float
    entries_checked: int
    entries_total: int

    def where(self) -> str:
        out = "∂out[" + ",".join(map(str, self.worst_output)) + "]" if self.worst_output else "∂cost"
        wrt = ",".join(map(str, self.worst_wrt))
        return f"{out}/∂{self.name}[{wrt}]"


@dataclass
class GradCheckReport:
    """Result of :func:`gradcheck`: one :class:`BlockCheck` per input and parameter."""

    module: str
    tolerance: float
    blocks: list[BlockCheck] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(b.max_rel_error < self.tolerance for b in self.blocks)

    @property
    def max_rel_error(self) -> float:
        return max((b.max_rel_error for b in self.blocks), default=0.0)

    @property
    def max_abs_error(self) -> float:
        return max((b.max_abs_error for b in self.blocks), default=0.0)

    def __bool__(self) -> bool:
        return self.passed

    def _rows(self) -> list[tuple[str, ...]]:
        rows = []
        for b in self.blocks:
            ok = "ok" if b.max_rel_error < self.tolerance else "FAIL"
            rows.append((
                b.name, "×".join(map(str, b.shape)) or "scalar", f"{b.entries_checked}/{b.entries_total}",
                f"{b.max_abs_error:.2e}", f"{b.max_rel_error:.2e}",
                f"{b.where()}: bprop {b.analytic:.6g}, numerical {b.numerical:.6g}", ok,
            ))
        return rows

    _HEADER = ("w.r.t.", "shape", "entries", "max abs err", "max rel err", "worst entry", "")

    def __str__(self) -> str:
        rows = [self._HEADER, *self._rows()]
        widths = [max(len(r[c]) for r in rows) for c in range(len(self._HEADER))]
        lines = [f"gradcheck {self.module}: {'PASSED' if self.passed else 'FAILED'} "
                 f"(max rel err {self.max_rel_error:.2e}, tolerance {self.tolerance:.0e})"]
        lines += ["  " + "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
                  for r in rows]
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        verdict = "PASSED" if self.passed else "FAILED"
        colour = "#1a7f37" if self.passed else "#cf222e"
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self._HEADER)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in self._rows()
        )
        return (f"<p><b>gradcheck {html.escape(self.module)}: <span style='color:{colour}'>{verdict}</span></b> "
                f"(max rel err {self.max_rel_error:.2e}, tolerance {self.tolerance:.0e})</p>"
                f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def _compare(name: str, shape: tuple[int, ...], out_shape: tuple[int, ...], a: np.ndarray, n: np.ndarray,
             rows: np.ndarray, cols: np.ndarray) -> BlockCheck:
    """Compare the analytic ``a`` with the numerical ``n`` on the checked ``rows × cols``."""
    abs_err = np.abs(a - n)
    rel_err = abs_err / np.maximum(np.maximum(np.abs(a), np.abs(n)), 1.0)
    # NaN or inf in either Jacobian is the worst possible error.
    rel_err = np.where(np.isnan(rel_err), np.inf, rel_err)
    abs_err = np.where(np.isnan(abs_err), np.inf, abs_err)
    r, c = np.unravel_index(int(np.argmax(rel_err)), rel_err.shape) if rel_err.size else (0, 0)
    total = int(np.prod(out_shape, dtype=np.int64)) * int(np.prod(shape, dtype=np.int64))
    return BlockCheck(
        name=name, shape=shape,
        max_abs_error=float(abs_err.max(initial=0.0)), max_rel_error=float(rel_err.max(initial=0.0)),
        worst_output=tuple(int(i) for i in np.unravel_index(int(rows[r]), out_shape)) if rows.size else (),
        worst_wrt=tuple(int(i) for i in np.unravel_index(int(cols[c]), shape)) if cols.size else (),
        analytic=float(a[r, c]) if a.size else 0.0, numerical=float(n[r, c]) if n.size else 0.0,
        entries_checked=int(a.size), entries_total=total,
    )


class _Jacobians:
    """The analytic rows and numerical columns computed so far, for every variable of one module.

    Only the rows and columns asked for are stored: a full Jacobian of Linear(784, 200) w.r.t. W
    would not fit in memory.
    """

    def __init__(self, forward: Callable[[], np.ndarray], backward: Callable[[np.ndarray], list[np.ndarray]],
                 variables: list[np.ndarray], out_shape: tuple[int, ...]) -> None:
        self.forward, self.backward, self.variables = forward, backward, variables
        self.out_shape = out_shape
        self.out_size = int(np.prod(out_shape, dtype=np.int64))
        self.rows: dict[int, list[np.ndarray]] = {}  # output index -> row of each block
        self.cols: list[dict[int, np.ndarray]] = [{} for _ in variables]  # per block: index -> column

    def add_rows(self, rows: Iterable[int]) -> None:
        for j in map(int, rows):
            if j not in self.rows:
                self.rows[j] = [g.ravel() for g in self.backward(_basis(self.out_shape, j))]

    def add_cols(self, k: int, cols: Iterable[int]) -> None:
        for i in map(int, cols):
            if i not in self.cols[k]:
                self.cols[k][i] = _central_difference(self.forward, self.variables[k], i)

    def largest_rows(self, k: int) -> list[int]:
        """For each numerical column of block ``k``, the output index of its largest entry."""
        return [int(np.argmax(np.abs(col))) for col in self.cols[k].values()]

    def largest_cols(self, k: int) -> list[int]:
        """For each analytic row, the index of its largest entry in block ``k``."""
        return [int(np.argmax(np.abs(row[k]))) for row in self.rows.values() if row[k].size]

    def block(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Rows, columns, analytic and numerical values of block ``k`` on the checked entries."""
        rows = np.array(sorted(self.rows), dtype=np.int64)
        cols = np.array(sorted(self.cols[k]), dtype=np.int64)
        analytic = np.array([self.rows[j][k][cols] for j in rows]).reshape(len(rows), len(cols))
        numerical = np.array([self.cols[k][i][rows] for i in cols]).reshape(len(cols), len(rows)).T
        return rows, cols, analytic, numerical


def _basis(shape: tuple[int, ...], j: int) -> np.ndarray:
    e = np.zeros(shape)
    e.flat[j] = 1.0
    return e


def gradcheck(
    module: Module | Criterion,
    x: np.ndarray,
    t: np.ndarray | None = None,
    *,
    subset: int | None = None,
    tolerance: float = 1e-6,
    rng: np.random.Generator | None = None,
) -> GradCheckReport:
    """Check ``module``'s bprop against central differences, in float64.

    Args:
        module: a :class:`Module` (checked w.r.t. its input and every parameter) or a
            :class:`Criterion` (then ``t`` is required; checked w.r.t. ``z``).
        x: input ``(N, D_in)``; copied to float64, never modified. Parameters must be float64.
        t: targets ``(N, C)`` for a criterion.
        subset: ``None`` checks every entry; ``k`` checks a random subset (see module doc).
        tolerance: the check passes when every mixed error is below it.
        rng: generator for the subset (default: seeded, so a report is reproducible).

    Returns:
        A :class:`GradCheckReport`; ``bool(report)`` tells whether it passed.
    """
    if isinstance(module, Module) and not module.input_grad:
        # The check needs grad_input: switch it on for the duration of the check only.
        module.input_grad = True
        try:
            return gradcheck(module, x, t, subset=subset, tolerance=tolerance, rng=rng)
        finally:
            module.input_grad = False
    rng = np.random.default_rng(0) if rng is None else rng
    x = np.array(x, dtype=np.float64)
    name = type(module).__name__
    is_criterion = t is not None or isinstance(module, Criterion)
    if is_criterion:
        if t is None:
            raise ValueError(f"gradcheck of the criterion {name} needs the targets t")
        t = np.array(t, dtype=np.float64)
        variables, names = [x], ["z"]

        def forward() -> np.ndarray:
            return np.asarray(module.fprop(x, t), dtype=np.float64)

        def backward(e: np.ndarray) -> list[np.ndarray]:
            module.fprop(x, t)
            grad = np.asarray(module.bprop(), dtype=np.float64)
            _check_shape(name, "bprop()", grad, x.shape, "z")
            return [grad * float(e.ravel()[0])]
    else:
        params = module.params()
        for i, p in enumerate(params):
            if p.dtype != np.float64:
                raise TypeError(f"gradcheck needs float64 parameters, but {name}.params()[{i}] is {p.dtype}: "
                                "build the module with dtype=np.float64")
        variables, names = [x, *params], ["input", *_param_names(module, params)]

        def forward() -> np.ndarray:
            return np.asarray(module.fprop(x), dtype=np.float64)

        def backward(e: np.ndarray) -> list[np.ndarray]:
            module.fprop(x)
            grad_input = np.asarray(module.bprop(e.copy()), dtype=np.float64)
            _check_shape(name, "bprop", grad_input, x.shape, "input")
            grads = [np.array(g, dtype=np.float64) for g in module.grads()]
            if len(grads) != len(params):
                raise ValueError(f"{name}.grads() returned {len(grads)} arrays for {len(params)} params(): "
                                 "they must be aligned lists")
            for i, (g, p) in enumerate(zip(grads, params, strict=True)):
                _check_shape(name, f"grads()[{i}]", g, p.shape, f"params()[{i}]")
            return [grad_input, *grads]

    x_before = x.copy()
    out_shape = np.shape(forward())
    jac = _Jacobians(forward, backward, variables, out_shape)

    if subset is None:
        jac.add_rows(range(jac.out_size))
        for k, v in enumerate(variables):
            jac.add_cols(k, range(v.size))
    else:
        # Random rows and columns, then the largest entry of each sampled column (numerical) and
        # row (analytic), so that the nonzeros of a sparse Jacobian are compared too.
        jac.add_rows(rng.choice(jac.out_size, size=min(subset, jac.out_size), replace=False))
        for k, v in enumerate(variables):
            jac.add_cols(k, rng.choice(v.size, size=min(subset, v.size), replace=False))
        for k in range(len(variables)):
            jac.add_rows(jac.largest_rows(k))
        for k in range(len(variables)):
            jac.add_cols(k, jac.largest_cols(k))

    if not np.array_equal(x, x_before, equal_nan=True):
        raise ValueError(f"{name} modified its input in place: fprop and bprop must not change their arguments")

    report = GradCheckReport(module=name, tolerance=tolerance)
    for k, (v, label) in enumerate(zip(variables, names, strict=True)):
        rows, cols, analytic, numerical = jac.block(k)
        report.blocks.append(_compare(label, v.shape, out_shape, analytic, numerical, rows, cols))
    return report


@dataclass
class GradCheckSummary:
    """One line per checked module: the worst error over all its blocks and the verdict.

    Built by :func:`summarize` from named reports; prints as a table, and as HTML in a notebook.
    """

    reports: dict[str, GradCheckReport]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.reports.values())

    def __bool__(self) -> bool:
        return self.passed

    _HEADER = ("module", "checked", "entries", "max abs err", "max rel err", "tolerance", "")

    def _rows(self) -> list[tuple[str, ...]]:
        rows = []
        for name, r in self.reports.items():
            checked = sum(b.entries_checked for b in r.blocks)
            total = sum(b.entries_total for b in r.blocks)
            names = ", ".join(b.name for b in r.blocks)
            if len(r.blocks) > 3:  # a whole network: its parameters are many and anonymous
                names = f"{r.blocks[0].name} + {len(r.blocks) - 1} parameters"
            rows.append((name, names, f"{checked}/{total}",
                         f"{r.max_abs_error:.2e}", f"{r.max_rel_error:.2e}", f"{r.tolerance:.0e}",
                         "ok" if r.passed else "FAIL"))
        return rows

    def __str__(self) -> str:
        rows = [self._HEADER, *self._rows()]
        widths = [max(len(r[c]) for r in rows) for c in range(len(self._HEADER))]
        passed = sum(r.passed for r in self.reports.values())
        lines = [f"gradcheck summary: {passed}/{len(self.reports)} modules passed"]
        lines += ["  " + "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
                  for r in rows]
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self._HEADER)
        body = ""
        for row in self._rows():
            colour = "#1a7f37" if row[-1] == "ok" else "#cf222e"
            cells = [f"<td>{html.escape(c)}</td>" for c in row[:-1]]
            cells.append(f"<td style='color:{colour}'><b>{html.escape(row[-1])}</b></td>")
            body += "<tr>" + "".join(cells) + "</tr>"
        passed = sum(r.passed for r in self.reports.values())
        return (f"<p><b>gradcheck summary: {passed}/{len(self.reports)} modules passed</b></p>"
                f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def summarize(reports: Mapping[str, GradCheckReport]) -> GradCheckSummary:
    """A one-line-per-module table of ``{label: gradcheck(...)}``, in the mapping's order.

    ``checked`` lists the blocks (input, parameters) of each report, or counts the parameters when
    there are more than three; ``entries`` counts the
    Jacobian entries compared (fewer than all with ``subset=k``); the errors are the largest over
    the module's blocks.
    """
    if not reports:
        raise ValueError("summarize needs at least one report")
    for label, r in reports.items():
        if not isinstance(r, GradCheckReport):
            raise TypeError(f"{label!r} is a {type(r).__name__}, not a GradCheckReport: pass gradcheck(...)'s result")
    return GradCheckSummary(dict(reports))


def _param_names(module: Module, params: list[np.ndarray]) -> list[str]:
    """Attribute names of the parameters (``W``, ``b``) where the module stores them, else ``params()[i]``."""
    by_id = {id(v): k for k, v in vars(module).items() if isinstance(v, np.ndarray)}
    return [by_id.get(id(p), f"params()[{i}]") for i, p in enumerate(params)]


def _check_shape(module: str, what: str, got: np.ndarray, expected: tuple[int, ...], like: str) -> None:
    if got.shape != tuple(expected):
        raise ValueError(f"{module}.{what} has shape {got.shape}, but it must have the shape of {like}, "
                         f"{tuple(expected)}")

"""A correct submission in a deliberately different style, written from the release text alone.

Every answer cell of the four release notebooks keeps its given lines (signatures, docstrings,
constructors, ``# YOUR CODE HERE``); only the ``raise NotImplementedError(...)`` stubs are replaced,
and some cells get top-level helpers (constants computed by expressions, functions that other
answer cells of the same notebook use). Every other cell, and every cell's metadata, is the release's.

The style differs from a textbook solution on purpose: ``np.einsum`` for ``Linear`` and ``Conv2d``,
a softmax through a log-sum-exp helper, ``np.ndindex`` and ``EPS`` in ``numerical_jacobian``, the
basis rows of ``np.eye(1, K, j)`` in ``backprop_jacobian``, ``np.subtract(..., out=p)`` updates,
a weighted ``np.average`` for the epoch loss, velocities rebuilt by a list comprehension, and so on.
Written without reading ``solutions/`` or the grader's checks, so that grading it tests "a correct
submission in any style gets every point".

``STYLES`` maps each notebook's stem to its Jupytext percent source; ``write_styled(folder)``
writes the four ``.ipynb`` files.
"""

from __future__ import annotations

import copy
import re
import textwrap
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[2]
RELEASE = REPO / "notebooks"
STEMS = ("01_modules", "02_gradcheck", "03_training", "04_cnn")

# {stem: {grade_id: (top-level code put before the cell's given code, [bodies, one per stub, in order])}}
ANSWERS: dict[str, dict[str, tuple[str, list[str]]]] = {}

# ---------------------------------------------------------------------------------------- part 1
ANSWERS["01_modules"] = {
    "linear": (
        '''
        # Helpers shared by the answer cells of this notebook.
        _FEATURES = -1  # the last axis holds a sample's features (or classes)
        _PER_ROW = dict(axis=_FEATURES, keepdims=True)  # reduce over features, one value per sample
        _BLAS = dict(optimize=True)  # lets einsum hand two-operand products to BLAS


        def _contract(spec, *operands):
            """``np.einsum`` with an optimised contraction (matrix products go through BLAS)."""
            return np.einsum(spec, *operands, **_BLAS)


        def _row_dot(a, b):
            """``Σ_k a_nk·b_nk`` for each sample, kept as a column so that it broadcasts over ``k``."""
            return _contract("...k,...k->...", a, b)[..., np.newaxis]

        ''',
        [
            '''
            self.z = z
            return _contract("ni,io->no", z, self.W) + self.b
            ''',
            '''
            # dC/dW_io = Σ_n z_ni G_no (a sum over the samples), dC/db_o = Σ_n G_no.
            self.grad_W = _contract("ni,no->io", self.z, grad_output)
            self.grad_b = _contract("no->o", grad_output)
            if self.input_grad:
                return _contract("no,io->ni", grad_output, self.W)
            return None
            ''',
        ],
    ),
    "tanh": (
        "",
        [
            '''
            self.y = np.tanh(z)
            return self.y
            ''',
            '''
            slope = 1.0 - np.square(self.y)  # tanh' through the cached output
            return np.multiply(grad_output, slope)
            ''',
        ],
    ),
    "softmax": (
        '''
        def logsumexp(z):
            """``log Σ_j exp(z_j)`` of each row, as a column, without overflow: ``m + log Σ_j exp(z_j − m)``."""
            peak = np.max(z, **_PER_ROW)
            return peak + np.log(np.sum(np.exp(z - peak), **_PER_ROW))

        ''',
        [
            '''
            # exp(z − logsumexp(z)) = exp(z − m) / Σ_j exp(z_j − m): every exponent is <= 0.
            self.y = np.exp(z - logsumexp(z))
            return self.y
            ''',
            '''
            y = self.y
            return y * (grad_output - _row_dot(grad_output, y))
            ''',
        ],
    ),
    "cross_entropy": (
        "",
        [
            '''
            floor = np.finfo(y.dtype).tiny
            self.y, self.t = np.maximum(y, floor), t
            n_samples = np.shape(y)[0]
            return -float(_contract("nk,nk->", t, np.log(self.y))) / n_samples
            ''',
            '''
            n_samples = np.shape(self.y)[0]
            return np.divide(self.t, self.y) * (-1.0 / n_samples)
            ''',
        ],
    ),
}

# ---------------------------------------------------------------------------------------- part 2
ANSWERS["02_gradcheck"] = {
    "numerical_jacobian": (
        '''
        _WORK = np.dtype(type(EPS))  # compute in the precision EPS describes (float64)


        def _flat_copy(a):
            """A fresh flat float64 copy of an array or a scalar."""
            return np.array(a, dtype=_WORK).reshape(-1)

        ''',
        [
            '''
            point = np.array(x, dtype=_WORK)  # our own copy: the caller's x is never touched
            outputs = _flat_copy(f(point)).size
            jac = np.empty((outputs, point.size), dtype=_WORK)
            for column, where in enumerate(np.ndindex(point.shape)):
                centre = point[where]
                h = np.sqrt(EPS) * max(abs(centre), 1.0)
                point[where] = centre + h
                upper, up = _flat_copy(f(point)), point[where]
                point[where] = centre - h
                lower, down = _flat_copy(f(point)), point[where]
                point[where] = centre
                jac[:, column] = (upper - lower) / (up - down)  # the step actually taken
            return jac
            ''',
        ],
    ),
    "backprop_jacobian": (
        "",
        [
            '''
            out = np.asarray(module.fprop(x))
            size, shape = out.size, out.shape
            rows = [_flat_copy(module.bprop(np.eye(1, size, j).reshape(shape))) for j in range(size)]
            return np.stack(rows) if rows else np.zeros((0, np.size(x)))
            ''',
        ],
    ),
    "max_mixed_error": (
        "",
        [
            '''
            a, n = _flat_copy(analytic), _flat_copy(numerical)
            scale = np.maximum.reduce([np.abs(a), np.abs(n), np.ones_like(a)])
            return float(np.max(np.abs(a - n) / scale, initial=0.0))
            ''',
        ],
    ),
}

# ---------------------------------------------------------------------------------------- part 3
ANSWERS["03_training"] = {
    "sgd_step": (
        '''
        def _samples(batch):
            """How many samples (rows) a batch holds."""
            return np.shape(batch)[0]

        ''',
        [
            '''
            for p, g in zip(params, grads, strict=True):
                np.subtract(p, lr * g, out=p)  # writes into the live parameter array
            ''',
        ],
    ),
    "train": (
        "",
        [
            '''
            if hasattr(model, "train"):
                model.train()  # train mode, as dlcore's loop does
            epoch_losses = []
            for _epoch in range(epochs):
                costs, sizes = [], []
                for x_batch, t_batch in minibatches(x, t, batch_size, rng):  # one fresh permutation per epoch
                    costs.append(float(criterion.fprop(model.fprop(x_batch), t_batch)))
                    model.bprop(criterion.bprop())
                    sgd_step(model.params(), model.grads(), lr)
                    sizes.append(_samples(x_batch))
                # each batch's cost is a mean over its samples: weight it by its size
                epoch_losses.append(float(np.average(costs, weights=sizes)))
            return epoch_losses
            ''',
        ],
    ),
    "models": (
        '''
        _PIXELS = 28 * 28
        _CLASSES = len("0123456789")
        _MLP_WIDTHS = (_PIXELS, 200, _CLASSES)
        _SINGLE = dict(dtype=np.float32)


        def _affine(d_in, d_out, rng):
            return Linear(d_in, d_out, rng=rng, **_SINGLE)

        ''',
        [
            '''
            return Sequential(_affine(_PIXELS, _CLASSES, rng), SoftMax())
            ''',
            '''
            first, second = (_affine(a, b, rng) for a, b in zip(_MLP_WIDTHS, _MLP_WIDTHS[1:]))
            return Sequential(first, Tanh(), second, SoftMax())
            ''',
        ],
    ),
}

# ---------------------------------------------------------------------------------------- part 4
ANSWERS["04_cnn"] = {
    "relu": (
        '''
        # Helpers shared by the answer cells of this notebook.
        _BLAS = {"optimize": True}


        def _contract(spec, *operands):
            """``np.einsum`` with an optimised contraction (products go through BLAS)."""
            return np.einsum(spec, *operands, **_BLAS)


        def _zero_of(a):
            """A zero scalar of ``a``'s dtype, so that ``np.where`` keeps float32 as float32."""
            return np.zeros((), dtype=np.result_type(a))


        def _where_positive(reference, values):
            """``values`` where ``reference > 0``, else 0."""
            return np.where(reference > 0, values, _zero_of(values))

        ''',
        [
            '''
            self.y = _where_positive(z, z)
            return self.y
            ''',
            '''
            return _where_positive(self.y, grad_output)  # derivative 1 where active, 0 elsewhere (also at 0)
            ''',
        ],
    ),
    "dropout": (
        "",
        [
            '''
            if not self.training:
                self.mask = None
                return z
            kept = self.rng.random(z.shape) >= self.p  # kept when the uniform number is at least p
            scale = np.asarray(1.0 / (1.0 - self.p), dtype=z.dtype)
            self.mask = np.where(kept, scale, _zero_of(z))
            return z * self.mask
            ''',
            '''
            return grad_output if self.mask is None else grad_output * self.mask
            ''',
        ],
    ),
    "momentum": (
        "",
        [
            '''
            mu, lr = self.momentum, self.lr  # lr read now: a schedule may have changed it
            self.velocities = [mu * v + g for v, g in zip(self.velocities, self.model.grads(), strict=True)]
            for theta, v in zip(self.model.params(), self.velocities, strict=True):
                np.subtract(theta, lr * v, out=theta)
            ''',
        ],
    ),
    "conv2d": (
        "",
        [
            '''
            self.z = z
            n, _, h, w = z.shape
            h_out, w_out = (conv_output_size(size, self.k, self.stride, self.padding) for size in (h, w))
            self.cols = im2col(z, self.k, self.k, self.stride, self.padding)  # (C_in·k·k, H_out·W_out·N)
            fields = self.cols.reshape(-1, h_out, w_out, n)  # one column per output pixel, in (i, j, n) order
            kernels = self.W.reshape(self.W.shape[0], -1)  # (C_out, C_in·k·k), same (c, u, v) order
            y = _contract("fhwn,of->nohw", fields, kernels) + self.b[:, np.newaxis, np.newaxis]
            return np.ascontiguousarray(y)
            ''',
            '''
            n, _, h_out, w_out = grad_output.shape
            fields = self.cols.reshape(-1, h_out, w_out, n)
            kernels = self.W.reshape(self.W.shape[0], -1)
            self.grad_b = _contract("nohw->o", grad_output)
            self.grad_W = _contract("nohw,fhwn->of", grad_output, fields).reshape(self.W.shape)
            if not self.input_grad:
                return None
            grad_cols = _contract("nohw,of->fhwn", grad_output, kernels).reshape(self.cols.shape)
            return col2im(grad_cols, self.z.shape, self.k, self.k, self.stride, self.padding)
            ''',
        ],
    ),
    "cnn": (
        '''
        _IMAGE = (1, 28, 28)
        _KERNEL = 5
        _SAME = (_KERNEL - 1) // 2  # padding that keeps the size at stride 1
        _CHANNELS = (_IMAGE[0], 8, 16)
        _FLAT = _CHANNELS[-1] * (_IMAGE[1] // 4) * (_IMAGE[2] // 4)  # two 2×2 poolings: 28 -> 7
        _HIDDEN, _CLASSES, _DROP = 128, 10, 0.3

        ''',
        [
            '''
            layers = [Reshape(*_IMAGE)]
            for c_in, c_out in zip(_CHANNELS, _CHANNELS[1:]):
                layers += [Conv2d(c_in, c_out, _KERNEL, padding=_SAME, rng=rng, dtype=dtype), ReLU(), MaxPool2d(2)]
            layers += [Flatten(),
                       Linear(_FLAT, _HIDDEN, rng=rng, dtype=dtype), ReLU(), Dropout(_DROP, rng=rng),
                       Linear(_HIDDEN, _CLASSES, rng=rng, dtype=dtype), LogSoftMax()]
            return Sequential(*layers)
            ''',
        ],
    ),
}

_STUB = re.compile(r"^(?P<indent>[ \t]*)raise NotImplementedError\(.*\)[ \t]*$", re.MULTILINE)


def _fill(source: str, top: str, bodies: list[str]) -> str:
    """``source`` with each stub line replaced by the next body (indented like the stub), ``top`` first."""
    stubs = list(_STUB.finditer(source))
    if len(stubs) != len(bodies):
        raise ValueError(f"{len(stubs)} stubs but {len(bodies)} bodies for a cell starting {source[:40]!r}")
    pieces, end = [], 0
    for stub, body in zip(stubs, bodies, strict=True):
        pieces.append(source[end:stub.start()])
        pieces.append(textwrap.indent(textwrap.dedent(body).strip("\n"), stub["indent"]))
        end = stub.end()
    pieces.append(source[end:])
    filled = "".join(pieces)
    top = textwrap.dedent(top).strip("\n")
    return f"{top}\n\n\n{filled}" if top else filled


def styled_notebook(stem: str) -> nbformat.NotebookNode:
    """The release notebook ``stem`` with this style's answers in its solution code cells."""
    nb = nbformat.read(RELEASE / f"{stem}.ipynb", as_version=4)
    answers = ANSWERS[stem]
    filled = set()
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("solution"):
            continue
        grade_id = meta["grade_id"]
        if grade_id not in answers:
            raise KeyError(f"{stem}: no answer for the solution cell {grade_id!r}")
        top, bodies = answers[grade_id]
        cell.source = _fill(cell.source, top, bodies)
        filled.add(grade_id)
    if filled != set(answers):
        raise KeyError(f"{stem}: answers for cells the release has not: {sorted(set(answers) - filled)}")
    return nb


def _percent(nb: nbformat.NotebookNode) -> str:
    import jupytext

    return jupytext.writes(copy.deepcopy(nb), fmt="py:percent")


STYLES: dict[str, str] = {stem: _percent(styled_notebook(stem)) for stem in STEMS}


def write_styled(folder: Path) -> Path:
    """Write the four styled notebooks into ``folder`` (created if needed); returns ``folder``.

    The notebooks are built from the release (every cell's metadata as released, ids included);
    their code is exactly that of :data:`STYLES`.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for stem in STEMS:
        nbformat.write(styled_notebook(stem), folder / f"{stem}.ipynb")
    return folder

"""A synthetic cohort for the similarity check: students who answered the release in their own style.

A student starts from the release (``notebooks/*.ipynb``, what students receive) and replaces the
stubs (``# YOUR CODE HERE`` + ``raise NotImplementedError(...)``) of answer cells with method bodies.
``VARIANTS`` holds, per answer cell, several hand-written answers in genuinely different styles (one
body per stub of the cell, in order); a student is a choice of variant per cell. ``disguise`` turns
a student's answers into what a copier hands in: the same code with variables renamed, independent
lines swapped and comments changed.

Used by ``tests/autograder/test_similarity.py`` and ``bench/bench_similarity.py``.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import nbformat

from helpers import REPO

RELEASE = REPO / "notebooks"
STUB = re.compile(r'^([ \t]*)# YOUR CODE HERE\n[ \t]*raise NotImplementedError\("[^"\n]*"\)', re.M)

# grade_id -> list of variants; a variant is one body per stub of the cell, in order.
VARIANTS: dict[str, list[tuple[str, ...]]] = {
    "linear": [
        ("self.z = z\nreturn z @ self.W + self.b",
         "self.grad_W = self.z.T @ grad_output\nself.grad_b = grad_output.sum(axis=0)\nreturn grad_output @ self.W.T"),
        ("self.z = z.copy()\nout = np.dot(z, self.W)\nout += self.b\nreturn out",
         "dW = np.dot(self.z.T, grad_output)\ndb = np.sum(grad_output, axis=0)\nself.grad_W, self.grad_b = dW, db\n"
         "grad_input = np.dot(grad_output, self.W.T)\nreturn grad_input"),
        ("self.z = z\ny = np.matmul(z, self.W) + self.b[np.newaxis, :]\nreturn y",
         "n = grad_output.shape[0]\nself.grad_W = np.einsum('ni,nj->ij', self.z, grad_output)\n"
         "self.grad_b = np.ones(n, dtype=grad_output.dtype) @ grad_output\n"
         "if getattr(self, 'input_grad', True):\n    return np.einsum('nj,ij->ni', grad_output, self.W)\nreturn None"),
        ("W, b = self.W, self.b\nself.z = z\nreturn z.dot(W) + b",
         "W, z, g = self.W, self.z, grad_output\nself.grad_b = g.sum(0)\nself.grad_W = z.T.dot(g)\nreturn g.dot(W.T)"),
    ],
    "tanh": [
        ("self.y = np.tanh(z)\nreturn self.y", "return grad_output * (1.0 - self.y**2)"),
        ("a = np.exp(-2.0 * np.abs(z))\nself.y = np.sign(z) * (1.0 - a) / (1.0 + a)\nreturn self.y",
         "derivative = 1 - np.square(self.y)\nreturn derivative * grad_output"),
        ("out = np.tanh(z)\nself.y = out\nreturn out.copy()", "return grad_output - grad_output * self.y * self.y"),
    ],
    "softmax": [
        ("shifted = z - np.max(z, axis=1, keepdims=True)\nex = np.exp(shifted)\n"
         "self.y = ex / np.sum(ex, axis=1, keepdims=True)\nreturn self.y",
         "dot = (grad_output * self.y).sum(axis=1, keepdims=True)\nreturn self.y * (grad_output - dot)"),
        ("m = z.max(axis=-1)[:, None]\nnum = np.exp(z - m)\nden = num.sum(axis=-1)[:, None]\nself.y = num / den\n"
         "return self.y",
         "grad_input = np.empty_like(grad_output)\nfor n in range(len(self.y)):\n    y = self.y[n]\n"
         "    jac = np.diag(y) - np.outer(y, y)\n    grad_input[n] = grad_output[n] @ jac\nreturn grad_input"),
        ("top = z.max(1, keepdims=True)\nlogsum = np.log(np.exp(z - top).sum(1, keepdims=True)) + top\n"
         "self.y = np.exp(z - logsum)\nreturn self.y",
         "s = np.einsum('ij,ij->i', grad_output, self.y)\nreturn self.y * grad_output - self.y * s[:, None]"),
    ],
    "cross_entropy": [
        ("eps = np.finfo(y.dtype).tiny\nself.y, self.t = np.maximum(y, eps), t\nn = y.shape[0]\n"
         "return -(t * np.log(self.y)).sum() / n",
         "return -self.t / (self.y * len(self.y))"),
        ("self.t = t\nself.y = np.where(y > 0, y, np.finfo(y.dtype).tiny)\n"
         "losses = -np.sum(t * np.log(self.y), axis=1)\nreturn float(np.mean(losses))",
         "n = self.t.shape[0]\ngrad = -self.t / self.y\nreturn grad / n"),
        ("tiny = np.finfo(y.dtype).tiny\nself.y = y.clip(min=tiny)\nself.t = t\npicked = self.y[t.astype(bool)]\n"
         "return float(-np.log(picked).sum() / len(t))",
         "return np.divide(-self.t, self.y) / self.y.shape[0]"),
    ],
    "numerical_jacobian": [
        ("x = np.array(x, dtype=float)\nout = np.asarray(f(x)).ravel()\nJ = np.zeros((out.size, x.size))\n"
         "for i in range(x.size):\n    xi = x.flat[i]\n    h = np.sqrt(np.finfo(float).eps) * max(1.0, abs(xi))\n"
         "    x.flat[i] = xi + h\n    fp = np.asarray(f(x), dtype=float).ravel()\n    x.flat[i] = xi - h\n"
         "    fm = np.asarray(f(x), dtype=float).ravel()\n    x.flat[i] = xi\n"
         "    J[:, i] = (fp - fm) / ((xi + h) - (xi - h))\nreturn J",),
        ("x0 = np.asarray(x, dtype=np.float64).copy()\nflat = x0.reshape(-1)\neps = np.finfo(np.float64).eps\n"
         "cols = []\nfor k in range(flat.size):\n    step = np.sqrt(eps) * np.maximum(np.abs(flat[k]), 1)\n"
         "    a = flat.copy()\n    a[k] += step\n    b = flat.copy()\n    b[k] -= step\n"
         "    fa = np.asarray(f(a.reshape(x0.shape)), dtype=np.float64).reshape(-1)\n"
         "    fb = np.asarray(f(b.reshape(x0.shape)), dtype=np.float64).reshape(-1)\n"
         "    cols.append((fa - fb) / (a[k] - b[k]))\nreturn np.column_stack(cols)",),
        ("base = np.array(x, dtype=np.float64)\nsize = base.size\n"
         "h = np.sqrt(np.finfo(np.float64).eps) * np.maximum(np.abs(base.ravel()), 1.0)\n"
         "m = np.asarray(f(base)).size\njac = np.empty((m, size))\nfor col, step in enumerate(h):\n"
         "    shift = np.zeros(size)\n    shift[col] = step\n    upper = base + shift.reshape(base.shape)\n"
         "    lower = base - shift.reshape(base.shape)\n"
         "    diff = np.asarray(f(upper), dtype=np.float64).ravel() - np.asarray(f(lower), dtype=np.float64).ravel()\n"
         "    jac[:, col] = diff / (upper.flat[col] - lower.flat[col])\nreturn jac",),
        ("def evaluate(point):\n    return np.asarray(f(point), dtype=np.float64).flatten()\n\n"
         "point = np.copy(np.asarray(x, dtype=np.float64))\nresult = []\ni = 0\nwhile i < point.size:\n"
         "    original = point.flat[i]\n    delta = max(abs(original), 1.0) * np.finfo(np.float64).eps ** 0.5\n"
         "    point.flat[i] = original + delta\n    right, hi = evaluate(point), point.flat[i]\n"
         "    point.flat[i] = original - delta\n    left, lo = evaluate(point), point.flat[i]\n"
         "    point.flat[i] = original\n    result.append((right - left) / (hi - lo))\n    i += 1\n"
         "return np.array(result).T",),
    ],
    "backprop_jacobian": [
        ("out = module.fprop(x)\nJ = np.zeros((out.size, np.size(x)))\nfor j in range(out.size):\n"
         "    basis = np.zeros_like(out, dtype=np.float64)\n    basis.flat[j] = 1\n"
         "    J[j] = np.ravel(module.bprop(basis))\nreturn J",),
        ("y = module.fprop(x)\neye = np.eye(y.size)\n"
         "rows = [np.asarray(module.bprop(eye[k].reshape(y.shape))).flatten() for k in range(y.size)]\n"
         "return np.vstack(rows)",),
        ("output = module.fprop(x)\nn_out = output.size\nresult = None\nfor idx in range(n_out):\n"
         "    seed = np.zeros(output.shape)\n    seed[np.unravel_index(idx, output.shape)] = 1.0\n"
         "    g = np.asarray(module.bprop(seed), dtype=np.float64).reshape(-1)\n    if result is None:\n"
         "        result = np.zeros((n_out, g.size))\n    result[idx, :] = g\nreturn result",),
        ("y = module.fprop(x)\nJ = []\nfor j in np.ndindex(y.shape):\n    unit = np.zeros_like(y, dtype=np.float64)\n"
         "    unit[j] = 1.0\n    J.append(np.asarray(module.bprop(unit)).ravel())\nreturn np.array(J)",),
    ],
    "max_mixed_error": [
        ("a = np.asarray(analytic, float)\nn = np.asarray(numerical, float)\n"
         "scale = np.maximum(1.0, np.maximum(np.abs(a), np.abs(n)))\nreturn float((np.abs(a - n) / scale).max())",),
        ("worst = 0.0\nfor a, n in zip(np.ravel(analytic), np.ravel(numerical)):\n"
         "    err = abs(a - n) / max(abs(a), abs(n), 1.0)\n    worst = max(worst, err)\nreturn float(worst)",),
        ("diff = np.abs(np.subtract(analytic, numerical, dtype=np.float64))\n"
         "denominator = np.max(np.stack([np.abs(analytic), np.abs(numerical), np.ones(np.shape(analytic))]), axis=0)\n"
         "return np.max(diff / denominator).item()",),
    ],
    "sgd_step": [
        ("for p, g in zip(params, grads):\n    p -= lr * g",),
        ("for i in range(len(params)):\n    params[i][...] = params[i] - lr * grads[i]",),
        ("for param, grad in zip(params, grads):\n    np.subtract(param, lr * grad, out=param)",),
        ("k = 0\nwhile k < len(params):\n    params[k] -= grads[k] * lr\n    k += 1",),
    ],
    "train": [
        ("history = []\nfor epoch in range(epochs):\n    epoch_loss, seen = 0.0, 0\n"
         "    for xb, tb in minibatches(x, t, batch_size, rng):\n        y = model.fprop(xb)\n"
         "        loss = criterion.fprop(y, tb)\n        model.bprop(criterion.bprop())\n"
         "        sgd_step(model.params(), model.grads(), lr)\n        epoch_loss += loss * xb.shape[0]\n"
         "        seen += xb.shape[0]\n    history.append(epoch_loss / seen)\nreturn history",),
        ("mean_losses = []\nn = len(x)\nfor _ in range(epochs):\n    batch_costs = []\n"
         "    for inputs, targets in minibatches(x, t, batch_size, rng):\n        predictions = model.fprop(inputs)\n"
         "        batch_costs.append(criterion.fprop(predictions, targets) * len(inputs))\n"
         "        grad = criterion.bprop()\n        model.bprop(grad)\n"
         "        sgd_step(model.params(), model.grads(), lr)\n"
         "    mean_losses.append(float(np.sum(batch_costs)) / n)\nreturn mean_losses",),
        ("def one_batch(xb, tb):\n    cost = criterion.fprop(model.fprop(xb), tb)\n"
         "    model.bprop(criterion.bprop())\n    sgd_step(model.params(), model.grads(), lr)\n"
         "    return float(cost)\n\nresult = []\nepoch = 0\nwhile epoch < epochs:\n"
         "    total = sum(one_batch(xb, tb) * len(tb) for xb, tb in minibatches(x, t, batch_size, rng))\n"
         "    result.append(total / x.shape[0])\n    epoch += 1\nreturn result",),
        ("losses = []\nfor e in range(epochs):\n    batches = list(minibatches(x, t, batch_size, rng))\n"
         "    weighted = 0.0\n    for inp, tgt in batches:\n        c = criterion.fprop(model.fprop(inp), tgt)\n"
         "        weighted = weighted + float(c) * inp.shape[0]\n        model.bprop(criterion.bprop())\n"
         "        sgd_step(model.params(), model.grads(), lr)\n"
         "    losses.append(weighted / sum(len(inp) for inp, _ in batches))\nreturn losses",),
    ],
    "models": [
        ("return Sequential(Linear(784, 10, rng=rng, dtype=np.float32), SoftMax())",
         "layers = [Linear(784, 200, rng=rng, dtype=np.float32), Tanh(),\n"
         "          Linear(200, 10, rng=rng, dtype=np.float32), SoftMax()]\nreturn Sequential(*layers)"),
        ("model = Sequential(Linear(28 * 28, 10, rng, np.float32), SoftMax())\nreturn model",
         "hidden = Linear(28 * 28, 200, rng, np.float32)\noutput = Linear(200, 10, rng, np.float32)\n"
         "return Sequential(hidden, Tanh(), output, SoftMax())"),
        ("f32 = np.float32\nreturn Sequential(*[Linear(784, 10, rng=rng, dtype=f32), SoftMax()])",
         "f32 = np.float32\nsizes = [784, 200, 10]\n"
         "return Sequential(Linear(sizes[0], sizes[1], rng=rng, dtype=f32), Tanh(),\n"
         "                  Linear(sizes[1], sizes[2], rng=rng, dtype=f32), SoftMax())"),
    ],
    "relu": [
        ("self.y = np.maximum(z, 0)\nreturn self.y", "return grad_output * (self.y > 0)"),
        ("self.y = z * (z > 0)\nreturn self.y", "mask = self.y > 0\nreturn np.where(mask, grad_output, 0)"),
        ("out = z.copy()\nout[out < 0] = 0\nself.y = out\nreturn out",
         "g = grad_output.copy()\ng[self.y <= 0] = 0\nreturn g"),
    ],
    "dropout": [
        ("if self.training and self.p > 0:\n    scale = 1.0 / (1.0 - self.p)\n"
         "    self.mask = (self.rng.uniform(size=z.shape) > self.p).astype(z.dtype) * z.dtype.type(scale)\n"
         "    return self.mask * z\nself.mask = None\nreturn z",
         "if self.mask is None:\n    return grad_output\nreturn grad_output * self.mask"),
        ("self.mask = None\nif self.p == 0 or not self.training:\n    return z\nu = self.rng.random(size=z.shape)\n"
         "m = np.zeros(z.shape, dtype=z.dtype)\nm[u >= self.p] = 1 / (1 - self.p)\nself.mask = m\nreturn z * m",
         "return grad_output * self.mask if self.mask is not None else grad_output"),
        ("if not self.training or self.p == 0.0:\n    self.mask = None\n    return z\nkeep_prob = 1.0 - self.p\n"
         "draws = self.rng.random(z.shape)\n"
         "self.mask = np.where(draws < keep_prob, 1.0 / keep_prob, 0.0).astype(z.dtype)\nreturn z * self.mask",
         "g = grad_output\nif self.mask is not None:\n    g = g * self.mask\nreturn g"),
    ],
    "momentum": [
        ("params, grads = self.model.params(), self.model.grads()\nfor i, (p, g) in enumerate(zip(params, grads)):\n"
         "    self.velocities[i] = self.momentum * self.velocities[i] + g\n    p -= self.lr * self.velocities[i]",),
        ("for v, p, g in zip(self.velocities, self.model.params(), self.model.grads()):\n"
         "    v[...] = self.momentum * v + g\n    p[...] -= self.lr * v",),
        ("i = 0\nfor param, grad in zip(self.model.params(), self.model.grads()):\n    vel = self.velocities[i]\n"
         "    np.multiply(vel, self.momentum, out=vel)\n    np.add(vel, grad, out=vel)\n"
         "    param -= self.lr * vel\n    i += 1",),
    ],
    "conv2d": [
        ("self.z = z\nc_out = self.W.shape[0]\nself.cols = im2col(z, self.k, self.k, self.stride, self.padding)\n"
         "n, _, h, w = z.shape\nho = conv_output_size(h, self.k, self.stride, self.padding)\n"
         "wo = conv_output_size(w, self.k, self.stride, self.padding)\n"
         "out = np.tensordot(self.W.reshape(c_out, -1), self.cols, axes=1) + self.b[:, None]\n"
         "return np.moveaxis(out.reshape(c_out, ho, wo, n), 3, 0)",
         "c_out = self.W.shape[0]\ng = np.moveaxis(grad_output, 0, 3)\nflat_g = g.reshape(c_out, -1)\n"
         "self.grad_W = (self.cols @ flat_g.T).T.reshape(self.W.shape)\nself.grad_b = flat_g.sum(axis=1)\n"
         "dcols = self.W.reshape(c_out, -1).T @ flat_g\n"
         "return col2im(dcols, self.z.shape, self.k, self.k, self.stride, self.padding)"),
        ("self.z = z\ncols = im2col(z, self.k, self.k, self.stride, self.padding)\nself.cols = cols\n"
         "N, C, H, W = z.shape\nHo = (H + 2 * self.padding - self.k) // self.stride + 1\n"
         "Wo = (W + 2 * self.padding - self.k) // self.stride + 1\n"
         "y = np.dot(self.W.reshape(self.W.shape[0], -1), cols)\n"
         "y = y + self.b.reshape(-1, 1)\nreturn y.reshape(-1, Ho, Wo, N).transpose(3, 0, 1, 2)",
         "N, C, Ho, Wo = grad_output.shape\nG = grad_output.transpose(1, 2, 3, 0).reshape(C, Ho * Wo * N)\n"
         "self.grad_b = G.sum(axis=1)\n"
         "self.grad_W = np.dot(G, self.cols.T).reshape(self.W.shape)\n"
         "if not getattr(self, 'input_grad', True):\n    return None\n"
         "dcols = np.dot(self.W.reshape(C, -1).T, G)\n"
         "return col2im(dcols, self.z.shape, self.k, self.k, self.stride, self.padding)"),
        ("self.z = z\nself.cols = im2col(z, self.k, self.k, self.stride, self.padding)\n"
         "n = z.shape[0]\nho = conv_output_size(z.shape[2], self.k, self.stride, self.padding)\n"
         "wo = conv_output_size(z.shape[3], self.k, self.stride, self.padding)\n"
         "w = self.W.reshape(self.W.shape[0], -1)\n"
         "y = np.einsum('ck,khwn->nchw', w, self.cols.reshape(-1, ho, wo, n))\n"
         "return y + self.b[None, :, None, None]",
         "n, _, ho, wo = grad_output.shape\nw = self.W.reshape(self.W.shape[0], -1)\n"
         "self.grad_b = grad_output.sum(axis=(0, 2, 3))\n"
         "fields = self.cols.reshape(-1, ho, wo, n)\n"
         "self.grad_W = np.einsum('nchw,khwn->ck', grad_output, fields).reshape(self.W.shape)\n"
         "dcols = np.einsum('nchw,ck->khwn', grad_output, w).reshape(self.cols.shape)\n"
         "return col2im(dcols, self.z.shape, self.k, self.k, self.stride, self.padding)"),
    ],
    "cnn": [
        ("conv1 = Conv2d(1, 8, 5, padding=2, rng=rng, dtype=dtype)\n"
         "conv2 = Conv2d(8, 16, 5, padding=2, rng=rng, dtype=dtype)\n"
         "fc1 = Linear(16 * 7 * 7, 128, rng=rng, dtype=dtype)\nfc2 = Linear(128, 10, rng=rng, dtype=dtype)\n"
         "return Sequential(Reshape(1, 28, 28), conv1, ReLU(), MaxPool2d(2), conv2, ReLU(), MaxPool2d(2),\n"
         "                  Flatten(), fc1, ReLU(), Dropout(0.3, rng=rng), fc2, LogSoftMax())",),
        ("layers = [Reshape(1, 28, 28)]\nfor c_in, c_out in [(1, 8), (8, 16)]:\n"
         "    layers += [Conv2d(c_in, c_out, 5, stride=1, padding=2, rng=rng, dtype=dtype), ReLU(), MaxPool2d(2)]\n"
         "layers += [Flatten(), Linear(784, 128, rng=rng, dtype=dtype), ReLU(), Dropout(p=0.3, rng=rng)]\n"
         "layers += [Linear(128, 10, rng=rng, dtype=dtype), LogSoftMax()]\nreturn Sequential(*layers)",),
        ("def conv_block(c_in, c_out):\n"
         "    return [Conv2d(c_in, c_out, kernel_size=5, padding=2, rng=rng, dtype=dtype), ReLU(), MaxPool2d(2)]\n\n"
         "return Sequential(Reshape(1, 28, 28), *conv_block(1, 8), *conv_block(8, 16), Flatten(),\n"
         "                  Linear(7 * 7 * 16, 128, rng=rng, dtype=dtype), ReLU(), Dropout(0.3, rng=rng),\n"
         "                  Linear(128, 10, rng=rng, dtype=dtype), LogSoftMax())",),
    ],
}

CORE = ("linear", "tanh", "softmax", "cross_entropy", "numerical_jacobian", "backprop_jacobian", "max_mixed_error",
        "sgd_step", "train", "models")  # parts 1-3; the rest is the bonus (part 4)

# What a copier changes: local names (whole words), pairs of independent lines swapped, comments added.
RENAMES = {"out": "result_arr", "dW": "gw", "db": "gb", "grad_input": "back", "derivative": "dtanh",
           "shifted": "stable", "ex": "expo", "dot": "inner", "eps": "floor_val", "n": "count", "J": "jac_matrix",
           "xi": "saved", "fp": "f_plus", "fm": "f_minus", "cols": "columns_list", "history": "all_losses",
           "epoch_loss": "running", "seen": "n_seen", "xb": "batch_x", "tb": "batch_t", "loss": "batch_cost",
           "p": "param", "g": "grad", "flat_g": "gflat", "flat_cols": "cflat", "dcols": "dc", "kernels": "kmat"}
SWAPS = [("self.grad_W, self.grad_b = dW, db", "grad_input = np.dot(grad_output, self.W.T)"),
         ("dW = np.dot(self.z.T, grad_output)", "db = np.sum(grad_output, axis=0)"),
         ("epoch_loss += loss * xb.shape[0]", "seen += xb.shape[0]"),
         ("self.grad_W = (flat_cols.T @ flat_g).T.reshape(self.W.shape)", "self.grad_b = flat_g.sum(axis=0)")]


def disguise(body: str) -> str:
    """A copier's version of ``body``: names renamed, independent lines swapped, a comment added."""
    lines = body.split("\n")
    for first, second in SWAPS:
        where = {line.strip(): k for k, line in enumerate(lines)}
        if first in where and second in where:
            i, j = where[first], where[second]
            lines[i], lines[j] = lines[i].replace(first, second), lines[j].replace(second, first)
    text = "\n".join(lines)
    for old, new in RENAMES.items():  # whole names, not attributes, strings or keyword arguments
        text = re.sub(rf"(?<![.\w'\"]){re.escape(old)}\b(?!=[^=])", new, text)
    return "# my own solution\n" + text


def release_notebooks() -> dict[str, nbformat.NotebookNode]:
    """The release, what every student starts from: ``{stem: notebook}``."""
    return {path.stem: nbformat.read(path, as_version=4) for path in sorted(RELEASE.glob("*.ipynb"))}


def answer(source: str, bodies: tuple[str | None, ...]) -> str:
    """``source`` (a release answer cell) with its stubs replaced by ``bodies`` (None: left as it is),
    indented like the stubs."""
    stubs = list(STUB.finditer(source))
    if len(stubs) != len(bodies):
        raise ValueError(f"{len(bodies)} bodies for {len(stubs)} stubs")
    for stub, body in reversed(list(zip(stubs, bodies, strict=True))):
        if body is None:  # left as released
            continue
        indent = stub.group(1)
        text = "\n".join(indent + line if line else line for line in body.split("\n"))
        source = source[: stub.start()] + text + source[stub.end():]
    return source


def student(answers: dict[str, tuple[str | None, ...]]) -> dict[str, nbformat.NotebookNode]:
    """The release with the answer cells of ``answers`` (``{grade_id: bodies}``) written in."""
    notebooks = release_notebooks()
    for notebook in notebooks.values():
        for cell in notebook.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if cell.cell_type == "code" and grade_id in answers:
                cell.source = answer(cell.source, answers[grade_id])
    return notebooks


def choose(choice: dict[str, int]) -> dict[str, tuple[str, ...]]:
    """``{grade_id: variant index}`` -> ``{grade_id: bodies}``."""
    return {grade_id: VARIANTS[grade_id][index] for grade_id, index in choice.items()}


def cohort(size: int, seed: int = 0, cells: tuple[str, ...] = tuple(VARIANTS)) -> list[dict[str, tuple[str, ...]]]:
    """``size`` students' answers, each method body drawn from that stub's variants.

    For every stub (a method of a cell) the variants are dealt out evenly in a random order, so two
    students share a stub's body about as often as the number of variants allows (with three
    variants, a third of the time): as in a real cohort, short canonical answers recur; whole cells
    written alike are rarer, as each of their methods is drawn separately.
    """
    rng = random.Random(seed)
    students: list[dict[str, list[str]]] = [{} for _ in range(size)]
    for grade_id in cells:
        variants = VARIANTS[grade_id]
        for stub in range(len(variants[0])):
            deal = [k % len(variants) for k in range(size)]
            rng.shuffle(deal)
            for answers, index in zip(students, deal, strict=True):
                answers.setdefault(grade_id, []).append(variants[index][stub])
    return [{grade_id: tuple(bodies) for grade_id, bodies in answers.items()} for answers in students]


def copied(answers: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """What a student who copied ``answers`` hands in (see :func:`disguise`)."""
    return {grade_id: tuple(disguise(body) for body in bodies) for grade_id, bodies in answers.items()}


def write_student(folder: Path, notebooks: dict[str, nbformat.NotebookNode]) -> Path:
    """``folder/<stem>.ipynb`` for every notebook."""
    folder.mkdir(parents=True, exist_ok=True)
    for stem, notebook in notebooks.items():
        nbformat.write(notebook, folder / f"{stem}.ipynb")
    return folder

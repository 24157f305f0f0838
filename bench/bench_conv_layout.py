"""A proposal, measured: the CNN's train step with the reference Conv2d vs two rewrites of it.

* ``fprop 2-D matmul``: the reference cell with its forward product on 2-D matrices (one GEMM
  instead of N·H_out small ones).
* ``channel-first columns``: im2col's rows as *columns*, ``(C·k·k, N·H_out·W_out)``, filled one
  kernel offset at a time. Every product is then one GEMM on contiguous operands, and neither
  im2col nor col2im makes the large 6-D transposed copy of the current layout
  ``(N, H_out, W_out, C·k·k)``. This changes dlcore.im2col's layout and the 04 solution cells,
  so it is only measured here.

All variants start from the same weights (the outputs and gradients are checked to agree) and
their steps are interleaved, so the ratios come from one run. Usage:
``python bench/bench_conv_layout.py [--steps 60] [--data DIR]`` (set OPENBLAS_NUM_THREADS=1 on a
busy machine).
"""

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from dlcore import Adam, load_implementation
from dlcore.data import load_mnist, one_hot
from dlcore.im2col import conv_output_size, im2col
from dlcore.models import build_model

REPO = Path(__file__).resolve().parents[1]
impl = load_implementation(REPO / "solutions")
Ref = impl.Conv2d

class Matmul2d(Ref):
    """Reference, but the forward product on 2-D matrices (one GEMM instead of N·H_out small ones)."""
    def fprop(self, z):
        self.z_shape = z.shape
        self.cols = im2col(z, self.k, self.k, self.stride, self.padding)
        n, oh, ow, ckk = self.cols.shape
        y = (self.cols.reshape(-1, ckk) @ self.W.reshape(len(self.W), -1).T + self.b).reshape(n, oh, ow, -1)
        return y.transpose(0, 3, 1, 2)

def im2col_cf(x, k, s, p):
    """Columns channel-first: (C·k·k, N·oh·ow), filled one kernel offset at a time (no 6-D transpose)."""
    n, c, h, w = x.shape
    oh, ow = conv_output_size(h, k, s, p), conv_output_size(w, k, s, p)
    xt = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p))).transpose(1, 0, 2, 3)  # (C, N, H', W') view
    out = np.empty((c, k, k, n, oh, ow), dtype=x.dtype)
    for i in range(k):
        for j in range(k):
            out[:, i, j] = xt[:, :, i:i + s * oh:s, j:j + s * ow:s]
    return out.reshape(c * k * k, n * oh * ow)

def col2im_cf(cols, x_shape, k, s, p):
    n, c, h, w = x_shape
    oh, ow = conv_output_size(h, k, s, p), conv_output_size(w, k, s, p)
    f = cols.reshape(c, k, k, n, oh, ow)
    padded = np.zeros((c, n, h + 2 * p, w + 2 * p), dtype=cols.dtype)
    for i in range(k):
        for j in range(k):
            padded[:, :, i:i + s * oh:s, j:j + s * ow:s] += f[:, i, j]
    return np.ascontiguousarray(padded[:, :, p:p + h, p:p + w].transpose(1, 0, 2, 3))

class ChannelFirst(Ref):
    """Columns as (C·k·k, N·oh·ow): every product is one GEMM, no large transposed copy."""
    def fprop(self, z):
        self.z_shape = z.shape
        n, _, h, w = z.shape
        self.oh = conv_output_size(h, self.k, self.stride, self.padding)
        self.ow = conv_output_size(w, self.k, self.stride, self.padding)
        self.cols = im2col_cf(z, self.k, self.stride, self.padding)
        y = self.W.reshape(len(self.W), -1) @ self.cols + self.b[:, None]  # (C_out, N·oh·ow)
        return y.reshape(-1, n, self.oh, self.ow).transpose(1, 0, 2, 3)
    def bprop(self, grad_output):
        c_out = len(self.W)
        g = grad_output.transpose(1, 0, 2, 3).reshape(c_out, -1)  # (C_out, N·oh·ow), a small copy
        self.grad_W = (g @ self.cols.T).reshape(self.W.shape)
        self.grad_b = g.sum(axis=1)
        if not self.input_grad:
            return None
        return col2im_cf(self.W.reshape(c_out, -1).T @ g, self.z_shape, self.k, self.stride, self.padding)

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--steps", type=int, default=60)
parser.add_argument("--data", type=Path, default=None)
args = parser.parse_args()
m = load_mnist(args.data, dtype=np.float32)
x, t = m.x_train[:100], one_hot(m.y_train[:100], 10, dtype=np.float32)
variants = {"reference": Ref, "fprop 2-D matmul (cell)": Matmul2d, "channel-first columns": ChannelFirst}
outs = {}
for name, cls in variants.items():
    impl.Conv2d = cls
    model, crit = build_model("cnn", impl, np.random.default_rng(0), np.float32)
    model.eval()
    model.input_grad = model[1].input_grad = True
    crit.fprop(model.fprop(x), t)
    outs[name] = [model.bprop(crit.bprop()), *[g.copy() for g in model.grads()]]
for name, arrays in outs.items():  # the same function: same gradients up to float32 rounding
    assert all(np.allclose(a, b, rtol=1e-3, atol=1e-6) for a, b in zip(arrays, outs["reference"], strict=True)), name
models = {}
for name, cls in variants.items():
    impl.Conv2d = cls
    model, crit = build_model("cnn", impl, np.random.default_rng(0), np.float32)
    models[name] = (model, crit, Adam(model, 1e-3))
times = {name: [] for name in variants}
for r in range(args.steps):
    for name in (list(variants) if r % 2 == 0 else list(reversed(variants))):
        model, crit, opt = models[name]
        s = time.perf_counter()
        crit.fprop(model.fprop(x), t)
        model.bprop(crit.bprop())
        opt.step()
        times[name].append(time.perf_counter() - s)
ref = statistics.median(times["reference"])
for name, ts in times.items():
    med = statistics.median(ts)
    print(f"{name:<26} {med * 1e3:7.2f} ms per batch of 100  ratio to reference {med / ref:.3f}")

"""Seconds per epoch of the reference MLP in float32, next to the same network in plain numpy.

Linear(784, 200), Tanh, Linear(200, 10), SoftMax, cross-entropy, plain SGD (λ = 0.1, batch 100).
Both start from the same weights and see the same batches; their epochs are interleaved so
that the machine's noise falls on both alike, and the ratio is of medians from this one run.

The plain version is what one would write by hand: it never computes the gradient w.r.t. the
pixels (``g · W1ᵀ``, a third of the first layer's products). dlcore skips it too, through
``input_grad = False`` on the model's first module; ``--with-input-grad`` times dlcore with that
product switched back on, to show what it costs.

Usage: ``python bench/bench_mlp.py [--epochs 5] [--data DIR] [--impl solutions/]``
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from dlcore import SGD, load_implementation, train_epoch
from dlcore.data import load_mnist, minibatches, one_hot
from dlcore.models import build_model

REPO = Path(__file__).resolve().parents[1]
LR, BATCH = 0.1, 100


class PlainMLP:
    """The same network written out in numpy, without modules."""

    def __init__(self, w1: np.ndarray, b1: np.ndarray, w2: np.ndarray, b2: np.ndarray) -> None:
        self.w1, self.b1, self.w2, self.b2 = w1.copy(), b1.copy(), w2.copy(), b2.copy()

    def epoch(self, x: np.ndarray, t: np.ndarray, rng: np.random.Generator) -> float:
        total = 0.0
        for xb, tb in minibatches(x, t, BATCH, rng):
            h = np.tanh(xb @ self.w1 + self.b1)
            z = h @ self.w2 + self.b2
            e = np.exp(z - z.max(axis=1, keepdims=True))
            y = e / e.sum(axis=1, keepdims=True)
            total += float(-np.sum(tb * np.log(np.maximum(y, np.finfo(y.dtype).tiny))))
            g = (y - tb) / len(xb)  # softmax and cross-entropy gradients fused
            gw2, gb2 = h.T @ g, g.sum(axis=0)
            gh = (g @ self.w2.T) * (1 - h * h)
            gw1, gb1 = xb.T @ gh, gh.sum(axis=0)
            self.w1 -= LR * gw1
            self.b1 -= LR * gb1
            self.w2 -= LR * gw2
            self.b2 -= LR * gb2
        return total / len(x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--impl", type=Path, default=REPO / "solutions")
    parser.add_argument("--with-input-grad", action="store_true",
                        help="make dlcore compute the unused gradient w.r.t. the pixels")
    args = parser.parse_args()

    mnist = load_mnist(args.data, dtype=np.float32)
    x, t = mnist.x_train, one_hot(mnist.y_train, dtype=np.float32)
    model, criterion = build_model("mlp", load_implementation(args.impl), np.random.default_rng(0), np.float32)
    model.input_grad = args.with_input_grad
    plain = PlainMLP(*model.params())
    optimizer = SGD(model, LR)
    rngs = {"dlcore": np.random.default_rng(1), "plain": np.random.default_rng(1)}  # the same batches

    seconds: dict[str, list[float]] = {"dlcore": [], "plain": []}
    losses: dict[str, float] = {}
    runs = {"dlcore": lambda: train_epoch(model, criterion, optimizer, x, t, BATCH, rngs["dlcore"]),
            "plain": lambda: plain.epoch(x, t, rngs["plain"])}
    for epoch in range(args.epochs):
        for name in sorted(runs, reverse=epoch % 2 == 1):  # alternate which goes first
            start = time.perf_counter()
            losses[name] = runs[name]()
            seconds[name].append(time.perf_counter() - start)

    # The same network: from the same start on the same batches, the weights agree (float32 noise only).
    drift = float(np.max(np.abs(model.params()[0] - plain.w1)))
    median = {name: statistics.median(s) for name, s in seconds.items()}
    label = "dlcore (with input grad)" if args.with_input_grad else "dlcore"
    print(f"MLP 784-200-10, float32, batch {BATCH}, {args.epochs} epochs interleaved, median seconds per epoch")
    print(f"  {label:<24} {median['dlcore']:6.3f} s   mean train loss {losses['dlcore']:.4f}")
    print(f"  {'plain numpy':<24} {median['plain']:6.3f} s   mean train loss {losses['plain']:.4f}")
    print(f"  max |W1(dlcore) - W1(plain)| after training: {drift:.2e}")
    print(f"ratio dlcore / plain numpy: {median['dlcore'] / median['plain']:.3f}  (goal <= 1.10)")


if __name__ == "__main__":
    main()

"""Test errors and training time of the CLI's reference CNN recipe, and where the time goes.

Trains ``python -m dlcore train --model cnn`` in-process with the CLI's defaults (or the
options given), then prints the test errors, the training time (total and per epoch) and
whether the course's goals are met: at most 100 MNIST test errors within 10 minutes of training
on the course machine (two cores). Before training it times the forward and backward pass of
each layer on one mini-batch of 100 images (median of repeats), to show where an epoch goes.

Usage: ``python bench/bench_cnn.py [--epochs N] [--seed 0] [--data DIR] [--impl solutions/]
[--dataset mnist] [--profile-only]``
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import time
from pathlib import Path

import numpy as np

from dlcore import load_implementation
from dlcore.cli import DEFAULTS
from dlcore.cli import main as cli_main
from dlcore.data import load_dataset, one_hot
from dlcore.models import build_model

REPO = Path(__file__).resolve().parents[1]
TARGET_ERRORS, TARGET_SECONDS = 100, 600


def profile_layers(impl, x: np.ndarray, t: np.ndarray, n_train: int, repeats: int = 20) -> None:
    """Median forward and backward milliseconds of each layer of the CNN on the batch ``x``, in train mode,
    and what they add up to over an epoch of ``n_train`` samples (the optimizer's step left out)."""
    model, criterion = build_model("cnn", impl, np.random.default_rng(0), np.float32)
    model.train()
    layers = list(model)
    fwd = {i: [] for i in range(len(layers))}
    bwd = {i: [] for i in range(len(layers))}
    for _ in range(repeats):
        z = x
        for i, layer in enumerate(layers):
            start = time.perf_counter()
            z = layer.fprop(z)
            fwd[i].append(time.perf_counter() - start)
        criterion.fprop(z, t)
        g = criterion.bprop()
        for i in reversed(range(len(layers))):
            start = time.perf_counter()
            g = layers[i].bprop(g)
            bwd[i].append(time.perf_counter() - start)
    rows = [(repr(layer) if type(layer).__repr__ is not object.__repr__ else type(layer).__name__,
             statistics.median(fwd[i]) * 1e3, statistics.median(bwd[i]) * 1e3) for i, layer in enumerate(layers)]
    total = sum(f + b for _, f, b in rows)
    print(f"per-layer time for one batch of {len(x)} (float32, train mode, median of {repeats}), ms:")
    print(f"  {'layer':<44} {'forward':>8} {'backward':>9} {'share':>6}")
    for name, f, b in rows:
        print(f"  {name[:44]:<44} {f:8.2f} {b:9.2f} {100 * (f + b) / total:5.1f}%")
    print(f"  {'total':<44} {sum(f for _, f, _ in rows):8.2f} {sum(b for _, _, b in rows):9.2f}"
          f"  -> {total * n_train / len(x) / 1e3:.1f} s per epoch of {n_train // len(x)} batches", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None, help=f"default: the CLI's, {DEFAULTS['cnn']['epochs']}")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--impl", type=Path, default=REPO / "solutions")
    parser.add_argument("--profile-only", action="store_true", help="only the per-layer times, no training")
    args = parser.parse_args()

    impl = load_implementation(args.impl)
    data = load_dataset(args.dataset, args.data, dtype=np.float32)
    profile_layers(impl, data.x_train[:100], one_hot(data.y_train[:100], 10, dtype=np.float32), len(data.x_train))
    if args.profile_only:
        return

    argv = ["train", "--model", "cnn", "--dataset", args.dataset, "--seed", str(args.seed), "--impl", str(args.impl),
            "--json", "--no-progress"]
    argv += ["--data", str(args.data)] if args.data else []
    argv += ["--epochs", str(args.epochs)] if args.epochs else []
    out = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out):  # the per-epoch table goes to stderr, live
        status = cli_main(argv)
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(status)
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    seconds = [h["seconds"] for h in summary["history"]]
    training = sum(seconds)
    errors = summary["test_errors"]
    print(f"CNN on {args.dataset}, seed {args.seed}: {summary['epochs']} epochs, {summary['optimizer']} "
          f"lr {summary['lr']} ({summary['schedule']}), batch {summary['batch_size']}, float32")
    print("  test errors per epoch: " + " ".join(str(h["test_errors"]) for h in summary["history"]))
    print(f"  training {training:.1f} s in all, {statistics.median(seconds):.1f} s per epoch (median); "
          f"{wall:.1f} s wall-clock with loading and test evaluation")
    if args.dataset == "mnist":
        ok_errors, ok_time = errors <= TARGET_ERRORS, training <= TARGET_SECONDS
        print(f"  {errors} test errors: {'met' if ok_errors else 'MISSED'} (goal <= {TARGET_ERRORS}); "
              f"{training:.0f} s of training: {'met' if ok_time else 'MISSED'} (goal <= {TARGET_SECONDS} s)")


if __name__ == "__main__":
    main()

"""The CLI's CNN recipe against the same network in PyTorch, trained side by side, and where the time goes.

1. The forward and backward time of each layer of the dlcore CNN on one mini-batch of 100 images
   (median of repeats), to show where an epoch goes.
2. The dlcore CNN trained with the recipe of ``python -m dlcore train --model cnn`` (Adam λ 0.002,
   cosine schedule, 10 epochs, batches of 100, float32; the same code, :func:`dlcore.cli.train_recipe`).
3. The same architecture in PyTorch (CPU, its default threads), same optimizer, learning rate,
   schedule and batch size, for ``--torch-epochs`` epochs: the yardstick. Its epochs run between
   dlcore's (after epochs 3 and 7 of 10 by default), so that the load of a shared machine falls on
   both alike. PyTorch is not a requirement of the course: without it the benchmark says so and
   skips this part.

Then the seconds per epoch of both (median over epochs; training only, the test evaluation after
each epoch is left out of both), their ratio, the test errors, and whether the course's three CNN
goals are met: at most 100 MNIST test errors, within 10 minutes of training on the (idle, 2-core)
course machine, and within 2x of PyTorch's time per epoch measured beside it. The load averages
are printed too: the ratio means little when other jobs share the machine.

Usage: ``python bench/bench_cnn.py [--epochs N] [--torch-epochs 2] [--seed 0] [--data DIR]
[--impl solutions/] [--dataset mnist] [--profile-only] [--quick]``. ``--quick`` is a smoke run of
the same code path (one epoch of each on a subset): its figures are not the recipe's.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dlcore import EpochStats, load_implementation
from dlcore.cli import recipe, train_recipe
from dlcore.data import MNIST, load_dataset, one_hot
from dlcore.models import build_model
from dlcore.optim import cosine

REPO = Path(__file__).resolve().parents[1]
TARGET_ERRORS, TARGET_SECONDS, TARGET_RATIO = 100, 600, 2.0
TORCH_HINT = "pip install torch==2.13.0 (the CPU wheel)"


def profile_layers(impl, x: np.ndarray, t: np.ndarray, n_train: int,
                   repeats: int = 20) -> list[tuple[str, float, float]]:
    """Median forward and backward milliseconds of each layer of the CNN on the batch ``x (B, 784)`` with
    one-hot targets ``t (B, 10)``, in train mode, printed with what they add up to over an epoch of
    ``n_train`` samples (the optimizer's step left out). Returns ``[(layer, forward ms, backward ms)]``."""
    model, criterion = build_model("cnn", impl, np.random.default_rng(0), np.float32)
    model.train()
    layers = list(model)
    fwd = {i: [] for i in range(len(layers))}
    bwd = {i: [] for i in range(len(layers))}
    for _ in range(repeats + 1):  # the first pass warms up (allocations, caches) and is not counted
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
             statistics.median(fwd[i][1:]) * 1e3, statistics.median(bwd[i][1:]) * 1e3)
            for i, layer in enumerate(layers)]
    total = sum(f + b for _, f, b in rows)
    print(f"per-layer time for one batch of {len(x)} (float32, train mode, median of {repeats}), ms:")
    print(f"  {'layer':<44} {'forward':>8} {'backward':>9} {'share':>6}")
    for name, f, b in rows:
        print(f"  {name[:44]:<44} {f:8.2f} {b:9.2f} {100 * (f + b) / total:5.1f}%")
    print(f"  {'total':<44} {sum(f for _, f, _ in rows):8.2f} {sum(b for _, _, b in rows):9.2f}"
          f"  -> {total * n_train / len(x) / 1e3:.1f} s per epoch of {n_train // len(x)} batches", flush=True)
    return rows


@dataclass
class Run:
    """What one framework's training achieved: per-epoch test errors and training seconds."""

    name: str
    errors: list[int]
    seconds: list[float]

    @property
    def per_epoch(self) -> float:
        return statistics.median(self.seconds)


def log_epoch(name: str, epochs: int):
    def report(stats: EpochStats) -> None:
        print(f"  {name} epoch {stats.epoch:2}/{epochs}: train loss {stats.train_loss:.4f}, test errors "
              f"{stats.test_errors:5}, {stats.seconds:6.2f} s", file=sys.stderr, flush=True)
    return report


def train_dlcore(impl, data: MNIST, settings: dict, seed: int, after_epoch=None) -> Run:
    """The CLI's recipe (``python -m dlcore train --model cnn --seed seed``) on ``data``; ``after_epoch(epoch)``
    runs after each epoch's evaluation, outside the epoch's timed training."""
    rng = np.random.default_rng(seed)
    model, criterion = build_model("cnn", impl, rng, data.x_train.dtype)
    report = log_epoch("dlcore", settings["epochs"])

    def on_epoch(stats: EpochStats) -> None:
        report(stats)
        if after_epoch is not None:
            after_epoch(stats.epoch)

    history = train_recipe(model, criterion, rng, data, settings, on_epoch=on_epoch)
    return Run("dlcore", [h.test_errors for h in history], [h.seconds for h in history])


def import_torch():
    """PyTorch, or None with a message when it is missing (it is only the yardstick, never required)."""
    try:
        import torch
    except ImportError as exc:
        print(f"PyTorch is not installed ({exc}): the ratio to PyTorch is not measured. To measure it: "
              f"{TORCH_HINT}. dlcore itself does not need PyTorch.", flush=True)
        return None
    return torch


class TorchCNN:
    """The same CNN in PyTorch (default CPU threads), trained one epoch of the recipe at a time.

    Same layers, Adam at the recipe's λ with its cosine schedule (epoch e at the recipe's rate for
    epoch e), batches of 100 in a shuffled order, float32, NLL of log-softmax. The batches are taken
    from the tensors in memory as dlcore takes them from its arrays; PyTorch's own initialisation
    (only the time is compared).
    """

    def __init__(self, torch, data: MNIST, settings: dict, seed: int, epochs: int) -> None:
        nn = torch.nn
        assert settings["optimizer"] == "adam" and settings["schedule"] == "cosine", "the yardstick mirrors the recipe"
        torch.manual_seed(seed)
        self.torch, self.nn = torch, nn
        self.model = nn.Sequential(
            nn.Unflatten(1, (1, 28, 28)),
            nn.Conv2d(1, 8, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(784, 128), nn.ReLU(), nn.Dropout(0.3), nn.Linear(128, 10), nn.LogSoftmax(dim=1))
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=settings["lr"])
        self.schedule = cosine(settings["lr"], settings["epochs"])
        self.x_train, self.y_train = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
        self.x_test, self.y_test = torch.from_numpy(data.x_test), torch.from_numpy(data.y_test)
        self.generator = torch.Generator().manual_seed(seed)
        self.batch, self.report = int(settings["batch_size"]), log_epoch("torch ", epochs)
        self.run = Run("torch", [], [])

    def epoch(self) -> None:
        """One more epoch: train (timed), then count the test errors (not timed)."""
        torch, nn, model, x, y = self.torch, self.nn, self.model, self.x_train, self.y_train
        epoch = len(self.run.seconds) + 1
        for group in self.optimizer.param_groups:
            group["lr"] = self.schedule(epoch)
        model.train()
        total, start = 0.0, time.perf_counter()
        order = torch.randperm(len(x), generator=self.generator)
        for i in range(0, len(x), self.batch):
            idx = order[i:i + self.batch]
            self.optimizer.zero_grad()
            loss = nn.functional.nll_loss(model(x[idx]), y[idx])
            loss.backward()
            self.optimizer.step()
            total += loss.item() * len(idx)
        seconds = time.perf_counter() - start
        model.eval()
        with torch.no_grad():
            wrong = sum(int((model(self.x_test[i:i + 1000]).argmax(dim=1) != self.y_test[i:i + 1000]).sum())
                        for i in range(0, len(self.x_test), 1000))
        self.run.errors.append(wrong)
        self.run.seconds.append(seconds)
        self.report(EpochStats(epoch, total / len(x), wrong, seconds))


def interleave(torch_epochs: int, epochs: int) -> list[int]:
    """After which of dlcore's ``epochs`` to run each of PyTorch's epochs: spread over the run, so that a
    change in the machine's load during the run falls on both."""
    return [min(epochs, max(1, round((i + 1) * epochs / (torch_epochs + 1)))) for i in range(torch_epochs)]


def subset(data: MNIST, n_train: int | None, n_test: int | None) -> MNIST:
    """The first ``n_train`` training and ``n_test`` test samples (all when None)."""
    return MNIST(data.x_train[:n_train], data.y_train[:n_train], data.x_test[:n_test], data.y_test[:n_test])


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None, help="dlcore epochs (default: the recipe's, 10)")
    parser.add_argument("--torch-epochs", type=int, default=2,
                        help="PyTorch epochs, for its s/epoch (default 2; 0: no PyTorch)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--impl", type=Path, default=REPO / "solutions")
    parser.add_argument("--profile-only", action="store_true", help="only the per-layer times, no training")
    parser.add_argument("--profile-repeats", type=int, default=20)
    parser.add_argument("--train-size", type=int, default=None, help="train on the first N samples only")
    parser.add_argument("--test-size", type=int, default=None, help="evaluate on the first N test samples only")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 1 epoch of each on 5,000 training and 1,000 test samples, 3 profile repeats")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.torch_epochs = args.epochs or 1, 1
        args.train_size, args.test_size = args.train_size or 5000, args.test_size or 1000
        args.profile_repeats = min(args.profile_repeats, 3)

    impl = load_implementation(args.impl)
    data = subset(load_dataset(args.dataset, args.data, dtype=np.float32), args.train_size, args.test_size)
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} cores, load averages {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
          f"(1, 5, 15 min); numpy {np.__version__}, OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '-')}")
    if load[0] > 0.5:
        print("  the machine is busy: these times, and above all their ratio (PyTorch's threads suffer most from "
              "other jobs), are not those of an idle machine")
    profile_layers(impl, data.x_train[:100], one_hot(data.y_train[:100], 10, dtype=np.float32), len(data.x_train),
                   args.profile_repeats)
    if args.profile_only:
        return 0

    settings = recipe("cnn", epochs=args.epochs)
    quick = args.quick or args.train_size is not None or args.test_size is not None
    torch = import_torch() if args.torch_epochs > 0 else None
    yardstick, schedule = None, []
    if torch is not None:
        yardstick = TorchCNN(torch, data, settings, args.seed, args.torch_epochs)
        schedule = interleave(args.torch_epochs, settings["epochs"])
        print(f"PyTorch {torch.__version__} on the CPU ({torch.get_num_threads()} threads), same CNN and recipe: "
              f"{args.torch_epochs} epoch{'s' * (args.torch_epochs > 1)}, run after dlcore's epoch"
              f"{'s' * (len(set(schedule)) > 1)} {', '.join(map(str, sorted(set(schedule))))}", flush=True)

    def after_epoch(epoch: int) -> None:
        for _ in range(schedule.count(epoch)):
            yardstick.epoch()

    print(f"\ndlcore CNN on {args.dataset} ({len(data.x_train)} training samples), seed {args.seed}: "
          f"{settings['epochs']} epochs, {settings['optimizer']} lr {settings['lr']} ({settings['schedule']}), "
          f"batch {settings['batch_size']}, float32", flush=True)
    ours = train_dlcore(impl, data, settings, args.seed, after_epoch)
    training = sum(ours.seconds)
    print(f"  test errors per epoch: {' '.join(map(str, ours.errors))}")
    print(f"  training {training:.1f} s in all, {ours.per_epoch:.2f} s per epoch (median)", flush=True)
    theirs = yardstick.run if yardstick is not None else None
    if theirs is not None:
        print(f"PyTorch: test errors per epoch {' '.join(map(str, theirs.errors))}; "
              f"{theirs.per_epoch:.2f} s per epoch (median of {len(theirs.seconds)})", flush=True)

    load = os.getloadavg()
    print(f"\nload averages at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"dlcore {ours.per_epoch:.2f} s/epoch"
          + (f", PyTorch {theirs.per_epoch:.2f} s/epoch: ratio {ours.per_epoch / theirs.per_epoch:.2f}"
             if theirs else ", PyTorch not measured"))
    if quick:
        print("quick run (a subset, few epochs): not the recipe; the goals below apply to the full run only")
    if args.dataset != "mnist":
        return 0
    errors = ours.errors[-1]
    print(f"goals: {errors} test errors <= {TARGET_ERRORS}: {verdict(errors <= TARGET_ERRORS)}; "
          f"{training:.0f} s of training <= {TARGET_SECONDS} s: {verdict(training <= TARGET_SECONDS)}; ", end="")
    if theirs is None:
        why = "--torch-epochs 0" if args.torch_epochs == 0 else f"no PyTorch: {TORCH_HINT}"
        print(f"within {TARGET_RATIO:g}x of PyTorch: NOT MEASURED ({why})")
    else:
        ratio = ours.per_epoch / theirs.per_epoch
        print(f"ratio {ratio:.2f} <= {TARGET_RATIO:g}: {verdict(math.isfinite(ratio) and ratio <= TARGET_RATIO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

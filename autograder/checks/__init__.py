"""The check table: every graded test, in the order of the results. Extend it by adding a probe
(``autograder/sandbox/probes.py``) and a table entry here.

The core (parts 1-3, 100 points with MNIST) comes first; the bonus section (part 4, 50 points with
its MNIST target) follows, when the reference solutions include part 4.
"""

from __future__ import annotations

from pathlib import Path

from autograder.checks.base import Check, ProbeSpec
from autograder.checks.conv2d import conv2d_table
from autograder.checks.dropout import dropout_table
from autograder.checks.functions import function_table
from autograder.checks.mnist import BONUS, CORE, mnist_table
from autograder.checks.modules import module_table
from autograder.checks.momentum import momentum_table
from autograder.checks.relu import relu_table

MODULES = ("Linear", "Tanh", "SoftMax", "CrossEntropy")
BONUS_CLASSES = ("ReLU", "Dropout", "Momentum", "Conv2d")


def has_bonus(ref) -> bool:
    """True when the reference solutions define part 4's classes (its notebook is in ``solutions/``)."""
    return all(hasattr(ref, name) for name in BONUS_CLASSES)


def table(ref, mnist_dir: Path | None) -> tuple[list[ProbeSpec], list[Check]]:
    """All probes and checks; the MNIST ones only when ``mnist_dir`` is given."""
    probes: list[ProbeSpec] = []
    checks: list[Check] = []
    parts = [module_table(kind) for kind in MODULES] + [function_table()]
    if mnist_dir is not None:
        parts.append(mnist_table(ref, mnist_dir, CORE))
    if has_bonus(ref):
        parts += [relu_table(), dropout_table(), momentum_table(), conv2d_table(ref)]
        if mnist_dir is not None:
            parts.append(mnist_table(ref, mnist_dir, BONUS))
    for p, c in parts:
        probes += p
        checks += c
    return probes, checks


__all__ = ["Check", "ProbeSpec", "has_bonus", "table"]

"""The check table: every graded test, in the order of the results. Extend it by adding a probe
(``autograder/sandbox/probes.py``) and a table entry here."""

from __future__ import annotations

from pathlib import Path

from autograder.checks.base import Check, ProbeSpec
from autograder.checks.functions import function_table
from autograder.checks.mnist import mnist_table
from autograder.checks.modules import module_table

MODULES = ("Linear", "Tanh", "SoftMax", "CrossEntropy")


def table(ref, mnist_dir: Path | None) -> tuple[list[ProbeSpec], list[Check]]:
    """All probes and checks; the MNIST ones only when ``mnist_dir`` is given."""
    probes: list[ProbeSpec] = []
    checks: list[Check] = []
    parts = [module_table(kind) for kind in MODULES] + [function_table()]
    if mnist_dir is not None:
        parts.append(mnist_table(ref, mnist_dir))
    for p, c in parts:
        probes += p
        checks += c
    return probes, checks


__all__ = ["Check", "ProbeSpec", "table"]

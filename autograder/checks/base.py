"""The check table's two record types: a probe (what runs in the sandbox, on which inputs) and a
check (one graded test: points, and how to judge the probe's arrays)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from autograder.diagnose import Verdict

Arrays = dict[str, np.ndarray]


@dataclass(frozen=True)
class ProbeSpec:
    """``name`` is a key of ``autograder.sandbox.probes.PROBES``; probes of one ``group`` share a
    wall-clock budget in the sandbox. ``make_inputs(rng, ref)`` builds the inputs (``ref`` is the
    reference implementation, for cached values); with ``reference=True`` the probe also runs on
    the reference, in the grader, to give the expected arrays."""

    name: str
    group: str
    make_inputs: Callable[[np.random.Generator, object], Arrays]
    reference: bool = False
    mnist: bool = False


@dataclass(frozen=True)
class Check:
    """One test of the results: ``evaluate(got, expected, inputs)`` judges the probe's arrays."""

    name: str
    points: float
    probe: str
    evaluate: Callable[[Arrays, Arrays | None, Arrays], Verdict]
    # Credited only if one of these checks passes: properties (no in-place edits, float32, ...)
    # that an empty implementation also has (returning zeros) are not earned on their own.
    earned_if_any: tuple[str, ...] = ()
    # Credited only if all of these pass: the MNIST targets need the modules they train to be right,
    # so that pre-trained weights written by the student's code cannot stand in for working modules.
    earned_if_all: tuple[str, ...] = ()


PASS = Verdict(True, "")

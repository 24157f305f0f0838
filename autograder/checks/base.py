"""The check table's record types: a part (what shares a CPU budget and a jail's attention), its
probes (what runs in the jail, on which arguments) and its checks (one graded test each).

Every check has a stable ``id`` (``linear.bprop.grad_w``), separate from its ``title`` (what the
results show) and its messages: the nbgrader cell map, the gates, the feedback and the CSV
columns all join on ids. Every check also names the nbgrader test ``cell`` whose score it makes:
a cell's points are the sum of its checks' points (``autograder/instructor/build.py`` writes them
into the notebooks), so the gradebook and the headless grader give the same score.

A check judges only arrays it can compare with values the grader computed itself: the same probe
run on the reference implementation in the grader's process (``Probe.reference``), or a closed
form. Nothing a probe reports about itself is believed: forging a probe's answer gains no more
than computing the right arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autograder.diagnose import Verdict

Tree = Any  # a decoded reply: dicts, lists, arrays, numbers and strings
Cell = tuple[str, str]  # (notebook stem, grade_id) of an nbgrader test cell


@dataclass(frozen=True)
class Probe:
    """One request to the jail. ``make_args(rng)`` builds its arguments from a generator seeded by
    the probe's id (the same for every submission and run); with ``reference=True`` the grader
    runs the same probe on the reference implementation for the expected answer."""

    id: str
    probe: str  # a key of autograder.sandbox.probes.PROBES
    make_args: Callable[[np.random.Generator], dict]
    reference: bool = True


@dataclass(frozen=True)
class Check:
    """One graded test. ``evaluate(got, expected, args)`` judges the answers of its ``probes``; each
    argument maps a probe id to that probe's answer from the jail, its answer on the reference
    (None without one) and the arguments it was given."""

    id: str
    title: str
    points: float
    probes: tuple[str, ...]  # ids of Probes of the same part
    cell: Cell
    evaluate: Callable[[dict[str, Tree], dict[str, Tree | None], dict[str, dict]], Verdict]
    # Credited only if all of these checks pass (the MNIST targets need the modules they train).
    requires: tuple[str, ...] = ()


@dataclass(frozen=True)
class Part:
    """Probes that run together under one CPU budget, and the checks that judge them."""

    id: str  # "linear"; also the key of its CPU budget
    title: str  # "Linear": what messages call it
    probes: list[Probe]
    checks: list[Check]
    session: Any = None  # an MNIST training recipe (autograder.checks.mnist.Recipe), run instead of probes
    notes: list[str] = field(default_factory=list)


PASS = Verdict(True, "")


def fail(message: str) -> Verdict:
    return Verdict(False, message)


def student_error(tree: Tree, key: str = "error") -> str | None:
    """The student's error message carried by a reply (or one of its results), if any, in words."""
    if isinstance(tree, dict) and isinstance(tree.get(key), str):
        return student_message(tree[key])
    return None


def student_message(message: str) -> str:
    """What the student's code raised, said for the student: a stub not written yet, or a call to a
    reference of dlcore that graded code may not use."""
    if "NotImplementedError" in message:
        return message.split(" raised ")[0] + " is not implemented yet (it raises NotImplementedError)."
    if "DelegatedToReference" in message:
        return (message.split(" raised ")[0] + " calls dlcore's reference for its task, which graded code may not "
                "use: delegating earns nothing. " + message.split("DelegatedToReference: ", 1)[-1])
    return message


def results(tree: Tree, n: int) -> list[dict]:
    """The ``n`` per-case results of a reply, each a dict (a malformed reply gives error entries)."""
    items = tree.get("results") if isinstance(tree, dict) else None
    if student_error(tree) and not isinstance(items, list):  # the whole call failed (a crash, a timeout)
        return [{"error": tree["error"]}] * n
    if not isinstance(items, list) or len(items) != n:
        return [{"error": "your code's answer did not have one result per case"}] * n
    return [item if isinstance(item, dict) else {"error": "a malformed result"} for item in items]


def single(tree: Tree) -> dict:
    """The one result of a reply (``{"result": {...}}``); the whole call's error when it failed."""
    item = tree.get("result") if isinstance(tree, dict) else None
    if isinstance(item, dict):
        return item
    if student_error(tree):
        return {"error": tree["error"]}
    return {"error": "your code's answer did not have the expected form"}


def array(tree: Tree, *path: Any) -> np.ndarray | None:
    """The array at ``path`` in ``tree``, or None when it is missing or not an array of numbers."""
    node = tree
    for key in path:
        if isinstance(node, dict) and isinstance(key, str):
            node = node.get(key)
        elif isinstance(node, list) and isinstance(key, int) and -len(node) <= key < len(node):
            node = node[key]
        else:
            return None
    if isinstance(node, np.ndarray) and node.dtype.kind in "biuf":
        return node
    return None


def same_shape(got: np.ndarray | None, expected: np.ndarray) -> bool:
    return got is not None and got.shape == expected.shape

"""Grade one submission: build the inputs, run the probes in the sandbox, judge in this process."""

from __future__ import annotations

import os
import time
import zlib
from functools import lru_cache
from pathlib import Path

import numpy as np

from autograder.checks import table
from autograder.checks.base import Arrays, Check, ProbeSpec
from autograder.checks.mnist import TIMEOUTS, data_files
from autograder.checks.modules import CACHE_NOTE
from autograder.results import results, test_entry
from autograder.sandbox import probes as probe_code
from autograder.sandbox.launcher import Limits, ProbeOutcome, run_sandboxed

REPO = Path(__file__).resolve().parents[1]


def solutions_dir() -> Path:
    return Path(os.environ.get("AUTOGRADER_SOLUTIONS", REPO / "solutions"))


@lru_cache(maxsize=1)
def reference(path: str) -> object:
    """The reference implementation, loaded by the course's loader, in the grader only."""
    from dlcore.notebook_loader import load_implementation

    return load_implementation(path)


def default_mnist_dir() -> Path | None:
    from dlcore.data import default_data_dir

    for path in (default_data_dir("mnist"), REPO.parent / "shared" / "data" / "mnist"):
        if path.is_dir() and any(path.glob("train-images*")):
            return path
    return None


def _inputs(spec: ProbeSpec, ref) -> Arrays:
    # Seeded by the probe's name: the same inputs for every submission and every run.
    return spec.make_inputs(np.random.default_rng(zlib.crc32(spec.name.encode())), ref)


@lru_cache(maxsize=64)
def _expected(name: str, ref_path: str) -> Arrays:
    ref = reference(ref_path)
    spec = _specs(ref_path)[name]
    return probe_code.PROBES[name](ref, _inputs(spec, ref))


@lru_cache(maxsize=4)
def _specs(ref_path: str) -> dict[str, ProbeSpec]:
    probes, _ = table(reference(ref_path), None)  # reference probes are never MNIST ones
    return {p.name: p for p in probes}


def _judge(check: Check, outcome: ProbeOutcome, expected: Arrays | None, inputs: Arrays) -> tuple[bool, str]:
    part = check.probe.split(".")[0].replace("mnist", "MNIST")
    if outcome.problem is not None:
        return False, f"{part}: {outcome.problem}"
    got = outcome.arrays or {}
    if "__error__" in got:
        message = str(got["__error__"])
        if "AttributeError" in message and check.probe.endswith(".bprop"):
            message += " " + CACHE_NOTE
        if "raised NotImplementedError" in message:
            message = message.split(" raised ")[0] + " is not implemented yet (it raises NotImplementedError)."
        return False, f"{part}: {message}"
    try:
        verdict = check.evaluate(got, expected, inputs)
    except Exception as exc:  # missing keys, wrong shapes: the student's arrays were not what we asked for
        return False, (f"{part}: your code returned arrays that could not be compared with the expected ones "
                       f"({type(exc).__name__}: {str(exc)[:200]}); check the shapes your methods return.")
    return verdict.passed, verdict.message


def _gate(checks: list[Check], tests: list[dict]) -> None:
    """Withdraw property points from a part whose values are all wrong (see Check.earned_if_any)."""
    passed = {t["name"] for t in tests if t["status"] == "passed"}
    for check, test in zip(checks, tests, strict=True):
        if check.earned_if_any and test["status"] == "passed" and not passed & set(check.earned_if_any):
            test.update(score=0.0, status="failed",
                        output=f"{check.probe.split('.')[0]}: not credited yet: this property counts once the part "
                               "computes the expected values (none of its value tests passes).")
        missing = [name for name in check.earned_if_all if name not in passed]
        if missing and test["status"] == "passed":
            test.update(score=0.0, status="failed",
                        output=test["output"] + " Not credited yet: the target counts once the modules it trains "
                        "pass their value tests; these fail: " + "; ".join(missing) + ".")


def grade_submission(path: str | Path, *, timeout: float = 20.0, memory_mb: int = 4096,
                     mnist_dir: Path | None = None) -> dict:
    """Gradescope results for the notebook or folder of notebooks at ``path``.

    MNIST targets are graded when ``mnist_dir`` is given. Never raises for anything the student's
    code does; raises only when the grader itself cannot run (e.g. no reference solutions).
    """
    from dlcore.notebook_loader import NotebookLoadError, notebook_paths

    start = time.perf_counter()
    ref_path = str(solutions_dir().resolve())
    ref = reference(ref_path)
    specs, checks = table(ref, mnist_dir)
    inputs = {s.name: _inputs(s, ref) for s in specs}
    groups: dict[str, dict] = {}
    for s in specs:
        t = TIMEOUTS[s.name.split(".")[1]] if s.mnist else timeout
        groups.setdefault(s.group, {"name": s.group, "timeout": t, "probes": []})["probes"].append(s.name)
    try:
        notebooks = notebook_paths(path)
        run = run_sandboxed(notebooks, list(groups.values()),
                            {f"{n}/{k}": v for n, arrays in inputs.items() for k, v in arrays.items()},
                            Limits(memory_mb=memory_mb, load_timeout=max(2 * timeout, 10.0)),
                            data_files(mnist_dir) if mnist_dir is not None else [])
        outcomes, protections, load_error = run.outcomes, run.protections, run.load_error
    except NotebookLoadError as exc:
        outcomes = {s.name: ProbeOutcome(problem=f"no notebook to grade: {exc}") for s in specs}
        protections, load_error = [], str(exc)
    tests = []
    for check in checks:
        spec = next(s for s in specs if s.name == check.probe)
        expected = _expected(spec.name, ref_path) if spec.reference else None
        passed, message = _judge(check, outcomes[check.probe], expected, inputs[check.probe])
        tests.append(test_entry(check.name, check.points, passed, message))
    _gate(checks, tests)
    output = "Your notebooks could not be loaded: " + load_error + "\n" if load_error else ""
    if mnist_dir is None:
        output += "MNIST targets not graded in this run (--no-mnist).\n"
    output += "Sandbox: " + "; ".join(protections) if protections else ""
    return results(tests, time.perf_counter() - start, output.strip(),
                   {"sandbox": protections, "mnist_graded": mnist_dir is not None})

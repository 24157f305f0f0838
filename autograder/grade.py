"""Grade one submission: build every probe's arguments, run the probes in the jail, judge here.

The flow (one submission):

1. check that a jail can start here (:func:`autograder.sandbox.bwrap.preflight`): if not, the
   submission is *not graded*;
2. read the student's notebooks (regular files only, bounded sizes);
3. start a jail, load the notebooks in it (each in its own namespace, as "Run All" would);
4. for each part of the check table: run its probes (or, for an MNIST target, drive the training
   session), each within the part's CPU budget, and judge every check against the reference's
   answers computed in this process;
5. write the results, with the CPU seconds each part took next to the reference's.

Budgets are CPU seconds, derived from the reference's own cost on this machine
(:mod:`autograder.calibration`); the wall clock is only a loose safety net, and when it trips
because the machine is overloaded the submission is *not graded* (retry later), never scored.
"""

from __future__ import annotations

import contextlib
import os
import time
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from autograder.checks import has_bonus, table
from autograder.checks.base import Part
from autograder.checks.mnist import Training, data_files
from autograder.checks.mnist import train as train_mnist
from autograder.diagnose import Verdict
from autograder.results import clip, not_graded, results, test_entry
from autograder.sandbox import bwrap
from autograder.sandbox.jail import Box, Budget, Outcome
from autograder.sandbox.library import build_library, matplotlib_config
from autograder.sandbox.probes import run as run_probe
from dlcore.course import NOTEBOOKS, OWNERS

REPO = Path(__file__).resolve().parents[1]
LOAD = "load"  # the key of the notebooks' loading in budgets and costs


class NotGraded(Exception):  # noqa: N818 - a state, not an error of the student's
    """The grader could not grade this submission; ``retry`` says whether trying again may work."""

    def __init__(self, reason: str, retry: bool, detail: str = "") -> None:
        super().__init__(reason)
        self.reason, self.retry, self.detail = reason, retry, detail


def solutions_dir() -> Path:
    return Path(os.environ.get("AUTOGRADER_SOLUTIONS", REPO / "solutions"))


@lru_cache(maxsize=2)
def reference(path: str):
    """The reference implementation, loaded by the course's loader, in the grader only."""
    from autograder.sandbox.probes import load

    folder = Path(path)
    if not folder.is_dir() or not any(folder.glob("*.ipynb")):
        raise FileNotFoundError(f"no reference notebooks in {folder} (set AUTOGRADER_SOLUTIONS)")
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):  # the demo cells print
        impl, _ = load(str(folder), OWNERS, stop_on_error=True)
    return impl


def default_mnist_dir() -> Path | None:
    from dlcore.data import default_data_dir

    for path in (default_data_dir("mnist"), REPO.parent / "shared" / "data" / "mnist"):
        if path.is_dir() and any(path.glob("train-images*")):
            return path
    return None


def probe_args(probe_id: str, make) -> dict:
    # Seeded by the probe's id: the same arguments for every submission and every run.
    return make(np.random.default_rng(zlib.crc32(probe_id.encode())))


@lru_cache(maxsize=256)
def _expected(probe_id: str, ref_path: str) -> object:
    ref = reference(ref_path)
    for part in table(has_bonus(ref)):
        for probe in part.probes:
            if probe.id == probe_id:
                return run_probe(ref, probe.probe, probe_args(probe.id, probe.make_args))
    raise KeyError(probe_id)


@lru_cache(maxsize=1)
def _preflight() -> bwrap.Preflight:
    return bwrap.preflight()


def canonical_notebooks(notebooks: dict[str, bytes]) -> tuple[dict[str, bytes], list[str]]:
    """The course's notebooks by their course names: an exact name, else the same leading number
    (``01_modules (1).ipynb`` is ``01_modules.ipynb``); the others are left out, with a note."""
    out, notes = {}, []
    for name, data in sorted(notebooks.items()):
        stem = name[: -len(".ipynb")]
        match = stem if stem in NOTEBOOKS else next((nb for nb in NOTEBOOKS if stem[:2] == nb[:2]), None)
        if match is None or f"{match}.ipynb" in out:
            notes.append(f"{name} is not one of the course's notebooks ({', '.join(NOTEBOOKS)}): not graded")
            continue
        out[f"{match}.ipynb"] = data
    return out, notes


@dataclass
class Options:
    """How to grade: MNIST folder (None: targets not graded), budgets, jail limits."""

    mnist_dir: Path | None = None
    calibration: object = None  # autograder.calibration.Calibration; None: calibrate (or read the cache)
    memory_mb: int = 4096


def grade_submission(path: str | Path, *, mnist_dir: Path | None = None, calibration=None,
                     memory_mb: int = 4096) -> dict:
    """Results (Gradescope's format) for the notebook or folder of notebooks at ``path``.

    Never raises for anything the student's code does. Returns a not-graded result (no score)
    when the grader cannot grade: no sandbox, an overloaded machine; raises only when the grader
    itself is broken (no reference solutions).
    """
    start = time.perf_counter()
    try:
        return _grade(Path(path), Options(mnist_dir, calibration, memory_mb), start)
    except NotGraded as exc:
        return not_graded(exc.reason, retry=exc.retry, detail=exc.detail,
                          execution_time=time.perf_counter() - start)


def _grade(path: Path, options: Options, start: float) -> dict:
    from autograder.calibration import load_or_calibrate
    from autograder.intake import read_submission

    check = _preflight()
    if not check.ok:
        raise NotGraded("the grading machine cannot run student code safely.", retry=False, detail=check.problem)
    ref_path = str(solutions_dir().resolve())
    ref = reference(ref_path)
    parts = table(has_bonus(ref), mnist=options.mnist_dir is not None)
    calibration = options.calibration or load_or_calibrate(ref_path, options.mnist_dir, memory_mb=options.memory_mb)
    intake = read_submission(path)
    notebooks, notes = canonical_notebooks(intake.notebooks)
    notes = [*intake.refused, *notes]
    run = Run(notebooks, ref, ref_path, parts, calibration, options)
    try:
        run.grade()
    finally:
        run.close()
    return run.results(time.perf_counter() - start, notes)


class Run:
    """One submission's grading: its jail, the answers gathered so far, what each part cost."""

    def __init__(self, notebooks: dict[str, bytes], ref, ref_path: str, parts: list[Part], calibration,
                 options: Options) -> None:
        from autograder.checks.mnist import SharedMemory

        self.ref, self.ref_path, self.parts, self.calibration, self.options = ref, ref_path, parts, calibration, options
        self.library = build_library()
        self.shared = SharedMemory() if options.mnist_dir is not None else None
        self.box = Box(notebooks=notebooks, owners=OWNERS, library=self.library.root,
                       data=data_files(options.mnist_dir) if options.mnist_dir is not None else [],
                       limits=bwrap.Limits(memory_mb=options.memory_mb), mpl_cache=matplotlib_config(),
                       shared_fds=tuple(self.shared.fds) if self.shared else ())
        self.got: dict[str, object] = {}
        self.part_problem: dict[str, str] = {}
        self.cost: dict[str, float] = {}
        self.load_problem: str | None = None
        self.empty = not notebooks
        self.start_cpu = time.process_time()

    def close(self) -> None:
        self.box.close()
        self.library.close()
        if self.shared is not None:
            self.shared.close()

    # --- running ------------------------------------------------------------------------------

    def _start(self) -> bool:
        """A jail with the notebooks loaded; False (and ``load_problem`` set) when they do not load."""
        if self.box.alive:
            return True
        if self.load_problem is not None:
            return False
        budget = self.calibration.budget(LOAD)
        outcome = self.box.start(budget)
        self.cost[LOAD] = self.cost.get(LOAD, 0.0) + outcome.cpu
        if outcome.ok:
            return True
        if outcome.kind == "overloaded":
            raise NotGraded("the grading machine was too busy to load your notebooks in time.", retry=True)
        self.load_problem = ("your notebooks did not finish loading: " + self._describe(outcome, budget, LOAD)
                             + " Check the code at the top level of your cells (an endless loop, sys.exit or "
                               "os._exit outside a function?).")
        return False

    def grade(self) -> None:
        if self.empty:
            self.load_problem = "no notebook of the course was found in your submission."
            return
        for part in self.parts:
            if not self._start():
                return
            budget = self.calibration.budget(part.id)
            if part.session is not None:
                failing = self._failing(part.session.requires)
                if failing:  # no CPU spent training modules known to be wrong: the target would not count
                    self.part_problem[part.id] = ("not trained: the target counts once the modules it trains pass "
                                                  "their value tests; these fail: " + "; ".join(failing) + ".")
                    continue
                self._train(part, budget)
            else:
                self._probe(part, budget)

    def _failing(self, ids: tuple[str, ...]) -> list[str]:
        """The titles of the checks among ``ids`` that fail on what has been gathered so far."""
        failing = []
        for part in self.parts:
            for check in part.checks:
                if check.id in ids and not self._judge(part, check).passed:
                    failing.append(check.title)
        return failing

    def _probe(self, part: Part, budget: Budget) -> None:
        used = 0.0
        for probe in part.probes:
            if part.id in self.part_problem:
                break
            if not self._start():
                return
            left = Budget(max(budget.cpu - used, 0.01), budget.wall)
            outcome = self.box.call(probe.probe, probe_args(probe.id, probe.make_args), left)
            used += outcome.cpu
            self.cost[part.id] = used
            if outcome.kind == "reply":
                self.got[probe.id] = outcome.value
            elif outcome.kind == "error":
                self.got[probe.id] = {"error": clip(outcome.message, 800)}
            elif outcome.kind in ("crashed", "broken"):
                where = f" in {outcome.stage}" if outcome.stage else ""
                self.got[probe.id] = {"error": f"{outcome.message}{where}"}
            elif outcome.kind == "overloaded":
                raise NotGraded(f"the grading machine was too busy to finish grading {part.title} in time.",
                                retry=True)
            else:  # timeout, idle: the rest of the part is not run
                outcome.cpu = used  # the part's CPU seconds, not this call's: the budget is the part's
                self.part_problem[part.id] = self._describe(outcome, budget, part.id)

    def _train(self, part: Part, budget: Budget) -> None:
        training: Training = train_mnist(self.box, part.session, self.ref, self.options.mnist_dir,
                                         self.shared, budget)
        self.cost[part.id] = training.cpu or (training.outcome.cpu if training.outcome else 0.0)
        self.cost[f"{part.id} (grader)"] = training.grader_cpu
        outcome = training.outcome
        if outcome is None or outcome.ok:
            self.got[f"mnist.{part.session.name}"] = training
        elif outcome.kind == "overloaded":
            raise NotGraded(f"the grading machine was too busy to finish training your {part.session.name} model.",
                            retry=True)
        elif outcome.kind == "error":
            self.part_problem[part.id] = (f"training your {part.session.name} model on MNIST: "
                                          + clip(outcome.message, 600))
        else:
            self.part_problem[part.id] = (f"training your {part.session.name} model on MNIST: "
                                          + self._describe(outcome, budget, part.id))

    def _describe(self, outcome: Outcome, budget: Budget, key: str) -> str:
        where = f" in {outcome.stage}" if outcome.stage else ""
        ref = self.calibration.reference(key)
        reference = f", the reference's {ref:.1f} s" if ref else ""
        if outcome.kind == "timeout":
            return (f"your code timed out{where}: it used {outcome.cpu:.1f} CPU seconds, {budget.cpu:.1f} are "
                    f"allowed ({self.calibration.factor:g} × the reference's cost on this machine{reference}, at "
                    f"least {self.calibration.floor(key):g} s).")
        if outcome.kind == "idle":
            return (f"your code waited{where} for {outcome.wall:.0f} s without computing (sleep, input(), a lock?): "
                    f"it used {outcome.cpu:.1f} CPU seconds.")
        if outcome.kind == "error":
            return clip(outcome.message, 600)
        return f"{outcome.message}{where}." if outcome.message else f"the process running your code stopped{where}."

    # --- judging -----------------------------------------------------------------------------

    def results(self, elapsed: float, notes: list[str]) -> dict:
        tests, passed = [], set()
        for part in self.parts:
            for check in part.checks:
                verdict = self._judge(part, check)
                if verdict.passed:
                    passed.add(check.id)
                tests.append((check, verdict))
        entries = []
        for check, verdict in tests:
            missing = [c.title for c, _ in tests if c.id in check.requires and c.id not in passed]
            ok, message = verdict.passed, verdict.message
            if ok and missing:
                ok, message = False, (message + " Not credited yet: the target counts once the modules it trains pass "
                                      "their value tests; these fail: " + "; ".join(missing) + ".")
            entries.append(test_entry(check.id, check.title, check.points, ok, message))
        output = []
        if self.box.notebooks:
            names = [n + (" (bonus)" if n.startswith("04") else "") for n in sorted(self.box.notebooks)]
            output.append(f"Graded: {', '.join(names)}. Each test below says what it checked and, if it failed, "
                          "what to look at first.")
        if self.load_problem:
            output.append(self.load_problem[0].upper() + self.load_problem[1:] + " Fix that, restart the kernel and "
                          "run all cells, save, and submit again.")
        if self.box.load_errors:
            output.append("These cells of yours failed when your notebooks ran (the rest still ran): "
                          + " | ".join(self.box.load_errors[:5]))
        if notes:
            output.append("Some files were not graded:\n" + "\n".join(f"- {n}" for n in notes[:20])
                          + "\nUpload the notebook files themselves (in JupyterLab: File › Download) and submit again.")
        if self.options.mnist_dir is None:
            output.append("The MNIST training targets were not graded in this run.")
        cpu_parts = {k: {"jail": round(v, 2), "reference": round(self.calibration.reference(k) or 0, 2)}
                     for k, v in self.cost.items()}
        grader = time.process_time() - self.start_cpu
        extra = {"sandbox": bwrap.protections(self.box.limits), "mnist_graded": self.options.mnist_dir is not None,
                 "cpu_seconds": {"jail": round(self.box.cpu_total, 2), "parts": cpu_parts, "grader": round(grader, 2),
                                 "total": round(self.box.cpu_total + grader, 2)}}
        return results(entries, elapsed, "\n".join(output), extra)

    def _judge(self, part: Part, check) -> Verdict:
        if self.load_problem:
            return Verdict(False, f"{part.title}: not run, {self.load_problem}")
        if part.id in self.part_problem and not all(p in self.got for p in check.probes):
            return Verdict(False, f"{part.title}: {self.part_problem[part.id]}")
        got = {p: self.got.get(p, {"error": "not run"}) for p in check.probes}
        expected = {}
        args = {}
        for probe in part.probes:
            if probe.id in check.probes:
                args[probe.id] = probe_args(probe.id, probe.make_args)
                expected[probe.id] = _expected(probe.id, self.ref_path) if probe.reference else None
        try:
            return check.evaluate(got, expected, args)
        except Exception as exc:  # noqa: BLE001 - a malformed answer the checks did not foresee
            return Verdict(False, f"{part.title}: your code's answer could not be compared with the expected one "
                                  f"({type(exc).__name__}); check the shapes and types your methods return.")

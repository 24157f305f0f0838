"""CPU budgets derived from the reference's own cost, measured on the grading machine.

The reference solutions are graded once through the very same jail and probes, with generous
budgets; the CPU seconds of each part (and of loading the notebooks) become the reference costs.
A part's budget is ``FACTOR × reference``, at least a floor: a slower or faster machine moves both
the reference and the students alike, and a loaded machine barely moves CPU time at all (it is
the wall clock that stretches). The measurement is cached per machine and per version of the
course and the grader (``~/.cache/dlcore-autograder/``, or ``$DLCORE_AUTOGRADER_CACHE``); a lock
makes parallel graders measure once.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import platform
from dataclasses import dataclass, field
from pathlib import Path

from autograder.sandbox.jail import Budget

FACTOR = 8.0
FLOORS = {"load": 60.0, "mnist": 60.0, "part": 10.0}  # load: a few runaway cells of 10 s each
GENEROUS = 900.0  # CPU seconds per part while measuring the reference


@dataclass
class Calibration:
    """Reference CPU seconds per part id (and ``load``), and the budgets that follow."""

    costs: dict[str, float] = field(default_factory=dict)
    factor: float = FACTOR
    floors: dict[str, float] = field(default_factory=lambda: dict(FLOORS))

    def reference(self, key: str) -> float | None:
        return self.costs.get(key)

    def floor(self, key: str) -> float:
        if key == "load":
            return self.floors["load"]
        return self.floors["mnist"] if key.startswith("mnist.") else self.floors["part"]

    def budget(self, key: str) -> Budget:
        return Budget.for_cpu(max(self.floor(key), self.factor * (self.costs.get(key) or 0.0)))


def generous() -> Calibration:
    """Budgets for measuring the reference itself."""
    return Calibration(costs={}, floors={k: GENEROUS for k in FLOORS})


def _fingerprint(ref_path: str, mnist: bool) -> str:
    """What the reference's cost depends on: the code that runs, the machine, the MNIST parts."""
    import numpy

    import dlcore

    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    sources = sorted(Path(ref_path).glob("*.ipynb"))
    sources += sorted((root / "sandbox").glob("*.py")) + sorted((root / "checks").glob("*.py"))
    sources += sorted(Path(dlcore.__file__).resolve().parent.rglob("*.py"))
    for path in sources:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    try:
        cpu = next((line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
                   "")
    except OSError:
        cpu = ""
    h.update(f"{platform.machine()} {cpu} {os.cpu_count()} {platform.python_version()} {numpy.__version__} "
             f"{mnist}".encode())
    return h.hexdigest()[:20]


def cache_dir() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "dlcore-autograder"
    return Path(os.environ.get("DLCORE_AUTOGRADER_CACHE", default))


def load_or_calibrate(ref_path: str, mnist_dir: Path | None, memory_mb: int = 4096) -> Calibration:
    """The cached calibration for this machine and code, measured now if there is none."""
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"calibration-{_fingerprint(ref_path, mnist_dir is not None)}.json"
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one grader measures; the others wait and read its result
        if path.exists():
            try:
                return Calibration(costs=json.loads(path.read_text())["costs"])
            except (ValueError, KeyError):
                pass
        calibration = measure(ref_path, mnist_dir, memory_mb)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"costs": calibration.costs, "machine": platform.node()}, indent=2))
        tmp.replace(path)
        return calibration


class CalibrationError(RuntimeError):
    """The reference did not get full marks through the jail: budgets cannot be derived."""


def measure(ref_path: str, mnist_dir: Path | None, memory_mb: int = 4096) -> Calibration:
    """Grade the reference solutions with generous budgets; their CPU seconds per part."""
    from autograder.grade import NotGraded, grade_submission
    from autograder.results import is_graded

    data = grade_submission(ref_path, mnist_dir=mnist_dir, calibration=generous(), memory_mb=memory_mb)
    if not is_graded(data):
        reason = data["extra_data"]["not_graded"]
        raise NotGraded("the grader could not measure the reference's cost on this machine: " + reason["reason"],
                        retry=reason["retry"], detail=reason.get("detail", ""))
    failed = [t["name"] for t in data["tests"] if t["status"] != "passed"]
    if failed:
        raise CalibrationError(f"the reference solutions fail {len(failed)} tests in the jail ({failed[:3]}): "
                               "the grader is broken here, not the students")
    costs = {key: value["jail"] for key, value in data["extra_data"]["cpu_seconds"]["parts"].items()}
    return Calibration(costs=costs)

"""What grading costs, in CPU seconds: the reference submission graded with MNIST, part by part, and
what each defence of the sandbox adds.

Prints, for one grading of ``solutions/`` with the MNIST targets (the same code path as
``python -m autograder grade``): each part's CPU seconds in the jail (the student's code, loading
included) and in the grader (its reference answers, the MNIST optimizer and the checks of sampled
steps), the total against the target of 60 CPU seconds per submission, and the wall-clock time.

With ``--defences`` it also measures what the sandbox's defences cost on this machine:

* starting a bubblewrap jail (``bwrap ... true``) against starting the command directly;
* one probe call through the jail (a fork, two framed messages) against the same probe in process;
* training the MLP for two epochs through the grader-driven session (the student's modules in the
  jail, the optimizer and the sampled checks here) against dlcore's ``train_epoch`` in one process.

Usage, from the checkout: ``python -m bench.bench_grading [--data DIR] [--defences] [--json]`` (``make bench-grading``).
"""

from __future__ import annotations  # noqa: I001 (autograder before numpy: see below)

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import autograder  # noqa: F401  (before numpy: one BLAS thread per process, as every grading runs)
import numpy as np

TARGET_CPU = 60.0


def grading_cost(mnist_dir: Path) -> dict:
    from autograder.calibration import load_or_calibrate
    from autograder.grade import grade_submission, solutions_dir

    solutions = str(solutions_dir().resolve())
    calibration = load_or_calibrate(solutions, mnist_dir)
    grade_submission(solutions, calibration=calibration)  # the reference's answers cached, as in a batch
    start, cpu = time.perf_counter(), time.process_time()
    data = grade_submission(solutions, mnist_dir=mnist_dir, calibration=calibration)
    wall = time.perf_counter() - start
    cost = data["extra_data"]["cpu_seconds"]
    return {"score": data["score"], "max_score": data["max_score"], "wall": wall, "cpu": cost,
            "grader_process": time.process_time() - cpu}


def _times(command: list[str], repeats: int) -> float:
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def defences(mnist_dir: Path) -> dict:
    from autograder.grade import reference, solutions_dir
    from autograder.sandbox import bwrap
    from autograder.sandbox.jail import Box, Budget
    from autograder.sandbox.library import build_library
    from autograder.sandbox.probes import run as run_probe
    from dlcore.course import OWNERS

    out = {}
    jail = bwrap.Jail()
    out["bwrap_start_s"] = _times(bwrap.command(jail, ["/bin/true"]), 20)
    out["plain_start_s"] = _times(["/bin/true"], 20)
    notebooks = {p.name: p.read_bytes() for p in sorted(solutions_dir().glob("*.ipynb"))}
    library = build_library()
    ref = reference(str(solutions_dir().resolve()))
    args = {"kind": "Linear", "mode": "fb", "cases": [
        {"x": np.ones((5, 7)), "g": np.ones((5, 4)), "params": [np.ones((7, 4)), np.ones(4)]}]}
    try:
        with Box(notebooks=notebooks, owners=OWNERS, library=library.root) as box:
            box.start(Budget(600, 600))
            calls = []
            for _ in range(20):
                start = time.perf_counter()
                assert box.call("modules", args, Budget(60, 60)).ok
                calls.append(time.perf_counter() - start)
        start = time.perf_counter()
        for _ in range(20):
            run_probe(ref, "modules", args)
        out["probe_call_jail_s"] = statistics.median(calls)
        out["probe_call_in_process_s"] = (time.perf_counter() - start) / 20
    finally:
        library.close()
    out.update(_session_against_in_process(mnist_dir))
    return out


def _session_against_in_process(mnist_dir: Path, epochs: int = 2) -> dict:
    """The MLP for ``epochs`` epochs: through the grader's session (jail + grader CPU) and in one process."""
    from dataclasses import replace

    from autograder.checks.mnist import RECIPES, SharedMemory, data_files, train
    from autograder.grade import reference, solutions_dir
    from autograder.sandbox.jail import Box, Budget
    from autograder.sandbox.library import build_library
    from dlcore.course import OWNERS
    from dlcore.data import load_mnist, one_hot
    from dlcore.models import build_model
    from dlcore.train import SGD, train_epoch

    ref = reference(str(solutions_dir().resolve()))
    recipe = replace(RECIPES["mlp"], epochs=epochs)
    notebooks = {p.name: p.read_bytes() for p in sorted(solutions_dir().glob("*.ipynb"))}
    library, shared = build_library(), SharedMemory()
    try:
        with Box(notebooks=notebooks, owners=OWNERS, library=library.root, data=data_files(mnist_dir),
                 shared_fds=tuple(shared.fds)) as box:
            box.start(Budget(600, 600))
            start = time.perf_counter()
            training = train(box, recipe, ref, mnist_dir, shared, Budget(600, 1200))
            session_wall = time.perf_counter() - start
    finally:
        library.close()
        shared.close()
    data = load_mnist(mnist_dir, dtype=np.float32)
    rng = np.random.default_rng(0)
    model, criterion = build_model("mlp", ref, rng, np.float32)
    targets = one_hot(data.y_train)
    cpu, start = time.process_time(), time.perf_counter()
    for _ in range(epochs):
        train_epoch(model, criterion, SGD(model, 0.1), data.x_train, targets, 100, rng)
    return {"session_epochs": epochs, "session_jail_cpu_s": training.cpu, "session_grader_cpu_s": training.grader_cpu,
            "session_wall_s": session_wall, "session_verified_steps": training.verified,
            "in_process_cpu_s": time.process_time() - cpu, "in_process_wall_s": time.perf_counter() - start}


def main(argv: list[str] | None = None) -> int:
    from autograder.grade import default_mnist_dir

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--defences", action="store_true", help="also measure what each defence costs")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    mnist_dir = args.data or default_mnist_dir()
    if mnist_dir is None:
        print("error: MNIST not found: pass --data DIR", file=sys.stderr)
        return 2
    result = {"grading": grading_cost(mnist_dir)}
    g = result["grading"]
    print(f"reference with MNIST: {g['score']:g}/{g['max_score']:g} in {g['wall']:.1f} s wall")
    print(f"{'part':28} {'jail CPU s':>10} {'reference':>10}")
    for part, cost in g["cpu"]["parts"].items():
        print(f"{part:28} {cost['jail']:10.2f} {cost['reference']:10.2f}")
    total = g["cpu"]["total"]
    print(f"CPU seconds: {g['cpu']['jail']:.1f} in the jail + {g['cpu']['grader']:.1f} in the grader = {total:.1f} "
          f"(target at most {TARGET_CPU:g}: {'met' if total <= TARGET_CPU else 'NOT met'})")
    if args.defences:
        d = result["defences"] = defences(mnist_dir)
        print(f"bubblewrap start: {1000 * d['bwrap_start_s']:.1f} ms "
              f"(the command alone {1000 * d['plain_start_s']:.1f} ms)")
        print(f"a probe call through the jail: {1000 * d['probe_call_jail_s']:.1f} ms "
              f"(in process {1000 * d['probe_call_in_process_s']:.2f} ms)")
        print(f"MLP, {d['session_epochs']} epochs through the session: {d['session_jail_cpu_s']:.1f} CPU s in "
              "the jail + "
              f"{d['session_grader_cpu_s']:.1f} in the grader ({d['session_verified_steps']} steps checked), "
              f"{d['session_wall_s']:.1f} s wall; in one process: {d['in_process_cpu_s']:.1f} CPU s, "
              f"{d['in_process_wall_s']:.1f} s wall")
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

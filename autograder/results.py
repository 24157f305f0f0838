"""Gradescope's results.json: building it, writing it atomically, and a readable summary.

Two kinds of results exist, and only one carries a score:

* :func:`results`: the submission was graded; ``score`` is what it earned;
* :func:`not_graded`: the grader could not grade it (the sandbox cannot start, the machine was
  overloaded, the grader itself failed). No ``score`` is written, ``extra_data.not_graded`` says
  why and whether a retry may succeed; the command line exits non-zero. A student never gets a
  zero for the grader's trouble.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

MAX_OUTPUT = 1500  # characters of a test's message (student text inside it is already bounded)


def clip(text: str, limit: int = MAX_OUTPUT) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def test_entry(check_id: str, name: str, points: float, passed: bool, output: str) -> dict:
    return {"name": name, "score": points if passed else 0.0, "max_score": points,
            "status": "passed" if passed else "failed", "output": clip(output), "visibility": "visible",
            "extra_data": {"id": check_id}}


def results(tests: list[dict], execution_time: float, output: str, extra: dict) -> dict:
    return {"score": round(sum(t["score"] for t in tests), 6),
            "max_score": round(sum(t["max_score"] for t in tests), 6),
            "execution_time": round(execution_time, 3), "output": output, "visibility": "visible",
            "stdout_visibility": "hidden", "tests": tests, "extra_data": extra}


def not_graded(reason: str, *, retry: bool, detail: str = "", execution_time: float = 0.0) -> dict:
    """A result that is not a score: the student sees that grading did not happen, and why."""
    return {"execution_time": round(execution_time, 3), "tests": [], "visibility": "visible",
            "stdout_visibility": "hidden",
            "output": f"Your submission was not graded: {reason} This is not a problem with your code, and no score "
                      "was recorded; the course staff will grade it again.",
            "extra_data": {"not_graded": {"reason": reason, "retry": retry, "detail": clip(detail, 4000)}}}


def is_graded(data: dict) -> bool:
    return "score" in data and not data.get("extra_data", {}).get("not_graded")


def check_id(test: dict) -> str:
    return test.get("extra_data", {}).get("id", test["name"])


def write_atomic(path: str | Path, data: dict) -> None:
    """Write JSON to a temporary file beside ``path``, then rename: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def summary(data: dict) -> str:
    """Plain text: one line per test, failures with their explanation; the CPU seconds per part."""
    if not is_graded(data):
        return data["output"]
    lines = [data["output"]] if data.get("output") else []
    for t in data["tests"]:
        mark = "PASS" if t["status"] == "passed" else "FAIL"
        lines.append(f"[{mark}] {t['score']:g}/{t['max_score']:g}  {t['name']}")
        if t["status"] != "passed" and t["output"]:
            lines.append(f"        {t['output']}")
    lines.append(f"Score: {data['score']:g} / {data['max_score']:g}   ({data['execution_time']:.1f} s)")
    cost = data.get("extra_data", {}).get("cpu_seconds")
    if cost:
        parts = ", ".join(f"{p} {c['jail']:.1f}" + (f" (reference {c['reference']:.1f})" if c.get("reference") else "")
                          for p, c in cost["parts"].items())
        lines.append(f"CPU seconds: {cost['total']:.1f} in all, {cost['jail']:.1f} running your code; "
                     f"per part: {parts}")
    return "\n".join(lines)

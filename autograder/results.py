"""Gradescope's results.json: building it, writing it atomically, and a readable summary."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def test_entry(name: str, points: float, passed: bool, output: str) -> dict:
    return {"name": name, "score": points if passed else 0.0, "max_score": points,
            "status": "passed" if passed else "failed", "output": output, "visibility": "visible"}


def results(tests: list[dict], execution_time: float, output: str, extra: dict) -> dict:
    return {"score": round(sum(t["score"] for t in tests), 6),
            "max_score": round(sum(t["max_score"] for t in tests), 6),
            "execution_time": round(execution_time, 3), "output": output, "visibility": "visible",
            "stdout_visibility": "hidden", "tests": tests, "extra_data": extra}


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
    """Plain text: one line per test, failures with their explanation."""
    lines = []
    for t in data["tests"]:
        mark = "PASS" if t["status"] == "passed" else "FAIL"
        lines.append(f"[{mark}] {t['score']:g}/{t['max_score']:g}  {t['name']}")
        if t["status"] != "passed" and t["output"]:
            lines.append(f"        {t['output']}")
    lines.append(f"Score: {data['score']:g} / {data['max_score']:g}   ({data['execution_time']:.1f} s)")
    if data.get("output"):
        lines.insert(0, data["output"])
    return "\n".join(lines)

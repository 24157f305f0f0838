"""Whether a student's scores in the gradebook are the scores of the submission now in the course.

Autograded scores come from two runs over one submission: ``nbgrader autograde`` (its notebooks in
``autograded/``, its scores in the gradebook) and the hidden suite (``hidden/<student>.json``, whose
scores replace nbgrader's in the mapped cells). ``autograde`` runs both and writes them together;
but nbgrader can also be run by hand (``nbgrader autograde --student X --force``, the formgrader's
"autograde" button), a submission can be collected again, a run can fail half-way. nbgrader then
keeps the old hidden scores in ``manual_score`` (it never clears a manual score) and marks the
cells for review, and nothing says the totals are stale.

So every time this package writes a student's grades it also writes a *fingerprint*,
``<course>/fingerprints/<student>.json``, last: SHA-256 digests of the submitted files the runs read,
of each autograded notebook together with the submitted notebook it was made from, and of the hidden
results. :func:`check` compares them with the files now on disk, and the gradebook's mapped cells
with the scores the hidden results give. ``feedback`` and ``export`` refuse to publish while a
student is stale, and say which command fixes it. Digests, not times: copies, checkouts and clocks
change modification times without changing content, and a by-hand rerun can happen within the same
second.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from dlcore.data.fetch import sha256_file

from .layout import Course

TOLERANCE = 1e-6


def digests(folder: Path) -> dict[str, str]:
    """Name -> SHA-256 of the notebooks and ``timestamp.txt`` directly in ``folder`` (regular files
    only, links not followed); {} when the folder is missing."""
    out: dict[str, str] = {}
    if not folder.is_dir():
        return out
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.is_file(follow_symlinks=False) and (entry.name.endswith(".ipynb") or entry.name == "timestamp.txt"):
            out[entry.name] = sha256_file(entry.path)
    return out


def fingerprint_path(course: Course, student: str) -> Path:
    return course.root / "fingerprints" / f"{student}.json"


def hidden_path(course: Course, student: str) -> Path:
    return course.root / "hidden" / f"{student}.json"


def read_fingerprint(course: Course, student: str) -> dict | None:
    """The student's fingerprint, or None when there is none (never graded by this package) or it is
    unreadable."""
    try:
        data = json.loads(fingerprint_path(course, student).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("version") == 1 else None


def write_fingerprint(course: Course, student: str, autograded: dict[str, dict[str, str]],
                      hidden: dict | None) -> dict:
    """Write the fingerprint (atomically): ``autograded`` notebook -> {"submitted", "autograded"} digests;
    ``hidden``: {"submitted": digests, "results": digest of hidden/<student>.json}, or None for a course
    without hidden scores."""
    from autograder.results import write_atomic

    data = {"version": 1, "updated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "autograded": autograded, "hidden": hidden}
    write_atomic(fingerprint_path(course, student), data)
    return data


@dataclass
class Freshness:
    """Students whose gradebook scores cannot be published as they are, and why (one line each, with
    the command that fixes it)."""

    stale: dict[str, str] = field(default_factory=dict)  # scores in the gradebook that are out of date
    ungraded: dict[str, str] = field(default_factory=dict)  # collected, never (successfully) graded

    @property
    def ok(self) -> bool:
        return not self.stale

    def lines(self) -> list[str]:
        return [f"{s}: {why}" for s, why in sorted(self.stale.items())]


def _gradebook_state(course: Course, students: list[str] | None) -> dict[str, dict[tuple[str, str], tuple]]:
    """student -> (notebook, grade_id) -> (manual_score, needs_manual_grade) of every grade, for the
    ``students`` (default: all) with a submission in the gradebook."""
    if not course.gradebook.exists():
        return {}
    from nbgrader.api import Gradebook, MissingEntry

    state: dict[str, dict[tuple[str, str], tuple]] = {}
    with Gradebook(f"sqlite:///{course.gradebook}") as gb:
        for student in students if students is not None else [s.id for s in gb.students]:
            try:
                submission = gb.find_submission(course.assignment, student)
            except MissingEntry:
                continue
            state[student] = {(nb.name, g.name): (g.manual_score, g.needs_manual_grade)
                              for nb in submission.notebooks for g in nb.grades}
    return state


def check(course: Course, students: list[str] | None = None) -> Freshness:
    """Which of ``students`` (default: everyone collected or in the gradebook) are stale or ungraded."""
    from autograder.results import is_graded

    from .hidden_scores import expected_scores, mapped_cells

    books = _gradebook_state(course, students)
    students = sorted(students if students is not None else set(course.students()) | set(books))
    cells = mapped_cells(course)
    out = Freshness()
    for student in students:
        autograde = f"run `autograde --student {student}`"
        reimport = f"run `import-hidden --student {student}`"
        if not course.folder("submitted", student).is_dir():
            if student in books:
                out.stale[student] = ("in the gradebook but without a submission in submitted/: collect it again, "
                                      f"or remove the student (nbgrader db student remove {student})")
            continue
        fp = read_fingerprint(course, student)
        if fp is None:
            if student in books:
                out.stale[student] = (f"graded outside `autograde` (nbgrader by hand?) and its hidden scores never "
                                      f"imported: {reimport}")
            else:
                out.ungraded[student] = f"not graded yet: {autograde}"
            continue
        if student not in books:
            out.stale[student] = f"missing from the gradebook although graded before: {autograde}"
            continue
        current = digests(course.folder("submitted", student))
        stale = _stale_files(course, student, fp, current, bool(cells), autograde, reimport)
        if stale:
            out.stale[student] = stale
            continue
        if cells:
            results = json.loads(hidden_path(course, student).read_text())
            if not is_graded(results):  # not committed by this package; someone replaced the file
                out.stale[student] = f"hidden/{student}.json holds no score: {autograde}"
                continue
            wrong = _disagreements(expected_scores(results, cells), books[student])
            if wrong:
                out.stale[student] = (f"the gradebook's scores differ from the hidden suite's ({wrong}; an override "
                                      f"typed in the formgrader is replaced by the import): {reimport}")
    return out


def _stale_files(course: Course, student: str, fp: dict, current: dict[str, str], hidden: bool,
                 autograde: str, reimport: str) -> str | None:
    """Why the files on disk do not match the fingerprint, or None."""
    if hidden:
        record = fp.get("hidden")
        path = hidden_path(course, student)
        if not record or not path.exists():
            return f"the hidden suite's results are missing: {autograde}"
        if record.get("submitted") != current:
            return f"the submission changed since the hidden suite graded it: {autograde}"
        if sha256_file(path) != record.get("results"):
            return f"hidden/{student}.json changed after its scores were imported: {reimport}"
    autograded = course.folder("autograded", student)
    notebooks = sorted(name for name in current if name.endswith(".ipynb"))
    for name in notebooks:
        entry = fp.get("autograded", {}).get(name[:-6])
        if entry is None or entry.get("submitted") != current[name]:
            return f"{name[:-6]} was autograded from another version of the submission: {autograde}"
        path = autograded / name
        if not path.is_file() or sha256_file(path) != entry.get("autograded"):
            if hidden:
                return (f"autograded/{name} changed after the hidden scores were imported (nbgrader autograde run "
                        f"by hand?): {reimport} once nbgrader is done, or {autograde}")
            return f"autograded/{name} changed after it was graded (nbgrader run by hand?): {autograde}"
    return None


def _disagreements(expected: dict[tuple[str, str], float | None], book: dict[tuple[str, str], tuple]) -> str:
    """The mapped cells whose gradebook score is not the hidden suite's, as text ('' when none)."""
    wrong = []
    for key, score in expected.items():
        if score is None:  # not graded by that run (MNIST): pending, or graded by hand since
            continue
        manual, pending = book.get(key, (None, True))
        if manual is None or abs(manual - score) > TOLERANCE or pending:
            shown = "pending" if manual is None or pending else f"{manual:g}"
            wrong.append(f"{key[0]}/{key[1]}: {shown} in the gradebook, {score:g} from the hidden suite")
    if len(wrong) > 3:
        wrong = [*wrong[:3], f"and {len(wrong) - 3} more"]
    return "; ".join(wrong)

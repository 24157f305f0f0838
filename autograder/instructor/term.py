"""The term's settings, from the TOML file the instructor edits (``autograder/term.toml``).

What is in it, and what reads it:

* ``[assignment] due``: the due date (ISO 8601 with a UTC offset; empty: none). Written into the
  gradebook as the assignment's ``duedate``, which nbgrader compares with each submission's
  ``timestamp`` (``SubmittedAssignment.total_seconds_late``).
* ``[late]``: the late policy: ``none``, ``zero`` (nbgrader's own method) or ``per-day``
  (``percent_per_day`` of a notebook's score per started day late, at most ``max_percent``), with
  ``grace_minutes``. Applied per notebook through nbgrader's late-penalty plugin
  (:class:`autograder.instructor.late.LatePolicy`).
* ``[extensions]``: extra hours per student (nbgrader's ``SubmittedAssignment.extension``).
* ``[parts]``: the notebooks of the core and of the bonus (the export's totals).
* ``[lms] name``: the column names of the LMS exports (``<name> core``, ``<name> bonus``).

:func:`load_term` reads and checks the file; every mistake is one ``ValueError`` line naming the key.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import tomllib

POLICIES = ("none", "zero", "per-day")
DAY = 86_400.0


def parse_time(value: object, what: str = "time") -> datetime:
    """An aware UTC datetime from a TOML datetime or an ISO 8601 string; a UTC offset is required.

    Raises:
        ValueError: not a date and time, or one without a UTC offset (ambiguous).
    """
    if isinstance(value, datetime):
        when = value
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        if text.upper().endswith(" UTC"):
            text = text[:-4] + "+00:00"
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{what}: {value!r} is not an ISO 8601 date and time "
                             "(e.g. 2025-03-14T23:59:00+01:00)") from None
    else:
        raise ValueError(f"{what}: expected a date and time, got {value!r}")
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"{what}: {value!r} has no UTC offset (write e.g. 2025-03-14T23:59:00+01:00 or ...Z)")
    return when.astimezone(timezone.utc)


@dataclass(frozen=True)
class LatePolicy:
    """How a late notebook is penalised: the penalty, in points, of a notebook's score."""

    method: str = "none"
    percent_per_day: float = 10.0
    max_percent: float = 100.0
    grace_minutes: float = 0.0

    def days_late(self, seconds_late: float) -> int:
        """Started days late, after the grace period (0 when on time)."""
        if seconds_late <= self.grace_minutes * 60:
            return 0
        return math.ceil(seconds_late / DAY)

    def penalty(self, score: float, seconds_late: float) -> float | None:
        """Points deducted from a notebook scoring ``score``, ``seconds_late`` after its due date;
        None when no penalty applies (on time, within the grace period, or policy ``none``)."""
        days = self.days_late(seconds_late)
        if days == 0 or self.method == "none":
            return None
        if self.method == "zero":
            return float(score)
        fraction = min(self.max_percent, self.percent_per_day * days) / 100.0
        return round(float(score) * fraction, 6)

    def describe(self) -> str:
        """One line for people."""
        grace = f", {self.grace_minutes:g} min grace" if self.grace_minutes else ""
        if self.method == "per-day":
            return (f"{self.percent_per_day:g} % of a notebook's score per started day late, at most "
                    f"{self.max_percent:g} %{grace}")
        if self.method == "zero":
            return f"a late notebook scores 0{grace}"
        return "no penalty"


@dataclass(frozen=True)
class Term:
    """The settings of a term (see the module's docstring)."""

    due: datetime | None = None  # aware, UTC
    late: LatePolicy = field(default_factory=LatePolicy)
    extensions: dict[str, float] = field(default_factory=dict)  # student -> hours
    core: tuple[str, ...] = ("01_modules", "02_gradcheck", "03_training")
    bonus: tuple[str, ...] = ("04_cnn",)
    lms_name: str = "dlcore"
    path: Path | None = None

    @property
    def due_utc(self) -> datetime | None:
        """The due date as nbgrader stores it: naive, in UTC."""
        return self.due.replace(tzinfo=None) if self.due else None

    def part_of(self, notebook: str) -> str:
        """``"core"`` or ``"bonus"``."""
        if notebook in self.core:
            return "core"
        if notebook in self.bonus:
            return "bonus"
        raise ValueError(f"{self.path or 'the term file'}: [parts]: notebook {notebook} is in neither core nor "
                         "bonus")

    def check_notebooks(self, notebooks: list[str]) -> None:
        """Every notebook of the assignment is in exactly one part, and the parts name no other.

        Raises:
            ValueError: naming the notebooks in neither part or in no assignment.
        """
        where = f"{self.path or 'the term file'}: [parts]"
        missing = [n for n in notebooks if n not in self.core and n not in self.bonus]
        unknown = [n for n in (*self.core, *self.bonus) if n not in notebooks]
        if missing:
            raise ValueError(f"{where}: {', '.join(missing)} in neither core nor bonus")
        if unknown:
            raise ValueError(f"{where}: {', '.join(unknown)} not a notebook of the assignment "
                             f"({', '.join(notebooks)})")


def _number(table: dict, key: str, default: float, where: str, low: float = 0.0) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < low:
        raise ValueError(f"{where} {key}: expected a number >= {low:g}, got {value!r}")
    return float(value)


def _names(table: dict, key: str, default: tuple[str, ...], where: str) -> tuple[str, ...]:
    value = table.get(key, list(default))
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where} {key}: expected a list of notebook names, got {value!r}")
    return tuple(value)


def load_term(path: Path) -> Term:
    """The term file at ``path``, checked; a missing file gives the defaults (no due date).

    Raises:
        ValueError: a malformed file or value, one line naming it.
    """
    path = Path(path)
    if not path.exists():
        return Term(path=path)
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: {exc}") from None
    known = {"assignment", "late", "extensions", "parts", "lms"}
    extra = sorted(set(data) - known)
    if extra:
        raise ValueError(f"{path}: unknown section(s) {', '.join(extra)} (known: {', '.join(sorted(known))})")
    assignment, late = data.get("assignment", {}), data.get("late", {})
    due_value = assignment.get("due", "")
    due = None if due_value in ("", None) else parse_time(due_value, f"{path}: [assignment] due")
    method = late.get("policy", "none")
    if method not in POLICIES:
        raise ValueError(f"{path}: [late] policy: {method!r} is not one of {', '.join(POLICIES)}")
    where = f"{path}: [late]"
    policy = LatePolicy(method=method, percent_per_day=_number(late, "percent_per_day", 10.0, where),
                        max_percent=min(100.0, _number(late, "max_percent", 100.0, where)),
                        grace_minutes=_number(late, "grace_minutes", 0.0, where))
    extensions = {}
    for student, hours in data.get("extensions", {}).items():
        extensions[student] = _number({"hours": hours}, "hours", 0.0, f"{path}: [extensions] {student}")
    parts = data.get("parts", {})
    core = _names(parts, "core", Term.core, f"{path}: [parts]")
    bonus = _names(parts, "bonus", Term.bonus, f"{path}: [parts]")
    both = sorted(set(core) & set(bonus))
    if both:
        raise ValueError(f"{path}: [parts]: {', '.join(both)} in both core and bonus")
    name = data.get("lms", {}).get("name", "dlcore")
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{path}: [lms] name: expected a non-empty string")
    return Term(due=due, late=policy, extensions=extensions, core=core, bonus=bonus, lms_name=name.strip(),
                path=path)

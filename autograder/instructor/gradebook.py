"""The one way this package writes nbgrader's gradebook: a function run in a session, committed as one
transaction, retried whole while SQLite says the database is locked.

nbgrader's gradebook is one SQLite file. SQLite lets one writer in at a time; another writer waits
up to the driver's busy timeout (5 s for Python's sqlite3) and then fails with ``database is
locked``. Parallel ``autograde`` never lets two of its own processes write: nbgrader runs each
student in a private copy of the course (:mod:`.workspace`) and only the main process writes the
course's gradebook, student by student, through :func:`open_gradebook`. What can still hold the lock
is a program outside this package (the formgrader saving a manual grade, ``nbgrader`` run by hand):
then the transaction is rolled back and the function run again from the start, after a pause, up to
``attempts`` times. A function passed here must therefore compute everything it writes from its
inputs and the gradebook as it reads it, so that a rerun writes the same; nothing is half-written,
because SQLite rolls a failed transaction back whole.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from .layout import Course

T = TypeVar("T")
ATTEMPTS = 12  # with the pauses below, about 3 minutes of someone else holding the lock


class GradebookBusy(RuntimeError):
    """The gradebook stayed locked by another program through every attempt: nothing was written."""


def is_locked(exc: BaseException) -> bool:
    """Whether ``exc`` is SQLite's "database is locked" (or "busy"), as SQLAlchemy raises it."""
    text = str(exc).lower()
    return "database is locked" in text or "database is busy" in text


def open_gradebook(course: Course, write: Callable[..., T], attempts: int = ATTEMPTS,
                   pause: float = 1.0) -> T:
    """``write(gb)`` in a fresh ``nbgrader.api.Gradebook`` session of the course, then commit; retried
    whole (after a rollback) while the database is locked. Returns what ``write`` returned.

    Raises:
        GradebookBusy: still locked after ``attempts`` tries (nothing of this call was committed).
    """
    from nbgrader.api import Gradebook

    last: BaseException | None = None
    for attempt in range(attempts):
        try:
            with Gradebook(f"sqlite:///{course.gradebook}") as gb:
                try:
                    value = write(gb)
                    gb.db.commit()
                    return value
                except BaseException:
                    gb.db.rollback()
                    raise
        except Exception as exc:  # SQLAlchemy's OperationalError, or nbgrader's InvalidEntry wrapping it
            if not is_locked(exc):
                raise
            last = exc
            time.sleep(min(30.0, pause * (attempt + 1)))
    raise GradebookBusy(f"{course.gradebook} stayed locked by another program (the formgrader?) through "
                        f"{attempts} attempts; nothing was written: {last}")

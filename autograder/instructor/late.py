"""Late submissions, through nbgrader's own mechanism.

nbgrader records a submission's time (``timestamp.txt`` in ``submitted/<student>/<assignment>/``, read
by ``nbgrader autograde``) as ``SubmittedAssignment.timestamp``, compares it with the assignment's
``duedate`` plus the student's ``extension`` (``total_seconds_late``), and its ``AssignLatePenalties``
preprocessor asks a late-penalty plugin for each notebook's penalty, stored as
``SubmittedNotebook.late_submission_penalty``; its feedback pages and CSV export subtract it.

:class:`LatePolicy` is that plugin for this course (``c.AssignLatePenalties.plugin_class`` in
``autograder/nbgrader_config.py``): the policy of the term file (:mod:`.term`). nbgrader computes a
penalty once, from the notebook's score at autograding time; here the score changes afterwards (the
hidden suite's scores are imported after ``nbgrader autograde``, instructors grade the written answers
in the formgrader). So :func:`apply_penalties` applies the same policy (the plugin's one function,
``LatePolicy.penalty`` of the term, with nbgrader's bounds 0 <= penalty <= score) again to the
current scores, and
the commands that change or publish scores call it: ``autograde`` and ``import-hidden`` after writing
scores, ``feedback`` and ``export`` before publishing. The hidden-score import thus never erases a
penalty, and a penalty never lags behind a score.
"""

from __future__ import annotations

import os
from datetime import timedelta

from nbgrader.plugins import LateSubmissionPlugin
from traitlets import Unicode

from .layout import TERM, Course
from .term import Term, load_term

TERM_ENV = "DLCORE_TERM"  # the term file nbgrader's plugin reads (set by nbgrader_run.nbgrader_env)


class LatePolicy(LateSubmissionPlugin):
    """nbgrader's late-penalty plugin, with the policy of the term file (``$DLCORE_TERM``, else
    ``autograder/term.toml``, or ``LatePolicy.term_file``)."""

    term_file = Unicode("", help="The term file (TOML) holding the late policy").tag(config=True)

    def late_submission_penalty(self, student_id: str, score: float, total_seconds_late: float) -> float | None:
        """The points deducted from a notebook that scored ``score``, ``total_seconds_late`` late."""
        term = load_term(self.term_file or os.environ.get(TERM_ENV) or TERM)
        return term.late.penalty(score, total_seconds_late)


def _clamped(penalty: float | None, score: float) -> float | None:
    """nbgrader's own bounds (``AssignLatePenalties._check_late_penalty``): 0 <= penalty <= score."""
    if penalty is None:
        return None
    return min(max(0.0, penalty), max(0.0, score))


def set_due_date(gb, course: Course, term: Term) -> None:
    """The term's due date into the gradebook (the assignment must exist)."""
    assignment = gb.find_assignment(course.assignment)
    if assignment.duedate != term.due_utc:
        assignment.duedate = term.due_utc


def apply_penalties(gb, course: Course, term: Term, student: str) -> dict[str, float]:
    """The student's extension and every notebook's late penalty, from the current scores, into the
    open gradebook session ``gb`` (not committed here); notebook -> penalty (0 when none)."""
    gb.db.flush()
    submission = gb.find_submission(course.assignment, student)
    hours = term.extensions.get(student)
    extension = timedelta(hours=hours) if hours else None
    if submission.extension != extension:
        submission.extension = extension
    gb.db.flush()
    gb.db.expire_all()  # scores are computed by SQL: read them again after the writes above
    submission = gb.find_submission(course.assignment, student)
    seconds = submission.total_seconds_late
    penalties = {}
    for notebook in submission.notebooks:
        penalty = None
        if seconds > 0:  # what LatePolicy.late_submission_penalty answers nbgrader, with nbgrader's bounds
            penalty = _clamped(term.late.penalty(notebook.score, seconds), notebook.score)
        notebook.late_submission_penalty = penalty
        penalties[notebook.name] = penalty or 0.0
    return penalties


def refresh(course: Course, term: Term, students: list[str]) -> None:
    """Due date, extensions and penalties of ``students`` (those with a submission in the gradebook)
    written again from the term file and the current scores, in one transaction."""
    from nbgrader.api import MissingEntry

    from .gradebook import open_gradebook

    def write(gb) -> None:
        set_due_date(gb, course, term)
        for student in students:
            try:
                apply_penalties(gb, course, term, student)
            except MissingEntry:
                continue

    open_gradebook(course, write)

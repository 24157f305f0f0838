"""Feedback without hidden tests: nbgrader's ClearHiddenTests, plus the tracebacks they cause.

Autograding runs the *instructor's* version of every test cell, hidden regions included
(nbgrader's OverwriteCells restores it), so the autograded notebook holds the hidden source twice:
in the cell, and in the traceback of a failing hidden assert (IPython quotes the failing line and
its neighbours). ``ClearHiddenTests`` only removes the first. :class:`HideHiddenTests` removes
both: it drops the hidden regions from the cell and replaces every error output whose traceback
quotes a hidden line with one line: the exception type and the assertion's message (written for
the student), or a generic line when that message itself quotes hidden source.
"""

from __future__ import annotations

from nbconvert.filters import strip_ansi
from nbgrader.preprocessors import ClearHiddenTests

from .regions import hidden_test_lines

HIDDEN_FAILURE = "a hidden test failed (hidden tests are not shown in the feedback)"


class HideHiddenTests(ClearHiddenTests):
    """ClearHiddenTests that also scrubs tracebacks quoting hidden-test lines."""

    def preprocess_cell(self, cell, resources, cell_index):
        hidden = hidden_test_lines(cell.source) if cell.cell_type == "code" else set()
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        for output in cell.get("outputs", []) if hidden else []:
            if output.get("output_type") != "error":
                continue
            evalue = strip_ansi(output.get("evalue", ""))
            text = strip_ansi("\n".join([evalue, *output.get("traceback", [])]))
            if any(line in text for line in hidden):
                # The assertion's message is written for the student: keep it, unless it quotes
                # hidden source itself; the traceback quotes hidden lines, so it goes.
                quotes = not evalue or any(line in evalue for line in hidden)
                message = HIDDEN_FAILURE if quotes else f"{evalue} ({HIDDEN_FAILURE})"
                output["evalue"] = message
                output["traceback"] = [f"{output.get('ename', 'Error')}: {message}"]
        return cell, resources

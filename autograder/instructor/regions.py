"""Solution and hidden-test regions of nbgrader source notebooks.

A *region* is the text between a ``### BEGIN X`` line and the matching ``### END X`` line. The
release must contain none of it (tests check that), and feedback must not show hidden tests.
"""

from __future__ import annotations

import re

SOLUTION = ("BEGIN SOLUTION", "END SOLUTION")
HIDDEN_TESTS = ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS")

# Lines too generic to be evidence of a leak: punctuation, bare keywords, `pass`, `return self.y`...
_TRIVIAL = re.compile(r"^[\W_]*$|^(pass|else:|try:|finally:|return|continue|break|\.\.\.)$")


def region_lines(source: str, delimiters: tuple[str, str]) -> list[str]:
    """The lines of ``source`` strictly inside the ``delimiters`` regions (delimiter lines excluded)."""
    begin, end = delimiters
    inside, lines = False, []
    for line in source.splitlines():
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        elif inside:
            lines.append(line)
    return lines


def significant(lines: list[str], min_length: int = 8) -> set[str]:
    """The stripped lines worth searching for: not blank, not trivial, at least ``min_length`` long."""
    out = set()
    for line in lines:
        text = line.strip()
        if len(text) >= min_length and not _TRIVIAL.match(text) and not text.startswith("#"):
            out.add(text)
    return out


def hidden_test_lines(source: str) -> set[str]:
    """The significant lines of the hidden-test regions of a cell's source."""
    return significant(region_lines(source, HIDDEN_TESTS))


def solution_lines(source: str) -> set[str]:
    """The significant lines of the solution regions of a cell's source."""
    return significant(region_lines(source, SOLUTION))


def public_lines(source: str) -> list[str]:
    """The lines of ``source`` outside every solution and hidden-test region (delimiters excluded)."""
    delimiters = (*SOLUTION, *HIDDEN_TESTS)
    inside, lines = False, []
    for line in source.splitlines():
        if SOLUTION[0] in line or HIDDEN_TESTS[0] in line:
            inside = True
        elif SOLUTION[1] in line or HIDDEN_TESTS[1] in line:
            inside = False
        elif not inside and not any(d in line for d in delimiters):
            lines.append(line)
    return lines

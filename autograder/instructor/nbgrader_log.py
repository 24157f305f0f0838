"""What nbgrader's autograde log says, in a few lines: its errors, and a summary of its "has changed"
warnings instead of one line per cell.

nbgrader's ``OverwriteCells`` preprocessor compares every locked cell of a submitted notebook with the
copy in the gradebook and, when they differ, logs ``Attribute 'checksum' for cell X has changed!
(should be: ..., got: ...)`` and restores the gradebook's copy (also for ``points``, ``locked`` and
``cell_type``). Known upstream behaviour (jupyter/nbgrader#1961): the gradebook stores a locked
cell's checksum *before* ``generate_assignment`` removes its hidden tests, so every test cell with a
``### BEGIN HIDDEN TESTS`` region warns for every student even when nobody touched it: about thirty
lines per student for a course whose test cells held hidden tests. Restoring the cell is what
nbgrader does for every locked cell anyway, so those warnings are harmless. The same warning also
appears, and then matters, when a student edited a locked cell or worked from a release older than
the source.

:func:`summarize` tells the two apart by comparing the submitted cell's checksum with the checksum of
the same cell in the course's release (``release/<assignment>/``): equal means "as released". The
full log is kept in ``<course>/logs/``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

CHANGED = re.compile(r"Attribute '(?P<attr>\w+)' for cell (?P<cell>\S+) has changed! "
                     r"\(should be: (?P<old>.*?), got: (?P<new>.*?)\)")
NOTEBOOK = re.compile(r"\] (?:Sanitizing|Autograding) (?P<path>\S+\.ipynb)")
ERROR = re.compile(r"\[\w+App \| (?:ERROR|CRITICAL)\] (?P<text>.*)")


@dataclass
class LogSummary:
    """The warnings and errors of one nbgrader run."""

    as_released: list[str] = field(default_factory=list)  # "notebook/cell": the upstream checksum artefact
    changed: list[str] = field(default_factory=list)  # "notebook/cell (attr)": the submission differs from the release
    errors: list[str] = field(default_factory=list)

    def lines(self, student: str) -> list[str]:
        """What to print for the student (nothing when nbgrader had nothing to say)."""
        out = []
        if self.as_released:
            out.append(f"{student}: nbgrader warned that {len(self.as_released)} locked cell(s) 'changed' although "
                       "they are as released (upstream jupyter/nbgrader#1961, harmless; see the log)")
        if self.changed:
            more = len(self.changed) - 8
            shown = ", ".join(self.changed[:8]) + (f" and {more} more" if more > 0 else "")
            out.append(f"{student}: nbgrader restored locked cells that differ from the release (edited by the "
                       f"student, or an older release): {shown}")
        return out


def release_checksums(release: Path) -> dict[tuple[str, str], str]:
    """(notebook, grade_id) -> nbgrader's checksum of each locked cell of the released notebooks."""
    import nbformat
    from nbgrader import utils

    out = {}
    for path in sorted(Path(release).glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade_id") and utils.is_locked(cell):
                out[path.stem, meta["grade_id"]] = utils.compute_checksum(cell)
    return out


def summarize(log: str, released: dict[tuple[str, str], str]) -> LogSummary:
    """The summary of nbgrader's output ``log``; ``released``: :func:`release_checksums`."""
    out = LogSummary()
    notebook = "?"
    for line in log.splitlines():
        match = NOTEBOOK.search(line)
        if match:
            notebook = Path(match.group("path")).stem
            continue
        match = CHANGED.search(line)
        if match:
            cell, attr = match.group("cell"), match.group("attr")
            if attr == "checksum" and released.get((notebook, cell)) == match.group("new"):
                out.as_released.append(f"{notebook}/{cell}")
            else:
                out.changed.append(f"{notebook}/{cell} ({attr})")
            continue
        match = ERROR.search(line)
        if match:
            out.errors.append(match.group("text").strip())
    return out

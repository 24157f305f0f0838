"""A correct submission in another style than the reference's gets every point.

``helpers.styles`` is a submission written from the release text alone (einsum, a log-sum-exp
softmax, helpers shared between answer cells, ``np.ndindex``...). Graded headless without MNIST,
it must score ``max_score``; when it does not, the failing checks are printed with their messages.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import jupytext
import nbformat
import pytest
from helpers import REPO
from helpers.styles import STEMS, STYLES, write_styled

from autograder.results import check_id

ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}


def _code_and_metadata(nb: nbformat.NotebookNode) -> list[tuple[str, str, dict]]:
    return [(c.cell_type, c.source, dict(c.metadata.get("nbgrader", {}))) for c in nb.cells]


def test_styles_are_the_written_notebooks(tmp_path):
    """STYLES (percent format) and write_styled agree, and only solution code cells differ from the release."""
    folder = write_styled(tmp_path)
    for stem in STEMS:
        written = nbformat.read(folder / f"{stem}.ipynb", as_version=4)
        nbformat.validate(written)
        assert _code_and_metadata(jupytext.reads(STYLES[stem], fmt="py:percent")) == _code_and_metadata(written)
        release = nbformat.read(REPO / "notebooks" / f"{stem}.ipynb", as_version=4)
        assert len(release.cells) == len(written.cells)
        for old, new in zip(release.cells, written.cells, strict=True):
            assert old.metadata == new.metadata and old.get("id") == new.get("id")
            solution_code = old.cell_type == "code" and old.metadata.get("nbgrader", {}).get("solution")
            if solution_code:
                assert "NotImplementedError" in old.source and "NotImplementedError" not in new.source
            else:
                assert old.source == new.source, f"{stem}: a cell that is not an answer changed"


@pytest.mark.grading
def test_styled_submission_gets_full_marks(tmp_path):
    folder = write_styled(tmp_path / "styled")
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", str(folder), "--no-mnist", "--format", "json"],
                          cwd=REPO, env=ENV, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    data = json.loads(proc.stdout)
    failed = [t for t in data["tests"] if t.get("status") != "passed"]
    report = "\n".join(f"- {check_id(t)}, {t.get('name')!r} ({t.get('score')}/{t.get('max_score')}): "
                       f"{str(t.get('output', '')).strip()}" for t in failed)
    if failed:
        print(f"styled submission: {data['score']}/{data['max_score']}; failing checks:\n{report}")
    assert data["score"] == data["max_score"], f"{data['score']}/{data['max_score']}, failing checks:\n{report}"

"""The similarity check (``python -m autograder similarity``): copydetect on the students' answer cells.

The cohort (``tests/helpers/similarity_cohort.py``): eight independent students who answered the release in
their own styles, a student who copied another's answers and renamed variables, swapped lines and
added comments, the reference solution (``tests/helpers/submissions.py``), students who changed one line of
the release, and one who handed in the release untouched.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import nbformat
import pytest
from helpers import similarity_cohort as cohort
from helpers.submissions import MUTANTS, write_submission

from autograder import similarity
from autograder.cli import main, parser
from autograder.similarity import MIN_OVERLAP, Settings, compare, own_code

INDEPENDENT = [f"indep{k}" for k in range(8)]
COPY = ("copier_a", "copier_b")
CE_LINE = "self.y, self.t = np.maximum(y, np.finfo(y.dtype).tiny), t; return -np.sum(t * np.log(self.y)) / len(y)"
ONE_LINE = {"one_line_tanh": {"tanh": ("return np.tanh(z)", None)},
            "one_line_sgd": {"sgd_step": ("for p, g in zip(params, grads): p -= lr * g",)},
            "one_line_ce": {"cross_entropy": (CE_LINE, None)},
            "one_line_ce_too": {"cross_entropy": (CE_LINE, None)}}  # the same line as the one above


def _pair(report: similarity.Report, a: str, b: str) -> similarity.Pair:
    return next(p for p in report.pairs if {p.a, p.b} == {a, b})


@pytest.fixture(scope="module")
def cohort_dir(tmp_path_factory) -> Path:
    """SUBMISSIONS/<student>/*.ipynb: the whole cohort, in the layout instructors collect."""
    root = tmp_path_factory.mktemp("similarity") / "SUBMISSIONS"
    answers = cohort.cohort(len(INDEPENDENT) + 1, seed=0)
    for name, student in zip(INDEPENDENT, answers, strict=False):
        cohort.write_student(root / name, cohort.student(student))
    cohort.write_student(root / COPY[0], cohort.student(answers[-1]))
    cohort.write_student(root / COPY[1], cohort.student(cohort.copied(answers[-1])))
    write_submission(root / "reference")  # the solutions, built like the grader's test submissions
    for name, student in ONE_LINE.items():
        cohort.write_student(root / name, cohort.student(student))
    cohort.write_student(root / "release_only", cohort.student({}))
    return root


@pytest.fixture(scope="module")
def run(cohort_dir) -> tuple[similarity.Report, Path, list[str]]:
    out = cohort_dir.parent / "report.html"
    warnings: list[str] = []
    return compare(cohort_dir, out, warn=warnings.append), out, warnings


def test_the_copy_is_disguised(cohort_dir):
    """The copier's cells differ from the original as text: the check below is not of identical files."""
    a = (cohort_dir / COPY[0] / "02_gradcheck.ipynb").read_text()
    b = (cohort_dir / COPY[1] / "02_gradcheck.ipynb").read_text()
    assert a != b and "# my own solution" in b and "# my own solution" not in a
    renamed = [old for old, new in cohort.RENAMES.items()
               if re.search(rf"\b{new}\b", b) and not re.search(rf"\b{new}\b", a)]
    assert renamed, "no variable of the original was renamed in the copy"


def test_the_copied_pair_ranks_first_far_above_independent_pairs(run):
    report, _, _ = run
    first = report.listed[0]
    assert {first.a, first.b} == set(COPY)
    assert min(first.similarity_a, first.similarity_b) >= 0.9
    # every other pair of students who answered (the one-line students: see the next test)
    answered = set(INDEPENDENT) | set(COPY) | {"reference"}
    others = [p for p in report.pairs if {p.a, p.b} <= answered and {p.a, p.b} != set(COPY)]
    assert len(others) == 11 * 10 // 2 - 1
    best_other = max(others, key=lambda p: p.score)
    assert first.score - best_other.score >= 0.25, best_other
    # independent students share short canonical answers (that is why the threshold is 0.5), not most of them
    independent = [p for p in others if {p.a, p.b} <= set(INDEPENDENT) | {"reference"}]
    scores = sorted(p.score for p in independent)
    assert len(independent) == 36 and scores[len(scores) // 2] < 0.35


def test_changing_one_line_of_the_release_is_never_flagged(run):
    report, _, _ = run
    flagged = [p for p in report.listed if {p.a, p.b} & set(ONE_LINE)]
    assert flagged == []
    # Two students who wrote the same long line share all of their own code, but too little to count.
    same = _pair(report, "one_line_ce", "one_line_ce_too")
    assert same.score == 1.0 and 0 < same.overlap < MIN_OVERLAP
    # Short lines are below copydetect's noise threshold: nothing to share.
    assert _pair(report, "one_line_tanh", "one_line_sgd").score == 0.0
    assert _pair(report, "one_line_tanh", "one_line_ce").score == 0.0


def test_an_untouched_release_is_left_out(run):
    report, _, warnings = run
    assert "release_only" not in report.students
    assert any(w.startswith("release_only: left out") for w in warnings)
    assert set(report.students) == set(INDEPENDENT) | set(COPY) | set(ONE_LINE) | {"reference"}


def test_the_html_report_shows_the_ranked_pairs_and_only_the_students_code(run):
    report, out, _ = run
    html = out.read_text()
    pairs = re.findall(r"Test file: <i>([^<]*)</i>.*?Reference file: <i>([^<]*)</i>", html, re.S)
    expected = [{f"{p.a}/answers.py", f"{p.b}/answers.py"} for p in report.listed]
    assert [set(pair) for pair in pairs] == expected
    assert "<span class='highlight-red'>" in html and "<span class='highlight-green'>" in html  # shared code
    assert "similarity-" not in html  # no temporary path
    assert "def fprop(self, z):" in html and "Affine map" not in html  # given lines only as context comments


def test_given_code_moved_by_both_students_is_boilerplate(tmp_path, monkeypatch):
    """Two students who moved the same given methods share that code; copydetect's boilerplate (the
    release's answer cells) removes it: without it the pair is flagged."""
    given_methods = ("\n    def params(self):\n        return [self.W, self.b]\n\n"
                     "    def grads(self):\n        return [self.grad_W, self.grad_b]")

    def moved(answers):
        notebooks = cohort.student(answers)
        for notebook in notebooks.values():
            for cell in notebook.cells:
                if cell.metadata.get("nbgrader", {}).get("grade_id") in ("linear", "conv2d"):
                    source = cell.source.replace(given_methods, "")  # params() and grads() go above fprop
                    cell.source = source.replace("\n    def fprop", given_methods + "\n\n    def fprop", 1)
        return notebooks

    cohort.write_student(tmp_path / "subs" / "a", moved(ONE_LINE["one_line_tanh"]))
    cohort.write_student(tmp_path / "subs" / "b", moved(ONE_LINE["one_line_sgd"]))
    settings = Settings(threshold=0.0, min_overlap=0)
    pair = compare(tmp_path / "subs", tmp_path / "r.html", settings=settings).pairs[0]
    assert (pair.score, pair.overlap, pair.listed) == (0.0, 0, False)
    monkeypatch.setattr(similarity, "_given_source", lambda release: "")  # no boilerplate
    pair = compare(tmp_path / "subs", tmp_path / "r.html", settings=settings).pairs[0]
    assert pair.listed and pair.score > 0.5 and pair.overlap >= 50


def test_own_code_is_what_the_student_wrote():
    given = ('class Tanh(Module):\n    """Doc."""\n\n    def fprop(self, z):\n        # YOUR CODE HERE\n'
             '        raise NotImplementedError("not written yet")\n\n    def bprop(self, g):\n'
             '        return g  # given\n')
    answer = ("class Tanh(Module):\n    '''Other doc.'''\n\n    def fprop(self, z):\n"
              "        self.y = np.tanh(z)\n        return self.y\n\n    def bprop(self, g):\n"
              "      return g\n")  # re-typed docstring, re-indented given line without its comment
    assert own_code(answer, given) == "# in def fprop(self, z):\n        self.y = np.tanh(z)\n        return self.y"
    assert own_code(given, given) == ""


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_unusable_files_are_skipped_with_a_warning(tmp_path):
    root = tmp_path / "subs"
    answers = cohort.cohort(1, seed=3)[0]
    cohort.write_student(root / "copier_a", cohort.student(answers))
    cohort.write_student(root / "copier_b", cohort.student(cohort.copied(answers)))
    release = cohort.release_notebooks()
    # eve: her 01_modules is a symlink to copier_a's, the rest as released
    cohort.write_student(root / "eve", {k: v for k, v in release.items() if k != "01_modules"})
    (root / "eve" / "01_modules.ipynb").symlink_to(root / "copier_a" / "01_modules.ipynb")
    (root / "mallory").symlink_to(root / "copier_a")  # a symlinked student folder
    # oscar: copier_a's notebooks, 01_modules with a 6 MB output (over the 5 MB cap)
    cohort.write_student(root / "oscar", cohort.student(answers))
    big = nbformat.read(root / "oscar" / "01_modules.ipynb", as_version=4)
    big.cells.append(nbformat.v4.new_code_cell("print('x' * 6_000_000)", outputs=[
        nbformat.v4.new_output("stream", text="x" * (6 * 2**20))]))
    nbformat.write(big, root / "oscar" / "01_modules.ipynb")
    # dan and dora: only damaged notebooks
    _write(root / "dan" / "01_modules.ipynb", (root / "copier_a" / "01_modules.ipynb").read_bytes()[:5000])
    _write(root / "dan" / "02_gradcheck.ipynb", b'{"cells": [], "x": "\xff\xfe"}')
    _write(root / "dan" / "03_training.ipynb", b"[1, 2]")
    _write(root / "dan" / "04_cnn.ipynb", json.dumps({"cells": [
        1, {"cell_type": "code", "metadata": [], "source": 5},
        {"cell_type": "code", "metadata": {"nbgrader": {"solution": True, "grade_id": "relu"}}, "source": [1, 2]},
        {"cell_type": "code", "metadata": {"nbgrader": {"solution": True, "grade_id": ["relu"]}}, "source": "x"},
    ]}).encode())
    _write(root / "dora" / "01_modules.ipynb", b"[" * 100_000 + b"]" * 100_000)
    os.mkfifo(root / "dora" / "02_gradcheck.ipynb")
    (root / "dora" / "03_training.ipynb").mkdir()
    cohort.write_student(root / "frank", {"notes": release["01_modules"]})  # not a notebook of the release
    cohort.write_student(root / "bad name", cohort.student(answers))
    _write(root / "README.txt", b"not a student")

    warnings: list[str] = []
    report = compare(root, tmp_path / "r.html", warn=warnings.append)
    assert set(report.students) == {"copier_a", "copier_b", "oscar"}
    assert _pair(report, "copier_a", "copier_b").listed
    assert all("\n" not in w for w in warnings)
    expected = {
        "eve/01_modules.ipynb: skipped (a symlink, not followed)", "mallory: skipped (a symlink, not followed)",
        "oscar/01_modules.ipynb: skipped (", "dan/01_modules.ipynb: skipped (damaged notebook: JSONDecodeError)",
        "dan/02_gradcheck.ipynb: skipped (damaged notebook: UnicodeDecodeError)",
        "dan/03_training.ipynb: skipped (not an nbformat 4 notebook)", "dan: left out (no answer cell found)",
        "dora/01_modules.ipynb: skipped (damaged notebook: RecursionError)",
        "dora/02_gradcheck.ipynb: skipped (not a regular file)", "dora/03_training.ipynb: skipped (not a regular file)",
        "frank/notes.ipynb: skipped (not a notebook of the release)", "bad name: skipped (a student id",
        "eve: left out (answer cells as released)"}
    for text in expected:
        assert any(text in w for w in warnings), (text, warnings)
    assert not any("README" in w for w in warnings)
    # oscar's other notebooks were compared: he shares copier_a's answers of parts 2-4
    assert _pair(report, "copier_a", "oscar").similarity_b >= 0.9


def test_nbgrader_layout_and_a_mutant_of_the_reference(tmp_path):
    """nbgrader's submitted/<student>/<assignment>/, built with tests/submissions.py: a one-line bug
    in the reference is a copy of the reference; two cohort students are not."""
    course = tmp_path / "course"
    write_submission(course / "submitted" / "ref" / "dlcore")
    mutant = next(m for m in MUTANTS if m.name == "tanh_applied_twice")
    write_submission(course / "submitted" / "mutant" / "dlcore", mutant.sources())
    for k, answers in enumerate(cohort.cohort(2, seed=1)):
        cohort.write_student(course / "submitted" / f"student{k}" / "dlcore", cohort.student(answers))
    cohort.write_student(course / "submitted" / "twice" / "dlcore", cohort.student({}))
    cohort.write_student(course / "submitted" / "twice" / "other", cohort.student({}))

    warnings: list[str] = []
    for root in (course, course / "submitted"):
        report = compare(root, tmp_path / "r.html", warn=warnings.append)
        assert set(report.students) == {"ref", "mutant", "student0", "student1"}
        assert [{p.a, p.b} for p in report.listed] == [{"ref", "mutant"}]
        assert report.listed[0].score >= 0.95
    assert any("twice: skipped (several assignment folders" in w for w in warnings)
    report = compare(course, tmp_path / "r.html", assignment="dlcore", warn=warnings.append)
    assert "twice" not in report.students and any(w.startswith("twice: left out (answer cells") for w in warnings)


def test_the_command_line(run, cohort_dir, tmp_path, capsys):
    out, as_json = tmp_path / "report.html", tmp_path / "pairs.json"
    assert main(["similarity", str(cohort_dir), "--out", str(out), "--json", str(as_json), "--top", "3"]) == 0
    stdout = capsys.readouterr().out
    rows = [line.split() for line in stdout.splitlines() if re.match(r"^\s+\d+\s", line)]
    assert rows[0][:4] == ["1", COPY[0], "<->", COPY[1]] and len(rows) <= 3
    assert out.is_file()
    data = json.loads(as_json.read_text())
    assert data["settings"] == {"noise": 25, "guarantee": 25, "threshold": 0.5, "min_overlap": 100}
    n = len(data["students"])
    assert len(data["pairs"]) == n * (n - 1) // 2
    assert {data["pairs"][0]["a"], data["pairs"][0]["b"]} == set(COPY)
    scores = [(not p["listed"], -p["score"]) for p in data["pairs"]]
    assert scores == sorted(scores)
    # the same pairs as the library call (copydetect is deterministic)
    report, _, _ = run
    assert [(p["a"], p["b"], p["similarity_a"]) for p in data["pairs"][:5]] == \
        [(p.a, p.b, p.similarity_a) for p in report.pairs[:5]]

    assert main(["similarity", str(cohort_dir), "--out", str(out), "--threshold", "1.5"]) == 1
    assert capsys.readouterr().err.strip().splitlines() == ["error: the threshold must be in [0, 1), got 1.5"]
    assert main(["similarity", str(tmp_path / "missing"), "--out", str(out)]) == 1
    assert capsys.readouterr().err.strip().endswith("missing: no such folder")


def test_the_help_states_the_module_defaults():
    sub = parser()._subparsers._group_actions[0].choices["similarity"]
    helps = {a.dest: a.help for a in sub._actions}
    defaults = Settings()
    for dest, value in [("threshold", defaults.threshold), ("min_overlap", defaults.min_overlap),
                        ("noise", defaults.noise), ("guarantee", defaults.guarantee)]:
        assert f"(default {value})" in helps[dest], dest

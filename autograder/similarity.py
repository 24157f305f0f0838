"""Similarity of the students' answer cells: ``python -m autograder similarity SUBMISSIONS --out report.html``.

Only *answer cells* are compared: code cells whose nbgrader metadata says ``solution: true`` and
whose ``grade_id`` is an answer cell of the release (``notebooks/``). Of each answer cell, only the
student's own lines are kept (:func:`own_code`: the lines that are not the release's); they are
written, in the release's order, to one source file per student, and copydetect (winnowing, as in
MOSS) compares every pair of students, with the release's answer cells as boilerplate
(``boilerplate_dirs``): any run of code that is also in the release (given code a student re-typed
or moved) never counts as shared. copydetect's tokenizer normalises names (every variable is ``V``)
and drops comments and whitespace, so renaming and reformatting do not hide a copy.

Submissions are read in either layout: ``SUBMISSIONS/<student>/*.ipynb`` (what instructors collect)
or nbgrader's ``submitted/<student>/<assignment>/*.ipynb`` (``submitted/`` or the course root
containing it). Inside the submissions no symlink is followed; non-regular and oversized files,
damaged notebooks and unusable student folders are skipped with a one-line warning on stderr.
"""

from __future__ import annotations

import difflib
import functools
import json
import os
import re
import stat
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from copydetect import CopyDetector
from copydetect.utils import filter_code

from autograder.instructor.layout import NOTEBOOKS
from autograder.instructor.submissions import STUDENT_ID

MAX_NOTEBOOK_BYTES = 5 * 2**20  # a notebook with plots is ~1 MB; larger ones are skipped
ANSWERS = "answers.py"  # the per-student source file copydetect reads

# Defaults (autograder/README.md, "Similarity check", says how they were chosen). copydetect's
# "tokens" are characters of the normalised code (names -> V, strings -> S, no whitespace or
# comments): `self.grad_b = g.sum(axis=0)` is `self.V=V.V(V=0)`, 15 tokens.
NOISE = 25  # shared runs shorter than this never count (copydetect's default)
GUARANTEE = 25  # shared runs this long are always found; = NOISE: every k-gram is a fingerprint (copydetect's)
THRESHOLD = 0.5  # a pair is listed when more than half of one student's own code is in the other's ...
MIN_OVERLAP = 100  # ... and they share at least this many tokens (a few lines): one-liners are no evidence

Warn = Callable[[str], None]


class SimilarityError(Exception):
    """A problem with the command's input (no such folder, no release, fewer than two students)."""


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


@dataclass(frozen=True)
class Settings:
    """copydetect's thresholds and what the report lists."""

    noise: int = NOISE
    guarantee: int = GUARANTEE
    threshold: float = THRESHOLD
    min_overlap: int = MIN_OVERLAP

    def __post_init__(self):
        if not 1 <= self.noise <= self.guarantee:
            raise SimilarityError(f"need 1 <= noise ({self.noise}) <= guarantee ({self.guarantee})")
        if not 0 <= self.threshold < 1:
            raise SimilarityError(f"the threshold must be in [0, 1), got {self.threshold}")
        if self.min_overlap < 0:
            raise SimilarityError(f"min_overlap must be >= 0, got {self.min_overlap}")


@dataclass(frozen=True)
class Pair:
    """Two students and how much of each one's answer code (boilerplate removed) is in the other's."""

    a: str
    b: str
    similarity_a: float  # share of a's answer code found in b's
    similarity_b: float  # share of b's answer code found in a's
    overlap: int  # shared tokens (characters of the normalised code)
    listed: bool  # above the threshold and min_overlap

    @property
    def score(self) -> float:
        """The ranking key: the larger of the two shares."""
        return max(self.similarity_a, self.similarity_b)


@dataclass
class Report:
    """The outcome of :func:`compare`: ranked pairs (listed ones first), who was compared, who skipped."""

    pairs: list[Pair]
    students: list[str]
    settings: Settings
    warnings: list[str] = field(default_factory=list)

    @property
    def listed(self) -> list[Pair]:
        return [p for p in self.pairs if p.listed]

    def to_json(self) -> dict:
        return {"settings": asdict(self.settings), "students": self.students, "warnings": self.warnings,
                "pairs": [{**asdict(p), "score": p.score} for p in self.pairs]}


# --- reading notebooks --------------------------------------------------------------------------

def read_regular_file(path: Path, max_bytes: int = MAX_NOTEBOOK_BYTES, warn: Warn = _warn) -> bytes | None:
    """The bytes of ``path`` if it is a regular file (not a symlink) of at most ``max_bytes``; else None."""
    try:
        info = os.lstat(path)
    except OSError as error:
        warn(f"{path}: skipped ({error.strerror})")
        return None
    if stat.S_ISLNK(info.st_mode):
        warn(f"{path}: skipped (a symlink, not followed)")
        return None
    if not stat.S_ISREG(info.st_mode):
        warn(f"{path}: skipped (not a regular file)")
        return None
    if info.st_size > max_bytes:
        warn(f"{path}: skipped ({info.st_size} bytes, more than {max_bytes})")
        return None
    try:  # O_NOFOLLOW | O_NONBLOCK: the file may have been swapped for a symlink or a FIFO since lstat
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:
        warn(f"{path}: skipped ({error.strerror})")
        return None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            warn(f"{path}: skipped (not a regular file)")
            return None
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        warn(f"{path}: skipped (more than {max_bytes} bytes)")
        return None
    return data


def answer_cells(notebook: dict, grade_ids: set[str] | None = None) -> dict[str, str]:
    """``{grade_id: code}`` of the code cells with nbgrader ``solution: true`` (of ``grade_ids`` only).

    Cells repeated under one ``grade_id`` (a copied cell keeps its metadata) are joined in order.
    """
    answers: dict[str, str] = {}
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    for cell in cells if isinstance(cells, list) else []:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        meta = cell.get("metadata")
        nbgrader = meta.get("nbgrader") if isinstance(meta, dict) else None
        if not isinstance(nbgrader, dict) or nbgrader.get("solution") is not True:
            continue
        grade_id = nbgrader.get("grade_id")
        if not isinstance(grade_id, str) or (grade_ids is not None and grade_id not in grade_ids):
            continue
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(line, str) for line in source):
            source = "".join(source)
        if isinstance(source, str):
            answers[grade_id] = answers[grade_id] + "\n" + source if grade_id in answers else source
    return answers


def read_notebook(path: Path, max_bytes: int = MAX_NOTEBOOK_BYTES, warn: Warn = _warn) -> dict | None:
    """A notebook's JSON (nbformat 4), or None with a warning if unreadable, oversized or damaged."""
    data = read_regular_file(path, max_bytes, warn)
    if data is None:
        return None
    try:
        notebook = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        warn(f"{path}: skipped (damaged notebook: {type(error).__name__})")
        return None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        warn(f"{path}: skipped (not an nbformat 4 notebook)")
        return None
    return notebook


def release_answers(release: Path = NOTEBOOKS) -> dict[str, dict[str, str]]:
    """``{notebook stem: {grade_id: given code}}`` of the release's answer cells, in notebook and cell order."""
    answers = {}
    for path in sorted(Path(release).glob("*.ipynb")):
        notebook = read_notebook(path)
        cells = answer_cells(notebook) if notebook is not None else {}
        if cells:
            answers[path.stem] = cells
    if not answers:
        raise SimilarityError(f"{release}: no release notebook with answer cells (nbgrader solution cells)")
    return answers


# --- finding submissions ------------------------------------------------------------------------

def _entries(folder: Path, warn: Warn) -> list[os.DirEntry]:
    try:
        with os.scandir(folder) as it:
            return sorted((e for e in it if not e.name.startswith(".")), key=lambda e: e.name)
    except OSError as error:
        warn(f"{folder}: skipped ({error.strerror})")
        return []


def _notebooks_in(folder: Path, warn: Warn) -> list[Path]:
    return [Path(e.path) for e in _entries(folder, warn) if e.name.endswith(".ipynb")]


def find_students(root: Path, assignment: str | None = None, warn: Warn = _warn) -> dict[str, list[Path]]:
    """``{student: notebook paths}`` under ``root``, in either layout (see the module's docstring).

    A student's notebooks are the ``*.ipynb`` directly in their folder, else those of their one
    assignment folder (``assignment`` picks it, for nbgrader's layout). Symlinked folders are skipped
    with a warning; symlinked notebooks are listed, for :func:`read_regular_file` to refuse.
    """
    root = Path(root)
    if not root.is_dir():
        raise SimilarityError(f"{root}: no such folder")
    submitted = root / "submitted"
    if submitted.is_dir() and not submitted.is_symlink():
        root = submitted
    students = {}
    for entry in _entries(root, warn):
        if entry.is_symlink():
            warn(f"{entry.path}: skipped (a symlink, not followed)")
            continue
        if not entry.is_dir(follow_symlinks=False):
            continue
        if not STUDENT_ID.match(entry.name):
            warn(f"{entry.path}: skipped (a student id holds letters, digits and _.@- only)")
            continue
        folder = Path(entry.path)
        notebooks = _notebooks_in(folder, warn) if assignment is None else []
        if not notebooks:
            subfolders = []
            for sub in _entries(folder, warn):
                if assignment not in (None, sub.name) or sub.name.endswith(".ipynb"):
                    continue
                if sub.is_symlink():
                    warn(f"{sub.path}: skipped (a symlink, not followed)")
                elif sub.is_dir(follow_symlinks=False):
                    subfolders.append(Path(sub.path))
            if len(subfolders) > 1:
                warn(f"{folder}: skipped (several assignment folders: choose one with --assignment)")
                continue
            notebooks = _notebooks_in(subfolders[0], warn) if subfolders else []
        if not notebooks:
            warn(f"{folder}: skipped (no notebooks)")
            continue
        students[entry.name] = notebooks
    return students


def student_answers(notebooks: list[Path], release: dict[str, dict[str, str]],
                    max_bytes: int = MAX_NOTEBOOK_BYTES, warn: Warn = _warn) -> dict[str, dict[str, str]]:
    """``{notebook stem: {grade_id: code}}`` of a student's answer cells that match the release's."""
    answers = {}
    for path in notebooks:
        if path.stem not in release:
            warn(f"{path}: skipped (not a notebook of the release)")
            continue
        notebook = read_notebook(path, max_bytes, warn)
        if notebook is not None:
            answers[path.stem] = answer_cells(notebook, set(release[path.stem]))
    return answers


_DEF = re.compile(r"^\s*(def|class)\s")


@functools.lru_cache(maxsize=65536)
def _normalised(line: str) -> str:
    """``line`` as copydetect fingerprints it: names -> V, strings -> S, no whitespace or comments."""
    return filter_code(line.strip(), ANSWERS, "python")[0]


def own_code(answer: str, given: str) -> str:
    """The lines of ``answer`` (a student's answer cell) that are not the release's ``given`` cell.

    Lines are matched by ``difflib`` on their stripped text; a line that replaces a given line
    and reads the same once normalised by copydetect (a given line re-typed with other quotes,
    spacing or comment) is given code too. Each run of the student's own lines comes after a
    comment naming the given ``def``/``class`` line above it (comments never count).

    Given code is left out *before* fingerprinting so that no fingerprint straddles given and
    answer code: answers are a few lines between given ``def`` lines, and such fingerprints, alike
    in every student's file (answers start and end alike: ``return``, ``self.``), made independent
    students look similar (see autograder/README.md).
    """
    mine, theirs = answer.splitlines(), given.splitlines()
    matcher = difflib.SequenceMatcher(None, [line.strip() for line in theirs], [line.strip() for line in mine],
                                      autojunk=False)
    parts = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag not in ("replace", "insert"):
            continue
        replaced = {_normalised(line) for line in theirs[i1:i2]}
        lines = [line for line in mine[j1:j2] if not _normalised(line) or _normalised(line) not in replaced]
        if any(_normalised(line) for line in lines):
            above = next((line.strip() for line in reversed(theirs[:i1]) if _DEF.match(line)), None)
            parts.append((f"# in {above}\n" if above else "") + "\n".join(lines))
    return "\n".join(parts)


def answers_source(answers: dict[str, dict[str, str]], release: dict[str, dict[str, str]]) -> str:
    """One source file: a student's own code (:func:`own_code`) of each answer cell, in the release's
    order, each under a comment naming the cell. (copydetect drops comments: they never count.)
    """
    parts = []
    for stem, cells in release.items():
        for grade_id, given in cells.items():
            code = answers.get(stem, {}).get(grade_id)
            code = own_code(code, given) if code is not None else ""
            if code.strip():
                parts.append(f"# ----- {stem}.ipynb, cell {grade_id} -----\n{code.rstrip()}\n")
    return "\n\n".join(parts)


# --- comparing ----------------------------------------------------------------------------------

class _Detector(CopyDetector):
    """copydetect's detector, its report listing the pairs this command lists, in the same order:
    by the larger share, then shared tokens (copydetect's own order is the first file's share)."""

    def __init__(self, *args, min_overlap: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        self.min_overlap = min_overlap

    def get_copied_code_list(self):
        # entries: [share of test, share of ref, test file, ref file, test html, ref html, overlap]
        entries = [e for e in super().get_copied_code_list() if e[6] >= self.min_overlap]
        return sorted(entries, key=lambda e: (-max(e[0], e[1]), -e[6]))


def _given_source(release: dict[str, dict[str, str]]) -> str:
    """The boilerplate file: the release's answer cells, whole."""
    return "\n\n".join(code for cells in release.values() for code in cells.values()) + "\n"


def _write_atomic(path: Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def compare(submissions: Path, out: Path, *, release: Path = NOTEBOOKS, assignment: str | None = None,
            settings: Settings | None = None, max_bytes: int = MAX_NOTEBOOK_BYTES,
            warn: Warn | None = None) -> Report:
    """Compare every pair of students' answer cells; write copydetect's HTML report to ``out``.

    ``release`` is the folder of release notebooks (the boilerplate). Students without any answer
    cell are left out with a warning. Returns every pair, ranked: listed pairs first (by the larger
    share, then shared tokens), then the others likewise.
    """
    settings = settings or Settings()
    warnings: list[str] = []

    def collect_warning(message: str) -> None:
        warnings.append(message)
        (warn or _warn)(message)

    given = release_answers(release)
    students = find_students(submissions, assignment, collect_warning)
    with tempfile.TemporaryDirectory(prefix="similarity-") as tmp:
        tmp_path = Path(tmp)
        (tmp_path / "students").mkdir()
        (tmp_path / "release").mkdir()
        (tmp_path / "release" / ANSWERS).write_text(_given_source(given), encoding="utf-8")
        compared = []
        for student, notebooks in students.items():
            answers = student_answers(notebooks, given, max_bytes, collect_warning)
            if not any(answers.values()):
                collect_warning(f"{student}: left out (no answer cell found)")
                continue
            source = answers_source(answers, given)
            if not source:
                collect_warning(f"{student}: left out (answer cells as released)")
                continue
            (tmp_path / "students" / student).mkdir()
            (tmp_path / "students" / student / ANSWERS).write_text(source, encoding="utf-8")
            compared.append(student)
        if len(compared) < 2:
            raise SimilarityError(f"{submissions}: fewer than two students to compare ({len(compared)})")
        detector = _Detector(test_dirs=[str(tmp_path / "students")], boilerplate_dirs=[str(tmp_path / "release")],
                             extensions=["py"], noise_t=settings.noise, guarantee_t=settings.guarantee,
                             display_t=settings.threshold, ignore_leaf=True, autoopen=False, silent=True,
                             out_file=str(tmp_path / "report.html"), min_overlap=settings.min_overlap)
        detector.run()
        html = detector.generate_html_report(output_mode="return")
        # The report names files by their temporary paths: keep `<student>/answers.py`.
        html = html.replace(str(tmp_path / "students") + os.sep, "").replace(str(tmp_path) + os.sep, "")
        _write_atomic(out, html)
        pairs = _pairs(detector, settings)
    return Report(pairs=pairs, students=compared, settings=settings, warnings=warnings)


def _pairs(detector: CopyDetector, settings: Settings) -> list[Pair]:
    """Every compared pair of students, from copydetect's similarity and overlap matrices, ranked."""
    tests = [Path(f).parent.name for f in detector.test_files]
    refs = [Path(f).parent.name for f in detector.ref_files]
    pairs: dict[tuple[str, str], Pair] = {}
    for i, a in enumerate(tests):
        for j, b in enumerate(refs):
            share_a, share_b = (float(x) for x in detector.similarity_matrix[i, j])
            if share_a < 0 or (b, a) in pairs:  # -1: not compared (the same student); or seen the other way
                continue
            overlap = int(detector.token_overlap_matrix[i, j])
            listed = max(share_a, share_b) > settings.threshold and overlap >= settings.min_overlap
            pairs[(a, b)] = Pair(a, b, round(share_a, 4), round(share_b, 4), overlap, listed)
    ordered = [p if p.a < p.b else Pair(p.b, p.a, p.similarity_b, p.similarity_a, p.overlap, p.listed)
               for p in pairs.values()]
    return sorted(ordered, key=lambda p: (not p.listed, -p.score, -p.overlap, p.a, p.b))


def format_table(report: Report, limit: int | None = None) -> str:
    """The listed pairs as a text table (rank, pair, both shares, shared tokens)."""
    listed = report.listed
    n = len(report.students)
    head = (f"{len(listed)} of {n * (n - 1) // 2} pairs of {n} students listed "
            f"(share > {report.settings.threshold:.0%}, at least {report.settings.min_overlap} shared tokens)")
    if not listed:
        return head
    shown = listed if limit is None else listed[:limit]
    width = max(len(p.a) + len(p.b) for p in shown) + 5
    lines = [head, f"{'rank':>4}  {'pair':<{width}}  {'a in b':>7}  {'b in a':>7}  {'tokens':>6}"]
    for rank, p in enumerate(shown, start=1):
        lines.append(f"{rank:>4}  {p.a + ' <-> ' + p.b:<{width}}  {p.similarity_a:>7.1%}  {p.similarity_b:>7.1%}"
                     f"  {p.overlap:>6}")
    if len(shown) < len(listed):
        lines.append(f"... and {len(listed) - len(shown)} more (see the report)")
    return "\n".join(lines)


def run(submissions: Path, out: Path, *, release: Path = NOTEBOOKS, assignment: str | None = None,
        settings: Settings | None = None, json_out: Path | None = None, limit: int | None = None) -> Report:
    """What the command does: :func:`compare`, the table on stdout, the ranked pairs as JSON if asked."""
    report = compare(submissions, out, release=release, assignment=assignment, settings=settings)
    print(format_table(report, limit))
    print(f"report: {out}")
    if json_out is not None:
        _write_atomic(json_out, json.dumps(report.to_json(), indent=2) + "\n")
    return report


def run_cli(args) -> int:
    """``python -m autograder similarity`` (the options of ``autograder/cli.py``'s subparser)."""
    given = {"noise": args.noise, "guarantee": args.guarantee, "threshold": args.threshold,
             "min_overlap": args.min_overlap}
    try:
        settings = Settings(**{key: value for key, value in given.items() if value is not None})
        run(Path(args.submissions), Path(args.out), release=Path(args.release) if args.release else NOTEBOOKS,
            assignment=args.assignment, settings=settings, json_out=Path(args.json) if args.json else None,
            limit=args.top)
    except SimilarityError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0

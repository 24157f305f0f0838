"""notebooks/ is exactly nbgrader's release of solutions/, gives nothing away, and validates as it should."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from helpers import REPO

from autograder.instructor.layout import CONFIG, NOTEBOOKS, source_notebooks
from autograder.instructor.nbgrader_run import nbgrader_env
from autograder.instructor.regions import SOLUTION, public_lines, region_lines, significant
from autograder.instructor.release import cell_summary

STALE = "notebooks/ is stale: run `make release` (python -m autograder release) and commit the result"


def _release(out: Path) -> list[Path]:
    result = subprocess.run([sys.executable, "-m", "autograder", "--quiet", "release", "--out", str(out)],
                            cwd=REPO, env=nbgrader_env(), capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return sorted(out.glob("*.ipynb"))


@pytest.fixture(scope="module")
def fresh_release(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("release")
    _release(out)
    return out


def test_release_is_reproducible(fresh_release, tmp_path):
    again = _release(tmp_path / "again")
    assert [p.name for p in again] == [p.name for p in sorted(fresh_release.glob("*.ipynb"))]
    for path in again:
        assert path.read_bytes() == (fresh_release / path.name).read_bytes(), f"{path.name} differs between runs"


def test_release_matches_solutions(fresh_release):
    expected = sorted(p.name for p in fresh_release.glob("*.ipynb"))
    assert expected == [p.name for p in source_notebooks()], "one release per source"
    committed = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    assert committed == expected, f"{STALE} (notebooks: {committed}, expected: {expected})"
    for name in expected:
        fresh, old = cell_summary(fresh_release / name), cell_summary(NOTEBOOKS / name)
        assert len(old) == len(fresh), f"{name}: {len(old)} cells, nbgrader makes {len(fresh)}. {STALE}"
        for index, (a, b) in enumerate(zip(old, fresh, strict=True), start=1):
            assert a == b, f"{name}, cell {index} ({b['id']}) differs from what nbgrader makes. {STALE}"


def _secret_lines(path: Path) -> set[str]:
    """Significant lines of the solution regions that occur nowhere else in the notebook."""
    secret, public = set(), set()
    for cell in nbformat.read(path, as_version=4).cells:
        inside = region_lines(cell.source, SOLUTION)
        secret |= significant(inside)
        public |= {line.strip() for line in public_lines(cell.source)}
    return secret - public


@pytest.mark.parametrize("source", source_notebooks(), ids=lambda p: p.name)
def test_release_holds_no_solution(source):
    release = NOTEBOOKS / source.name
    assert release.exists(), STALE
    text = release.read_text()
    assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text  # hidden tests live in autograder/checks
    cells = nbformat.read(release, as_version=4).cells
    released = {line.strip() for cell in cells for line in cell.source.splitlines()}
    secrets = _secret_lines(source)
    assert secrets, f"{source.name} has no solution region: nothing to check"
    leaked = sorted(secrets & released)
    assert not leaked, f"{release.name} gives away {len(leaked)} line(s), e.g. {leaked[:3]}"


@pytest.fixture(scope="module")
def validator(tmp_path_factory):
    """nbgrader's Validator with the course configuration, executing in a scratch folder."""
    from nbgrader.validator import Validator
    from traitlets.config.loader import PyFileConfigLoader

    saved = dict(os.environ)
    os.environ.update(nbgrader_env())  # DLCORE_QUICK=1, this repository's dlcore, the venv's bin/
    config = PyFileConfigLoader(CONFIG.name, str(CONFIG.parent)).load_config()
    scratch = tmp_path_factory.mktemp("validate")

    def validate(path: Path) -> dict:
        copy = scratch / path.parent.name / path.name
        copy.parent.mkdir(exist_ok=True)
        shutil.copyfile(path, copy)
        return Validator(config=config).validate(str(copy))

    yield validate
    os.environ.clear()
    os.environ.update(saved)


@pytest.mark.parametrize("source", source_notebooks(), ids=lambda p: p.name)
def test_solution_notebook_passes_validation(validator, source):
    results = validator(source)
    assert not results, f"{source.name} fails nbgrader validate: " + str({k: [r.get('raw_error', r['source'])[:300]
                                                                             for r in v] for k, v in results.items()})


@pytest.mark.parametrize("source", source_notebooks(), ids=lambda p: p.name)
def test_release_notebook_fails_validation(validator, source):
    results = validator(NOTEBOOKS / source.name)
    assert set(results) == {"failed"}, f"the untouched release of {source.name} should fail its tests: {results}"

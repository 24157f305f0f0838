"""The Gradescope zip holds what grading needs and nothing else, whatever else the checkout holds.

The zip is built from a copy of this checkout to which an instructor's working files are added:
the course folder (gradebook, submissions, feedback, hidden results), a virtual environment,
MNIST, plots, caches, notes and symbolic links. Running the zip itself (setup.sh, then
run_autograder on Python 3.10 and 3.13) is `.ci/python-floor`'s job.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from helpers import REPO

from autograder.gradescope_zip import ZipRefused, build_zip

# What an instructor's checkout holds besides the repository: none of it may reach the zip.
STRAYS = {
    "autograder/course/gradebook.db": b"SQLite format 3\x00",
    "autograder/course/nbgrader_config.py": b"c = get_config()\n",
    "autograder/course/source/dlcore/01_modules.ipynb": b"{}",
    "autograder/course/submitted/alice/dlcore/01_modules.ipynb": b'{"alice": "her answers"}',
    "autograder/course/submitted/alice/dlcore/helper.py": b"ANSWER = 42\n",
    "autograder/course/autograded/alice/dlcore/01_modules.ipynb": b"{}",
    "autograder/course/feedback/alice/dlcore/01_modules.html": b"<html>alice's feedback</html>",
    "autograder/course/hidden/alice.json": b'{"score": 97}',
    "autograder/course/grades.csv": b"student,score\nalice,97\n",
    ".venv/pyvenv.cfg": b"home = /usr/bin\n",
    ".venv/lib/python3.11/site-packages/numpy/__init__.py": b"",
    "data/mnist/train-images-idx3-ubyte": b"\x00\x00\x08\x03",
    "out/mlp_curves.png": b"\x89PNG",
    "notes.txt": b"next year's exam questions",
    "dlcore/__pycache__/module.cpython-311.pyc": b"\x00",
    "solutions/.ipynb_checkpoints/01_modules-checkpoint.ipynb": b"{}",
    "submissions/bob/01_modules.ipynb": b"{}",
    "autograder.zip": b"PK an older zip",
}
LINKS = {"notes-link.txt": "notes.txt", "autograder/course/latest": "hidden"}  # link -> target

# Never in the zip, in any checkout.
FORBIDDEN_PREFIXES = ("autograder/course/", "autograder/instructor/", ".venv/", "data/", "out/", "tests/",
                      "notebooks/", "bench/", ".ci/", "solutions/src/", "submissions/", ".git")
FORBIDDEN = {"autograder/course.py", "autograder/nbgrader_config.py", "solutions/build.py", "solutions/README.md",
             "README.md", "autograder/README.md", "requirements.txt", "Makefile", ".gitignore", "autograder.zip",
             *STRAYS, *LINKS}
# Always in the zip.
REQUIRED = {"setup.sh", "run_autograder", "requirements-grader.txt", "pyproject.toml", "autograder/__main__.py",
            "autograder/cli.py", "autograder/grade.py", "autograder/intake.py", "autograder/sandbox/runner.py",
            "autograder/checks/base.py", "dlcore/__init__.py", "dlcore/module.py", "dlcore/notebook_loader.py",
            "dlcore/data/mnist.py", "solutions/01_modules.ipynb", "solutions/02_gradcheck.ipynb",
            "solutions/03_training.ipynb", "solutions/04_cnn.ipynb"}


def _tracked(root: Path) -> list[str]:
    out = subprocess.run(["git", "-C", str(root), "ls-files", "-z"], check=True, capture_output=True).stdout
    return [name for name in out.decode().split("\0") if name and (root / name).exists()]


def _expected() -> set[str]:
    """The allow-list, restated: the repository's tracked files the grader needs, and the two scripts."""
    grader_folders = {"dlcore", "dlcore/data", "autograder", "autograder/checks", "autograder/sandbox"}
    names = {"setup.sh", "run_autograder"}
    for name in _tracked(REPO):
        folder = name.rpartition("/")[0]
        if (name in ("requirements-grader.txt", "pyproject.toml")
                or (folder in grader_folders and name.endswith(".py")
                    and name not in ("autograder/course.py", "autograder/nbgrader_config.py"))
                or (folder == "solutions" and name.endswith(".ipynb"))):
            names.add(name)
    return names


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                   check=True, capture_output=True)


@pytest.fixture(params=["git", "plain"])
def checkout(request, tmp_path) -> Path:
    """This checkout's working tree plus the strays. "git": everything committed, strays included
    (the worst case: an instructor who force-added the course folder); "plain": no .git at all."""
    root = tmp_path / "checkout"
    for name in _tracked(REPO):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, root / name)
    for name, data in STRAYS.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    for name, target in LINKS.items():
        (root / name).symlink_to(target)
    if request.param == "git":
        _git(root, "init", "-q")
        _git(root, "add", "-A", "-f")
        _git(root, "commit", "-q", "-m", "everything")
    return root


def _listing(zip_path: Path) -> list[str]:
    with zipfile.ZipFile(zip_path) as z:
        return z.namelist()


def test_the_zip_holds_exactly_the_allowed_files(checkout, tmp_path):
    names = _listing(build_zip(tmp_path / "autograder.zip", root=checkout))
    print("\n".join(names))
    assert len(names) == len(set(names))
    assert set(names) == _expected()
    assert REQUIRED <= set(names)
    assert not set(names) & FORBIDDEN
    assert not [n for n in names if n.startswith(FORBIDDEN_PREFIXES) or "__pycache__" in n or "/." in n]
    with zipfile.ZipFile(tmp_path / "autograder.zip") as z:
        for name in set(names) - {"setup.sh", "run_autograder"}:
            assert z.read(name) == (checkout / name).read_bytes(), name


def test_the_scripts_are_executable_and_parse(tmp_path):
    with zipfile.ZipFile(build_zip(tmp_path / "autograder.zip")) as z:
        for name in ("setup.sh", "run_autograder"):
            assert (z.getinfo(name).external_attr >> 16) & 0o777 == 0o755
            script = tmp_path / name
            script.write_bytes(z.read(name))
            subprocess.run(["bash", "-n", str(script)], check=True)
        setup = z.read("setup.sh").decode()
    # Pinned and complete (--no-deps, then pip check), the sandbox's bubblewrap, MNIST verified.
    assert "install --quiet --no-deps -r requirements-grader.txt" in setup
    assert '"${PIP[@]}" check' in setup and "bubblewrap" in setup and "-m dlcore data fetch" in setup


def test_the_zips_grader_runs_without_what_the_zip_leaves_out(tmp_path):
    """The unpacked zip alone (no nbgrader tooling, no tests) imports the grader and parses its command,
    as run_autograder calls it; the full run is .ci/python-floor's."""
    import sys

    with zipfile.ZipFile(build_zip(tmp_path / "autograder.zip")) as z:
        z.extractall(tmp_path / "source")
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(tmp_path / "source"), "HOME": str(tmp_path)}
    for argv in (["-m", "autograder", "grade", "--help"],
                 ["-c", "import autograder.grade, autograder.checks, autograder.sandbox.jail"]):
        proc = subprocess.run([sys.executable, "-s", *argv], cwd=tmp_path / "source",
                              env=env, capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stderr[-2000:]


def test_the_same_checkout_gives_the_same_zip(tmp_path):
    first = build_zip(tmp_path / "a.zip").read_bytes()
    assert build_zip(tmp_path / "b.zip").read_bytes() == first


def test_in_a_git_checkout_untracked_files_stay_out(tmp_path):
    root = tmp_path / "checkout"
    for name in _tracked(REPO):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, root / name)
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "tracked")
    shutil.copy(root / "solutions" / "01_modules.ipynb", root / "solutions" / "05_draft.ipynb")
    assert "solutions/05_draft.ipynb" not in _listing(build_zip(tmp_path / "git.zip", root=root))
    shutil.rmtree(root / ".git")  # without git, the walk finds it: it is in an allowed place
    assert "solutions/05_draft.ipynb" in _listing(build_zip(tmp_path / "plain.zip", root=root))


def test_a_symlink_where_an_allowed_file_goes_stops_the_build(checkout, tmp_path):
    (checkout / "dlcore" / "leak.py").symlink_to(checkout / "autograder/course/hidden/alice.json")
    if (checkout / ".git").exists():
        _git(checkout, "add", "-f", "dlcore/leak.py")
    with pytest.raises(ZipRefused, match="dlcore/leak.py is a symbolic link"):
        build_zip(tmp_path / "autograder.zip", root=checkout)
    assert not (tmp_path / "autograder.zip").exists()


def test_a_symlinked_allowed_folder_stops_the_build(checkout, tmp_path):
    (checkout / "solutions").rename(checkout / "elsewhere")
    (checkout / "solutions").symlink_to("elsewhere")
    with pytest.raises(ZipRefused, match="solutions is a symbolic link"):
        build_zip(tmp_path / "autograder.zip", root=checkout)


def test_a_fifo_or_a_folder_where_an_allowed_file_goes_stops_the_build(tmp_path):
    root = tmp_path / "checkout"
    for name in _tracked(REPO):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, root / name)
    os.mkfifo(root / "dlcore" / "pipe.py")  # opened non-blocking, refused after fstat: no hang
    with pytest.raises(ZipRefused, match="dlcore/pipe.py is not a regular file"):
        build_zip(tmp_path / "a.zip", root=root)
    os.unlink(root / "dlcore" / "pipe.py")
    (root / "autograder" / "sandbox" / "evil.py").mkdir()
    with pytest.raises(ZipRefused, match="autograder/sandbox/evil.py is not a regular file"):
        build_zip(tmp_path / "a.zip", root=root)


def test_a_folder_that_is_no_checkout_is_refused(tmp_path):
    with pytest.raises(ZipRefused, match="missing requirements-grader.txt"):
        build_zip(tmp_path / "a.zip", root=tmp_path)


def test_the_command_line_says_why_in_one_line(monkeypatch, tmp_path, capsys):
    import autograder.gradescope_zip as gradescope_zip
    from autograder.cli import main

    def refuse(out: Path) -> Path:
        raise ZipRefused("dlcore/leak.py is a symbolic link: the zip takes regular files only")

    monkeypatch.setattr(gradescope_zip, "build_zip", refuse)
    assert main(["gradescope-zip", "--out", str(tmp_path / "a.zip")]) == 1
    assert capsys.readouterr().err == "error: dlcore/leak.py is a symbolic link: the zip takes regular files only\n"
    monkeypatch.undo()
    assert main(["gradescope-zip", "--out", str(tmp_path / "a.zip")]) == 0
    assert "setup.sh" in _listing(tmp_path / "a.zip")

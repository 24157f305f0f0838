"""autograder.intake: a submission's notebooks, regular files only, links never followed, bounded."""

from __future__ import annotations

import concurrent.futures
import os
import socket
import time
from pathlib import Path

import nbformat
import pytest
from helpers import REPO

from autograder.intake import MAX_ENTRIES, MAX_REASONS, Intake, read_submission

SOLUTION = REPO / "solutions" / "01_modules.ipynb"
SECRET = "TOP-SECRET-GRADER-FILE"


def notebook(text: str = "x = 1") -> bytes:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(text)])
    return nbformat.writes(nb).encode()


def put(path: Path, data: bytes | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(notebook(path.stem) if data is None else data)
    return path


def read(path: Path, **limits) -> Intake:
    """read_submission in a thread that must finish in 20 s: a blocking open of a FIFO or a read of
    /dev/zero fails the test instead of hanging the suite."""
    pool = concurrent.futures.ThreadPoolExecutor(1)
    try:
        return pool.submit(read_submission, path, **limits).result(timeout=20)
    finally:
        pool.shutdown(wait=False)


@pytest.fixture
def secret_file(tmp_path) -> Path:
    """A root-only file outside the submission, like the grader's own files."""
    path = tmp_path / "grader" / "hidden.json"
    path.parent.mkdir()
    path.write_text(SECRET)
    path.chmod(0o600)
    return path


def assert_not_leaked(intake: Intake) -> None:
    assert SECRET not in repr(intake)
    assert all(SECRET.encode() not in data for data in intake.notebooks.values())


def test_a_folder_of_notebooks_gives_their_bytes_by_name(tmp_path):
    sub = tmp_path / "sub"
    a = put(sub / "01_modules.ipynb")
    b = put(sub / "02_gradcheck.ipynb")
    put(sub / "README.md", b"not a notebook")  # other files: ignored, no reason
    intake = read(sub)
    assert intake.notebooks == {"01_modules.ipynb": a.read_bytes(), "02_gradcheck.ipynb": b.read_bytes()}
    assert list(intake.notebooks) == sorted(intake.notebooks)
    assert intake.locations == {"01_modules.ipynb": "01_modules.ipynb", "02_gradcheck.ipynb": "02_gradcheck.ipynb"}
    assert intake.refused == []


def test_one_notebook_file(tmp_path):
    a = put(tmp_path / "01_modules.ipynb")
    assert read(a).notebooks == {"01_modules.ipynb": a.read_bytes()}
    other = put(tmp_path / "notes.txt", b"hello")
    assert read(other).refused == ["notes.txt is not a notebook (.ipynb)"]


def test_notebooks_in_subfolders_are_found(tmp_path):
    """A Gradescope upload of a folder keeps the folder: the notebooks sit one or more levels down."""
    sub = tmp_path / "sub"
    put(sub / "my-work" / "01_modules.ipynb")
    put(sub / "my-work" / "part2" / "02_gradcheck.ipynb")
    put(sub / "03_training.ipynb")
    intake = read(sub)
    assert intake.locations == {"01_modules.ipynb": "my-work/01_modules.ipynb",
                                "02_gradcheck.ipynb": "my-work/part2/02_gradcheck.ipynb",
                                "03_training.ipynb": "03_training.ipynb"}
    assert intake.refused == []


def test_hidden_entries_are_skipped(tmp_path):
    sub = tmp_path / "sub"
    put(sub / "01_modules.ipynb")
    put(sub / ".ipynb_checkpoints" / "01_modules-checkpoint.ipynb")
    put(sub / "__MACOSX" / "._01_modules.ipynb", b"\x00\x05\x16\x07 AppleDouble")
    put(sub / ".02_gradcheck.ipynb")
    intake = read(sub)
    assert list(intake.notebooks) == ["01_modules.ipynb"] and intake.refused == []


def test_a_name_twice_is_refused_naming_both(tmp_path):
    sub = tmp_path / "sub"
    put(sub / "a" / "01_modules.ipynb", notebook("first"))
    put(sub / "b" / "01_modules.ipynb", notebook("second"))
    put(sub / "02_gradcheck.ipynb")
    intake = read(sub)
    assert list(intake.notebooks) == ["02_gradcheck.ipynb"]
    assert intake.refused == ["01_modules.ipynb appears 2 times (a/01_modules.ipynb, b/01_modules.ipynb): "
                              "upload one copy only"]


def test_a_symlink_to_a_root_only_file_is_refused_unread(tmp_path, secret_file):
    sub = tmp_path / "sub"
    put(sub / "01_modules.ipynb")
    (sub / "02_gradcheck.ipynb").symlink_to(secret_file)
    intake = read(sub)
    assert list(intake.notebooks) == ["01_modules.ipynb"]
    assert intake.refused == ["02_gradcheck.ipynb is a symbolic link: only regular files are accepted"]
    assert_not_leaked(intake)


def test_a_symlink_to_a_solution_notebook_is_refused(tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "01_modules.ipynb").symlink_to(SOLUTION)
    intake = read(sub)
    assert intake.notebooks == {}
    assert intake.refused == ["01_modules.ipynb is a symbolic link: only regular files are accepted"]


def test_a_symlink_to_dev_zero_is_refused_without_reading(tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "01_modules.ipynb").symlink_to("/dev/zero")
    start = time.perf_counter()
    intake = read(sub)
    assert time.perf_counter() - start < 5
    assert intake.notebooks == {}
    assert intake.refused == ["01_modules.ipynb is a symbolic link: only regular files are accepted"]


def test_a_symlinked_folder_is_not_entered(tmp_path, secret_file):
    sub = tmp_path / "sub"
    put(sub / "01_modules.ipynb")
    (sub / "more").symlink_to(SOLUTION.parent)  # the reference notebooks, by a predictable path
    (sub / "grader").symlink_to(secret_file.parent)
    intake = read(sub)
    assert list(intake.notebooks) == ["01_modules.ipynb"]
    assert intake.refused == ["grader is a symbolic link: only regular files are accepted",
                              "more is a symbolic link: only regular files are accepted"]
    assert_not_leaked(intake)


def test_the_submission_itself_as_a_symlink_is_refused(tmp_path):
    link = tmp_path / "submission"
    link.symlink_to(SOLUTION.parent)
    intake = read(link)
    assert intake.notebooks == {}
    assert intake.refused == ["the submission submission is a symbolic link: only regular files are accepted"]
    (tmp_path / "one.ipynb").symlink_to(SOLUTION)
    assert read(tmp_path / "one.ipynb").notebooks == {}


def test_a_fifo_is_never_opened(tmp_path):
    """Opening a FIFO for reading blocks until a writer comes: read() must return all the same."""
    sub = tmp_path / "sub"
    put(sub / "01_modules.ipynb")
    os.mkfifo(sub / "02_gradcheck.ipynb")
    os.mkfifo(sub / "pipe")
    intake = read(sub)
    assert list(intake.notebooks) == ["01_modules.ipynb"]
    assert intake.refused == ["02_gradcheck.ipynb is a FIFO (named pipe): only regular files are accepted",
                              "pipe is a FIFO (named pipe): only regular files are accepted"]


def test_a_socket_is_refused(tmp_path):
    sub = tmp_path / "sub"
    put(sub / "01_modules.ipynb")
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(sub / "03_training.ipynb"))
        intake = read(sub)
    assert intake.refused == ["03_training.ipynb is a socket: only regular files are accepted"]


def test_a_folder_named_like_a_notebook_is_refused_not_crashed_on(tmp_path):
    sub = tmp_path / "sub"
    put(sub / "01_modules.ipynb")
    put(sub / "02_gradcheck.ipynb" / "inner.ipynb")
    intake = read(sub)
    assert list(intake.notebooks) == ["01_modules.ipynb"]
    assert intake.refused == ["02_gradcheck.ipynb is a folder, not a notebook: only regular files are accepted"]


def test_hard_links_are_read_if_regular(tmp_path):
    sub = tmp_path / "sub"
    a = put(sub / "01_modules.ipynb")
    os.link(a, sub / "02_gradcheck.ipynb")
    os.mkfifo(tmp_path / "fifo")
    os.link(tmp_path / "fifo", sub / "03_training.ipynb")  # a hard link to a FIFO is a FIFO
    intake = read(sub)
    assert intake.notebooks == {"01_modules.ipynb": a.read_bytes(), "02_gradcheck.ipynb": a.read_bytes()}
    assert intake.refused == ["03_training.ipynb is a FIFO (named pipe): only regular files are accepted"]


def test_an_oversized_notebook_is_refused(tmp_path):
    sub = tmp_path / "sub"
    small = put(sub / "01_modules.ipynb")
    put(sub / "02_gradcheck.ipynb", notebook("x" * 3 * 2**20))
    intake = read(sub, max_notebook_bytes=2**20)
    assert intake.notebooks == {"01_modules.ipynb": small.read_bytes()}
    assert len(intake.refused) == 1
    assert intake.refused[0].startswith("02_gradcheck.ipynb is 3.0 MB, over the limit of 1 MB per notebook")


def test_the_total_size_is_capped(tmp_path):
    sub = tmp_path / "sub"
    for name in ("01_modules", "02_gradcheck", "03_training"):
        put(sub / f"{name}.ipynb", notebook("y" * 600_000))
    intake = read(sub, max_notebook_bytes=2**20, max_total_bytes=2**20 + 2**19)
    assert list(intake.notebooks) == ["01_modules.ipynb", "02_gradcheck.ipynb"]
    assert intake.refused == ["03_training.ipynb was not read: the notebooks together are over the limit of 1.5 MB"]


@pytest.mark.parametrize(("data", "why"), [
    (b"\xff\xfe not utf-8", "not UTF-8 text"),
    (b"print('a script')", "not JSON"),
    (b'{"cells": "nope", "nbformat": 4, "nbformat_minor": 5, "metadata": {}}',
     "does not follow the notebook format"),
    (b'{"nbformat": 99, "nbformat_minor": 0, "cells": []}', "Unsupported nbformat version 99"),
    (b"[" * 100_000 + b"]" * 100_000, "not a notebook"),
])
def test_files_that_are_not_notebooks_are_refused(tmp_path, data, why):
    sub = tmp_path / "sub"
    put(sub / "01_modules.ipynb", data)
    intake = read(sub)
    assert intake.notebooks == {}
    assert intake.refused == [f"01_modules.ipynb is not a valid notebook ({why}): open it in Jupyter, save it and "
                              "upload it again"]


def test_an_empty_submission_says_so(tmp_path):
    (tmp_path / "sub").mkdir()
    assert read(tmp_path / "sub").refused == ["no notebook (.ipynb) was found in the submission"]
    with pytest.raises(FileNotFoundError):
        read_submission(tmp_path / "missing")


def test_unprintable_names_are_refused_and_shown_safely(tmp_path):
    sub = tmp_path / "sub"
    put(sub / "01_modules.ipynb")
    put(sub / "evil\nname.ipynb")
    (sub / os.fsdecode(b"bad\xffname.ipynb")).write_bytes(notebook())
    intake = read(sub)
    assert list(intake.notebooks) == ["01_modules.ipynb"]
    assert intake.refused == ["bad?name.ipynb has unprintable characters in its name: rename it",
                              "evil?name.ipynb has unprintable characters in its name: rename it"]


def test_reasons_are_capped(tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    for i in range(MAX_REASONS + 5):
        (sub / f"{i:02d}.ipynb").symlink_to(SOLUTION)
    refused = read(sub).refused
    assert len(refused) == MAX_REASONS
    assert refused[-1] == "... and 6 more refused"


def _deep_chain(root: Path, depth: int) -> None:
    """``depth`` nested folders below ``root``, made by descriptor (the path outgrows PATH_MAX)."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):
            os.mkdir("d", dir_fd=fd)
            child = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = child
        os.close(os.open("01_modules.ipynb", os.O_WRONLY | os.O_CREAT, dir_fd=fd))
    finally:
        os.close(fd)


def _remove_deep_chain(root: Path) -> None:
    """Remove what _deep_chain made, without recursion (shutil.rmtree would recurse 3,000 deep)."""
    fds = [os.open(root, os.O_RDONLY | os.O_DIRECTORY)]
    while "d" in os.listdir(fds[-1]):
        fds.append(os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fds[-1]))
    os.unlink("01_modules.ipynb", dir_fd=fds[-1])
    while len(fds) > 1:
        os.close(fds.pop())
        os.rmdir("d", dir_fd=fds[-1])
    os.close(fds[0])


def test_3000_nested_folders_are_refused_quickly(tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    put(sub / "01_modules.ipynb")
    _deep_chain(sub, 3000)
    try:
        start = time.perf_counter()
        intake = read(sub)
        seconds = time.perf_counter() - start
    finally:
        _remove_deep_chain(sub)
    assert seconds < 5
    assert intake.notebooks == {}
    assert intake.refused == ["the submission has folders nested more than 16 deep: upload only your notebooks"]
    assert read(sub, max_depth=2).notebooks.keys() == {"01_modules.ipynb"}  # the chain is gone: fine again


def test_100000_files_are_refused_quickly(tmp_path):
    sub = tmp_path / "sub"
    put(sub / "01_modules.ipynb")
    fd = os.open(sub, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for i in range(100_000):
            os.close(os.open(f"f{i}", os.O_WRONLY | os.O_CREAT, dir_fd=fd))
    finally:
        os.close(fd)
    try:
        start = time.perf_counter()
        intake = read(sub)
        seconds = time.perf_counter() - start
    finally:
        for i in range(100_000):  # pytest keeps the last temporary folders: do not leave 100,000 files there
            os.unlink(sub / f"f{i}")
    assert seconds < 5
    assert intake.notebooks == {}
    assert intake.refused == [f"the submission holds more than {MAX_ENTRIES} files and folders: "
                              "upload only your notebooks"]


def test_entries_are_counted_across_folders(tmp_path):
    sub = tmp_path / "sub"
    for i in range(30):
        put(sub / f"folder{i}" / f"n{i}.ipynb")
    assert len(read(sub, max_entries=60).notebooks) == 30  # 30 folders + 30 files
    assert read(sub, max_entries=59).notebooks == {}


def test_an_unreadable_folder_costs_that_folder_only(tmp_path, monkeypatch):
    """Root reads every folder, so the failure is simulated: listing the folder "locked" fails."""
    sub = tmp_path / "sub"
    put(sub / "01_modules.ipynb")
    put(sub / "locked" / "02_gradcheck.ipynb")
    scandir = os.scandir

    def failing(fd):
        if os.readlink(f"/proc/self/fd/{fd}").endswith("/locked"):
            raise PermissionError(13, "Permission denied")
        return scandir(fd)

    monkeypatch.setattr(os, "scandir", failing)
    intake = read_submission(sub)
    assert list(intake.notebooks) == ["01_modules.ipynb"]
    assert intake.refused == ["locked could not be read (Permission denied)"]

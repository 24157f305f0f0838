"""dlcore as students install it: a wheel, in a fresh venv outside the checkout (marker `packaging`).

The source tree (tracked and new files, as `git ls-files` sees them: no .venv, build/ or data) is
copied to a temporary folder, `pip wheel --no-deps` builds the wheel there (a build in the
checkout would reuse a stale build/lib), the wheel must hold every module of dlcore and nothing
else, and it is installed with its dependencies into a new venv. From a neutral folder, that venv
imports every module of the installed dlcore (found by pkgutil.walk_packages, so a new module or
subpackage is covered without editing this file), loads a notebook (nbformat and IPython, which
dlcore imports lazily) and runs the command line. About 35 s with pip's cache warm, most of it
pip installing numpy, matplotlib and IPython; it needs the package index (or its cache).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
from helpers import REPO

PIP = ["-m", "pip", "--disable-pip-version-check", "--no-input"]

pytestmark = pytest.mark.packaging

# Runs inside the installed venv. __main__ is left out of the imports (importing it runs the CLI
# and exits); `python -m dlcore --help` below covers it.
PROBE = textwrap.dedent("""
    import importlib, json, pkgutil, sys
    import dlcore

    def fail(name):
        raise ImportError(f"cannot import {name}")

    names = sorted(m.name for m in pkgutil.walk_packages(dlcore.__path__, "dlcore.", onerror=fail))
    modules = [importlib.import_module(n) for n in ["dlcore", *names] if not n.endswith(".__main__")]
    impl = dlcore.load_implementation(sys.argv[1])
    from dlcore.data import default_data_dir
    print(json.dumps({"names": names, "files": [m.__file__ for m in modules], "impl": sorted(vars(impl)),
                      "data_dir": str(default_data_dir("mnist"))}))
""")


def _run(cmd: list, cwd: Path, env: dict, timeout: int = 300) -> subprocess.CompletedProcess:
    result = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout, check=False)
    assert result.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{result.stdout}\n{result.stderr}"
    return result


def _source_tree(dest: Path) -> Path:
    """A copy of the checkout's source files: tracked ones and new ones not ignored."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                                capture_output=True, check=True, timeout=60).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"needs a git checkout to list the source files: {exc}")
    for name in filter(None, listed.decode().split("\0")):
        if (REPO / name).is_file():  # a file deleted but not yet committed is still listed
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, dest / name)
    return dest


def test_the_wheel_installs_and_imports_outside_the_checkout(tmp_path):
    src, dist, venv, neutral = (tmp_path / d for d in ("src", "dist", "venv", "neutral"))
    neutral.mkdir()
    assert not tmp_path.resolve().is_relative_to(REPO), "the venv must live outside the checkout"
    drop = ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "DLCORE_DATA_DIR")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env |= {"PYTHONNOUSERSITE": "1", "XDG_DATA_HOME": str(tmp_path / "xdg")}
    try:
        _source_tree(src)
        _run([sys.executable, *PIP, "wheel", "--quiet", "--no-deps", "--wheel-dir", dist, src], neutral, env)
        (wheel,) = dist.glob("dlcore-*.whl")

        # Exactly the package's modules: every .py file under dlcore/ in the source, nothing outside dlcore.
        with zipfile.ZipFile(wheel) as zf:
            names = zf.namelist()
        expected = {p.relative_to(src).as_posix() for p in (src / "dlcore").rglob("*.py")}
        assert {n for n in names if not n.startswith("dlcore-")} == expected
        assert {n.split("/")[0] for n in names} == {"dlcore", wheel.name.split("-py3")[0] + ".dist-info"}

        _run([sys.executable, "-m", "venv", venv], neutral, env)
        python = venv / "bin" / "python"
        # --no-compile: byte-compiling all of matplotlib and IPython would double the install time.
        _run([python, *PIP, "install", "--quiet", "--no-compile", wheel], neutral, env)

        nb = neutral / "mine.ipynb"
        nb.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
            {"cell_type": "code", "id": "c1", "metadata": {}, "outputs": [], "execution_count": None,
             "source": "%matplotlib inline\nclass Linear:\n    pass\n"}]}))
        probe = json.loads(_run([python, "-c", PROBE, nb], neutral, env).stdout)
        site = (venv / "lib").resolve()
        assert "dlcore.data.fetch" in probe["names"] and "dlcore.cli" in probe["names"]
        for file in probe["files"]:  # the installed dlcore, not the checkout's
            assert Path(file).resolve().is_relative_to(site), file
        assert "Linear" in probe["impl"]
        assert probe["data_dir"] == str(tmp_path / "xdg" / "dlcore" / "mnist")

        for args, says in [([], "usage: python -m dlcore"), (["train"], "--impl IMPL"),
                           (["data", "fetch"], "--dest DEST")]:
            assert says in _run([python, "-m", "dlcore", *args, "--help"], neutral, env).stdout
        # No notebooks in the current folder and no solutions/ to fall back on: one line, exit 1.
        (neutral / "mine.ipynb").unlink()
        result = subprocess.run([python, "-m", "dlcore", "train", "--model", "linear"], cwd=neutral, env=env,
                                capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 1 and result.stderr.startswith("error: no notebooks (*.ipynb) in the current")
    finally:
        shutil.rmtree(venv, ignore_errors=True)  # about 270 MB; pytest keeps the last three tmp_paths

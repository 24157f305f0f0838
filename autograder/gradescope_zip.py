"""Build the Gradescope autograder zip: setup.sh, run_autograder and the project's source.

Gradescope unpacks the zip into ``/autograder/source``, runs ``setup.sh`` once when building the
image, and ``run_autograder`` for every submission (notebooks in ``/autograder/submission``,
results expected in ``/autograder/results/results.json``). ``$AUTOGRADER_ROOT`` replaces
``/autograder`` (the tests run it against a fake layout) and ``$AUTOGRADER_ARGS`` adds options.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
INCLUDE = ("autograder", "dlcore", "solutions", "pyproject.toml", "requirements.txt", "README.md")

SETUP_SH = """#!/usr/bin/env bash
# Runs once, as root, when Gradescope builds the autograder image.
set -euo pipefail
cd /autograder/source
apt-get update -qq && apt-get install -y -qq python3 python3-pip python3-venv util-linux > /dev/null
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install --quiet -r requirements.txt
/autograder/venv/bin/pip install --quiet --no-deps -e .
/autograder/venv/bin/python -m dlcore data fetch   # MNIST into source/data/mnist, checksums verified
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Runs for every submission. The grader writes results.json itself, atomically, even when the
# student's code crashes; a non-zero exit means the grader could not run.
set -uo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PYTHON="${PYTHON:-$ROOT/venv/bin/python}"
cd "$ROOT/source"
exec "$PYTHON" -m autograder grade "$ROOT/submission" --results "$ROOT/results/results.json" \\
    --format gradescope ${AUTOGRADER_ARGS:-}
"""


def _add(z: zipfile.ZipFile, path: Path) -> None:
    for f in sorted([path] if path.is_file() else path.rglob("*")):
        if f.is_file() and "__pycache__" not in f.parts and not f.name.endswith(".pyc"):
            z.write(f, f.relative_to(REPO).as_posix())


def build_zip(out: Path) -> Path:
    """Write the zip to ``out``; returns its path."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in (("setup.sh", SETUP_SH), ("run_autograder", RUN_AUTOGRADER)):
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o755 << 16  # executable once unpacked
            z.writestr(info, text)
        for name in INCLUDE:
            if (REPO / name).exists():
                _add(z, REPO / name)
    return out

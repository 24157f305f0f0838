"""The student release: what nbgrader's generate_assignment makes of ``solutions/*.ipynb``.

The release is generated in a temporary course folder without a gradebook (``--no-db``), then each
notebook is re-serialised with nbformat (sorted keys, one trailing newline) so that the files in
``notebooks/`` are byte-for-byte reproducible. nbgrader's checksums are md5 digests of a cell's
source and metadata, hence deterministic too.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import nbformat

from .layout import NOTEBOOKS, SOLUTIONS, Course
from .nbgrader_run import generate_assignment

# nbgrader cell metadata that is derived, not authored: left out when comparing releases.
VOLATILE = frozenset({"checksum"})


def normalized_text(path: Path) -> str:
    """The notebook at ``path`` as nbformat writes it, with one trailing newline."""
    return nbformat.writes(nbformat.read(path, as_version=4)) + "\n"


def build_release(out: Path = NOTEBOOKS, solutions: Path = SOLUTIONS, quiet: bool = True) -> list[Path]:
    """Regenerate the release into ``out`` (its old ``*.ipynb`` are replaced); the written paths."""
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="dlcore-release-") as tmp:
        released = generate_assignment(Course(root=Path(tmp), solutions=solutions), database=False, quiet=quiet)
        texts = {path.name: normalized_text(path) for path in released}
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.ipynb"):
        if old.name not in texts:
            old.unlink()
    written = []
    for name, text in texts.items():
        (out / name).write_text(text)
        written.append(out / name)
    return written


def cell_summary(path: Path) -> list[dict]:
    """Per cell: id, type, source and metadata without the volatile nbgrader fields."""
    cells = []
    for cell in nbformat.read(path, as_version=4).cells:
        metadata = dict(cell.metadata)
        if "nbgrader" in metadata:
            metadata["nbgrader"] = {k: v for k, v in metadata["nbgrader"].items() if k not in VOLATILE}
        cells.append({"id": cell.get("id"), "type": cell.cell_type, "source": cell.source, "metadata": metadata})
    return cells


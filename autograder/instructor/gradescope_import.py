"""Gradescope's "Export Submissions" -> the layout ``collect`` takes: ``OUT/<student>/*.ipynb`` plus
``OUT/<student>/timestamp.txt`` (the upload's time, for the late policy).

The export (a zip, or the folder it unpacks to) holds ``submission_metadata.yml`` and one folder per
submission, usually under one top folder (``assignment_<id>_export/``)::

    assignment_123_export/submission_metadata.yml
    assignment_123_export/submission_456/01_modules.ipynb
    ...

The metadata maps each folder name to its submission, with Ruby-style keys::

    submission_456:
      :submitters:
      - :name: Ada Lovelace
        :sid: '1815'
        :email: ada@example.org
      :created_at: 2025-03-14 22:10:03.123456000 +01:00
      :score: 100.0
      :history: [...]            # earlier submissions, not exported

Every submitter of a submission (a group) gets a copy. The student id is the submitter's ``:sid:``
(``--id sid``, default) or the e-mail address (``--id email``); a submitter without one is skipped
with a warning. A student in two submissions keeps the newer one.

Safety: a zip is never extracted as such. Its members are read one by one: only regular files (no
links, whatever the zip's mode bits say), names without ``..``, absolute paths or backslashes, at most
``MAX_MEMBERS`` members, each notebook at most intake's limit (its declared size and the bytes
actually read), are written into a private temporary folder; everything else is skipped with a
reason. Each submission folder is then read with :func:`autograder.intake.read_submission`
(regular files only, links never followed, sizes and the walk bounded), whose refusals are printed
as warnings. A folder given instead of a zip is read the same way.
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath

from autograder.intake import MAX_NOTEBOOK_BYTES, read_submission

from . import timestamps
from .submissions import STUDENT_ID
from .term import parse_time

METADATA = "submission_metadata.yml"
MAX_METADATA_BYTES = 20 * 2**20
MAX_MEMBERS = 50_000
MAX_TOTAL_BYTES = 2 * 2**30


class ExportRefused(ValueError):
    """The export cannot be converted at all (no metadata, not a zip, unsafe metadata)."""


@dataclass
class Converted:
    """What the conversion wrote, and what it refused."""

    students: dict[str, datetime | None] = field(default_factory=dict)  # student -> upload time
    warnings: list[str] = field(default_factory=list)


def _safe_name(name: str) -> PurePosixPath | None:
    """The member's path if it is a plain relative path inside the archive, else None."""
    if "\\" in name or name.startswith("/") or "\x00" in name:
        return None
    path = PurePosixPath(name)
    if not path.parts or any(part in ("..", "") for part in path.parts):
        return None
    return path


def extract_zip(archive: Path, dest: Path, warn: Callable[[str], None]) -> None:
    """The export's metadata and notebooks from the zip ``archive`` into ``dest`` (see the module's
    docstring for what is skipped)."""
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ExportRefused(f"{archive}: not a zip file ({exc})") from None
    with zf:
        members = zf.infolist()
        if len(members) > MAX_MEMBERS:
            raise ExportRefused(f"{archive}: more than {MAX_MEMBERS} members")
        total = 0
        for info in members:
            if info.is_dir():
                continue
            name = info.filename
            path = _safe_name(name)
            if path is None:
                warn(f"skipped {name!r}: not a plain relative path")
                continue
            if path.parts[0] == "__MACOSX" or any(p.startswith(".") for p in path.parts):
                continue
            kind = stat.S_IFMT(info.external_attr >> 16)
            if kind and kind != stat.S_IFREG:
                warn(f"skipped {name}: not a regular file (a link or a special file in the zip)")
                continue
            limit = MAX_METADATA_BYTES if path.name == METADATA else MAX_NOTEBOOK_BYTES
            if path.name != METADATA and not path.name.endswith(".ipynb"):
                continue
            if info.file_size > limit:
                warn(f"skipped {name}: {info.file_size} bytes, over the limit of {limit}")
                continue
            total += info.file_size
            if total > MAX_TOTAL_BYTES:
                raise ExportRefused(f"{archive}: over {MAX_TOTAL_BYTES} bytes of notebooks")
            target = dest.joinpath(*path.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                warn(f"skipped {name}: a second member of that name")
                continue
            with zf.open(info) as src, open(target, "xb") as out:
                size = 0
                while chunk := src.read(1 << 20):
                    size += len(chunk)
                    if size > limit:  # the declared size lied
                        break
                    out.write(chunk)
            if size > limit:
                target.unlink()
                warn(f"skipped {name}: over the limit of {limit} bytes")


def _find_metadata(root: Path) -> Path:
    """``submission_metadata.yml`` at the top of the export or in its one top folder."""
    candidates = [root / METADATA] + [p / METADATA for p in sorted(root.iterdir())
                                      if p.is_dir() and not p.is_symlink() and p.name != "__MACOSX"]
    found = [p for p in candidates if p.exists()]
    if not found:
        raise ExportRefused(f"{root}: no {METADATA} (is this Gradescope's 'Export Submissions'?)")
    if len(found) > 1:
        raise ExportRefused(f"{root}: several {METADATA} files: {', '.join(str(p) for p in found)}")
    path = found[0]
    st = os.lstat(path)
    if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_METADATA_BYTES:
        raise ExportRefused(f"{path}: not a regular file, or larger than {MAX_METADATA_BYTES} bytes")
    return path


def _created_at(value: object) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return parse_time(value) if value.tzinfo else parse_time(value.isoformat() + "+00:00")
    text = str(value).strip()
    parts = text.rsplit(" ", 1)  # Ruby's "2025-03-14 22:10:03.123456000 +01:00"
    if len(parts) == 2 and parts[1][:1] in "+-" and ":" in parts[1]:
        date, zone = parts
        head, _, fraction = date.partition(".")
        text = f"{head}.{fraction[:6]}{zone}" if fraction else f"{head}{zone}"
    return parse_time(text, ":created_at:")


def _student_id(submitter: dict, field_name: str) -> str | None:
    value = submitter.get(f":{field_name}") or submitter.get(field_name)
    return str(value).strip() if value not in (None, "") else None


def convert(export: Path, out: Path, id_field: str = "sid",
            warn: Callable[[str], None] = lambda line: print(f"warning: {line}", file=sys.stderr)) -> Converted:
    """Convert the Gradescope export at ``export`` (zip or folder) into ``out`` (which must not exist or be
    empty); see the module's docstring.

    Raises:
        ExportRefused: no metadata, not a zip, unreadable metadata, ``out`` not empty.
    """
    import yaml

    export, out = Path(export), Path(out)
    if id_field not in ("sid", "email"):
        raise ValueError(f"--id must be sid or email, not {id_field!r}")
    if out.exists() and (out.is_symlink() or not out.is_dir() or any(out.iterdir())):
        raise ExportRefused(f"{out}: exists and is not an empty folder")
    result = Converted()

    def note(line: str) -> None:
        result.warnings.append(line)
        warn(line)

    with tempfile.TemporaryDirectory(prefix="gradescope-") as tmp:
        if export.is_file() and not export.is_symlink():
            extract_zip(export, Path(tmp), note)
            root = Path(tmp)
        elif export.is_dir() and not export.is_symlink():
            root = export
        else:
            raise ExportRefused(f"{export}: neither a zip file nor a folder")
        meta_path = _find_metadata(root)
        try:
            metadata = yaml.safe_load(meta_path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ExportRefused(f"{meta_path}: not readable YAML ({exc})") from None
        if not isinstance(metadata, dict):
            raise ExportRefused(f"{meta_path}: expected a mapping of submission folders")
        chosen: dict[str, tuple[datetime | None, dict[str, bytes]]] = {}
        for folder_name, info in metadata.items():
            folder_name = str(folder_name)
            folder = meta_path.parent / folder_name
            plain = _safe_name(folder_name)
            if not isinstance(info, dict) or plain is None or len(plain.parts) != 1:
                note(f"{folder_name}: not a submission entry")
                continue
            submitters = info.get(":submitters") or []
            try:
                when = _created_at(info.get(":created_at"))
            except ValueError as exc:
                note(f"{folder_name}: {exc}; converted without an upload time")
                when = None
            if not folder.is_dir() or folder.is_symlink():
                note(f"{folder_name}: listed in the metadata but not in the export")
                continue
            intake = read_submission(folder)
            for reason in intake.refused:
                note(f"{folder_name}: {reason}")
            if not intake.notebooks:
                continue
            for submitter in submitters if isinstance(submitters, list) else []:
                student = _student_id(submitter, id_field) if isinstance(submitter, dict) else None
                if student is None or not STUDENT_ID.match(student):
                    name = submitter.get(":name", "?") if isinstance(submitter, dict) else "?"
                    note(f"{folder_name}: submitter {name!r} has no usable {id_field} ({student!r}): skipped")
                    continue
                if student in chosen:
                    older = chosen[student][0]
                    note(f"{student} is in several submissions: keeping the newest")
                    if older is not None and (when is None or when <= older):
                        continue
                chosen[student] = (when, intake.notebooks)
        for student, (when, notebooks) in sorted(chosen.items()):
            folder = out / student
            folder.mkdir(parents=True)
            for name, data in notebooks.items():
                (folder / name).write_bytes(data)
            if when is not None:
                timestamps.write_file(folder, when)
            result.students[student] = when
    return result

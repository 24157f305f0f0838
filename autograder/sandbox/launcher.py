"""Grader side of the sandbox: build a throwaway box, start the runner confined, read its arrays.

When we are root and ``unshare`` and ``setpriv`` exist, the runner is PID 1 of new PID, mount and
network namespaces (no network; killing it kills every process the student started), runs under
an unprivileged uid unique to this grading process (so that one student's fork bomb cannot use up
another's process limit), and sees a filesystem of its own (chroot into a tmpfs): the system's
``/usr``, ``/etc`` and ``/dev``, the Python installation and virtual environment, and the box —
nothing else, so no copy of the solutions anywhere on the machine is readable, wherever it lies.
Otherwise it falls back to rlimits and a scrubbed environment, and the results say so.
"""

from __future__ import annotations

import io
import json
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import dlcore

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
MAX_OUTPUT_BYTES = 64 * 2**20  # also the file-size rlimit: the largest output is MLP params (<1 MB)
NPROC = 16


@dataclass
class ProbeOutcome:
    """What one probe gave: arrays, or a message saying in words what went wrong."""

    arrays: dict[str, np.ndarray] | None = None
    problem: str | None = None


@dataclass
class SandboxRun:
    outcomes: dict[str, ProbeOutcome]
    load_error: str | None
    protections: list[str] = field(default_factory=list)


@dataclass
class Limits:
    memory_mb: int = 4096
    cpu_seconds: int = 600
    load_timeout: float = 40.0  # seconds to load the notebooks (normally ~2 s)


def _isolation_available() -> bool:
    return os.geteuid() == 0 and all(shutil.which(t) for t in ("unshare", "setpriv", "mount", "chroot"))


def _sandbox_uid() -> int:
    return 200_000 + os.getpid() % 100_000


def _rlimits(limits: Limits, nproc: bool) -> None:
    """Runs in the child between fork and exec: inherited by the runner and all it starts.

    ``nproc`` only with a dedicated uid: the limit counts all processes of the user.
    """
    mem = limits.memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds))
    resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_OUTPUT_BYTES, MAX_OUTPUT_BYTES))
    if nproc:  # applies once setpriv has switched to the sandbox's uid
        resource.setrlimit(resource.RLIMIT_NPROC, (NPROC, NPROC))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))


# What the student's process sees of the machine besides the box and Python: system files only.
SYSTEM_DIRS = ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc")


def _namespace_script(root: Path, box: Path, uid: int, argv: list[str]) -> str:
    """Shell run as root inside the new namespaces: build a minimal root, enter it, drop privileges.

    Deny by default: the new root is an empty tmpfs into which only the system directories, the
    Python installation (``sys.base_prefix``), the virtual environment (``sys.prefix``) and the box
    are bind-mounted (read-only except the box), so no file of the grader, nor any other copy of
    the solutions on this machine, exists for the student's code.
    """
    q = lambda p: "'" + str(p).replace("'", "'\\''") + "'"  # noqa: E731
    new_root = root / "root"
    lines = ["set -e", f"mkdir -p {q(new_root)}", f"mount -t tmpfs -o mode=755 tmpfs {q(new_root)}"]

    def bind(path: Path, target: Path, writable: bool = False) -> None:
        lines.append(f"mkdir -p {q(target)}")
        lines.append(f"mount --rbind {q(path)} {q(target)}")
        if not writable:
            lines.append(f"mount -o remount,bind,ro {q(target)}")

    for name in SYSTEM_DIRS:
        path = Path("/") / name
        if path.is_symlink():  # merged /usr: /bin -> usr/bin
            lines.append(f"ln -s {q(os.readlink(path))} {q(new_root / name)}")
        elif path.is_dir():
            bind(path, new_root / name)
    bind(Path("/dev"), new_root / "dev", writable=True)
    lines += [f"mkdir -p {q(new_root / 'proc')}", f"mount -t proc proc {q(new_root / 'proc')}"]
    for prefix in sorted({Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve()}):
        bind(prefix, new_root / prefix.relative_to("/"))
    # The box appears at the path of its private parent folder, as the runner expects.
    bind(box, new_root / root.relative_to("/"), writable=True)
    drop = ["/usr/bin/setpriv", f"--reuid={uid}", "--regid=65534", "--clear-groups", "--inh-caps=-all",
            "--bounding-set=-all", "--no-new-privs"]
    enter = [shutil.which("chroot"), new_root, "/usr/bin/env", "-C", root]  # cwd: the box, inside the new root
    lines.append("exec " + " ".join(q(a) for a in [*enter, *drop, *argv]))
    return "\n".join(lines)


def _env(box: Path) -> dict[str, str]:
    # One BLAS thread: deterministic sums and fair timing when submissions are graded in parallel.
    return {"PATH": "/usr/bin:/bin", "HOME": str(box), "TMPDIR": str(box / "tmp"), "LANG": "C.UTF-8",
            "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg"}


def _kill_tree(pid: int) -> None:
    """SIGKILL ``pid`` and its descendants (killing the namespace's PID 1 kills the namespace)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    for child in children:
        _kill_tree(int(child))
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _read_output(path: Path, limit: int = MAX_OUTPUT_BYTES) -> bytes | None:
    """The bytes of a file the sandbox wrote, or None when it is not a plain file of its own.

    The student's code controls ``out/``: a symlink or hard link to a root-only file would leak it
    into the feedback, and a FIFO or device would hang the grader.
    """
    try:
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1 or st.st_size > limit:
            return None
        if os.geteuid() == 0 and st.st_uid == 0:  # made by root, not by the sandbox's uid
            return None
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        return f.read(limit)


def _read_text(path: Path, limit: int) -> str | None:
    data = _read_output(path, limit)
    return None if data is None else data.decode(errors="replace")


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """Arrays only (no pickles), and never more than we are willing to decompress."""
    data = _read_output(path)
    if data is None:
        raise ValueError("not a plain file")
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        if sum(i.file_size for i in z.infolist()) > MAX_OUTPUT_BYTES:
            raise ValueError("output too large")
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def _chown_tree(path: Path, uid: int) -> None:
    for dirpath, _dirs, files in os.walk(path):
        os.chown(dirpath, uid, 65534)
        for f in files:
            os.chown(os.path.join(dirpath, f), uid, 65534)


def _rmtree(path: Path) -> None:
    def retry(func, p, _exc):
        os.chmod(os.path.dirname(p), 0o700)
        func(p)

    shutil.rmtree(path, onerror=retry)


def run_sandboxed(notebooks: list[Path], groups: list[dict], inputs: dict[str, np.ndarray],
                  limits: Limits, data_files: list[Path] = ()) -> SandboxRun:
    """Run the probes of ``groups`` (``{"name", "timeout", "probes"}``) on ``notebooks``, confined."""
    root = Path(tempfile.mkdtemp(prefix="dlcore-sandbox-"))
    try:
        return _run(root, notebooks, groups, inputs, limits, list(data_files))
    finally:
        _rmtree(root)


def _run(root: Path, notebooks: list[Path], groups: list[dict], inputs: dict[str, np.ndarray],
         limits: Limits, data_files: list[Path]) -> SandboxRun:
    box = root / "box"
    for sub in ("submission", "lib", "runner", "data", "out", "tmp"):
        (box / sub).mkdir(parents=True)
    for nb in notebooks:
        shutil.copy(nb, box / "submission" / nb.name)
    shutil.copytree(Path(dlcore.__file__).resolve().parent, box / "lib" / "dlcore",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("runner.py", "probes.py"):
        shutil.copy(HERE / name, box / "runner" / name)
    for f in data_files:
        shutil.copy(f, box / "data" / f.name)
    (box / "plan.json").write_text(json.dumps({"groups": groups}))
    np.savez(box / "inputs.npz", **inputs)

    python = [sys.executable, "-I", "runner/runner.py", "."]
    isolated = _isolation_available()
    if isolated:
        uid = _sandbox_uid()
        _chown_tree(box, uid)
        os.chmod(box, 0o700)
        script = _namespace_script(root, box, uid, python)
        cmd = ["unshare", "--pid", "--fork", "--mount-proc", "--net", "--mount", "--", "sh", "-c", script]
        protections = ["separate process per part", "wall-clock timeout per part",
                       f"rlimits: {limits.memory_mb} MB address space, {limits.cpu_seconds} s CPU, "
                       f"{NPROC} processes, {MAX_OUTPUT_BYTES // 2**20} MB files",
                       "unprivileged uid, unique per grading process", "no network (network namespace)",
                       "own PID namespace", "own filesystem (chroot: system, Python and the box only)",
                       "throwaway working folder"]
        cwd = root
    else:
        cmd = python
        protections = ["separate process per part", "wall-clock timeout per part",
                       f"rlimits: {limits.memory_mb} MB address space, {limits.cpu_seconds} s CPU, "
                       f"{MAX_OUTPUT_BYTES // 2**20} MB files (process limit not enforced)",
                       "scrubbed environment", "throwaway working folder",
                       "BEST EFFORT: not root, so no network isolation and grader files not hidden"]
        cwd = box
    proc = subprocess.Popen(cmd, cwd=cwd, env=_env(box), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, preexec_fn=lambda: _rlimits(limits, isolated),
                            start_new_session=True)
    _supervise(proc, box / "out" / "loaded", limits.load_timeout,
               limits.load_timeout + sum(g["timeout"] for g in groups) + 15)
    # Stray processes of the sandbox's uid outside a PID namespace (fallback mode).
    if not isolated:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    return _collect(box / "out", groups, protections)


def _supervise(proc: subprocess.Popen, loaded: Path, load_timeout: float, budget: float) -> None:
    """Wait for the runner; kill it if loading the notebooks or the whole run takes too long."""
    start = time.monotonic()
    while True:
        try:
            proc.wait(timeout=0.2)
            return
        except subprocess.TimeoutExpired:
            elapsed = time.monotonic() - start
            if elapsed > budget or (elapsed > load_timeout and not loaded.exists()):
                _kill_tree(proc.pid)
                proc.wait()
                return


def _collect(out: Path, groups: list[dict], protections: list[str]) -> SandboxRun:
    load_error = _read_text(out / "load_error.txt", 2000)
    if load_error is None and not (out / "loaded").exists():
        load_error = ("your notebooks did not finish loading: the process ended or hung while running your "
                      "imports and class and function definitions (sys.exit, os._exit or an endless loop in a "
                      "class body?)")
    outcomes = {}
    for group in groups:
        for name in group["probes"]:
            npz, status = out / f"{name}.npz", out / f"{name}.status"
            if load_error:
                outcomes[name] = ProbeOutcome(problem=f"not run, your notebooks did not load: {load_error}")
            elif os.path.lexists(npz):
                try:
                    outcomes[name] = ProbeOutcome(arrays=_read_npz(npz))
                except Exception:  # a damaged or forged file: the student's code wrote over it
                    outcomes[name] = ProbeOutcome(problem="the output of your code could not be read")
            elif (text := _read_text(status, 1000)) is not None:
                outcomes[name] = ProbeOutcome(problem=text)
            else:
                outcomes[name] = ProbeOutcome(
                    problem="not run: the grading process was stopped (the whole submission ran out of time)")
    return SandboxRun(outcomes=outcomes, load_error=load_error, protections=protections)

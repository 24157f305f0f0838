"""Bubblewrap (``bwrap``): the jail every run of student code goes through.

A jailed process sees a filesystem built from nothing: read-only binds of the system (``/usr``
and the merged-usr links), the Python installation and virtual environment, and whatever the
caller binds (the runner, the library, data); a fresh minimal ``/dev``; a private, size-capped
``/dev/shm``; a private ``/proc``; and one writable, size-capped tmpfs, ``/box``, which vanishes
with the jail (nothing to clean up on the host, however deep the student's folders). It has its
own PID, IPC, UTS, network (no interface but a down loopback) and, without root, user
namespaces; no capabilities; ``no_new_privs``; and dies with its parent.

Identity. As root, bwrap runs privileged and the jailed command starts through ``setpriv``, which
drops to an unprivileged uid unique to this grading process (so that one student's fork bomb
cannot use up another's process limit) with no groups and no capabilities. Without root, bwrap
makes an unprivileged user namespace (the kernel must allow it) and the command keeps the
caller's uid, mapped.

:func:`preflight` checks, before anything is graded, that a jail can start here, and says which
protection is missing and what to do when it cannot.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

MB = 2**20
SYSTEM = ("usr",)  # bound read-only; /bin, /lib, ... are links into /usr on merged-usr systems
SYSTEM_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
ETC_FILES = ("/etc/ld.so.cache", "/etc/localtime", "/etc/fonts")  # the dynamic loader, time zones, fontconfig


@dataclass(frozen=True)
class Limits:
    """Resource limits of one jail (inherited by every process in it)."""

    memory_mb: int = 4096  # address space per process (RLIMIT_AS)
    cpu_seconds: int = 3600  # per process: a backstop; the grader budgets CPU time itself
    processes: int = 32  # RLIMIT_NPROC, when the jail has a uid of its own
    file_mb: int = 64  # largest file a process may write (RLIMIT_FSIZE)
    open_files: int = 256
    box_mb: int = 256  # the writable /box
    shm_mb: int = 16  # /dev/shm, and /tmp (programs should use $TMPDIR, in /box)


@dataclass(frozen=True)
class Jail:
    """How one jailed command is set up: what it sees, as whom, with which limits."""

    binds: Sequence[tuple[Path, str]] = ()  # (host path, path inside), read-only
    writable: Sequence[tuple[Path, str]] = ()  # (host path, path inside), read-write (the grader's own files)
    limits: Limits = field(default_factory=Limits)
    env: dict[str, str] = field(default_factory=dict)
    cwd: str = "/box"
    uid: int | None = None  # as root: the unprivileged uid to run as (default: unique per process)


def privileged() -> bool:
    return os.geteuid() == 0


def unique_uid() -> int:
    """An otherwise unused uid for this grading process (root only)."""
    return 200_000 + os.getpid() % 100_000


def _ancestors(inside: str) -> list[str]:
    parts = Path(inside).parts[1:-1]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def python_binds() -> list[tuple[Path, str]]:
    """The Python installation and the virtual environment, at their own paths."""
    paths = {Path(sys.base_prefix).resolve(), Path(sys.prefix).absolute(), Path(sys.prefix).resolve()}
    return [(p, str(p)) for p in sorted(paths) if p.is_dir() and not str(p).startswith("/usr")]


def command(jail: Jail, argv: Sequence[str]) -> list[str]:
    """The ``bwrap`` command line that runs ``argv`` in ``jail``."""
    lim = jail.limits
    cmd = ["bwrap", "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-net", "--unshare-ipc",
           "--unshare-uts", "--unshare-cgroup-try", "--hostname", "box"]
    if privileged():
        # setpriv needs these two to drop to the jail's uid; it then clears every capability.
        cmd += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        cmd += ["--unshare-user", "--cap-drop", "ALL"]
    for name in SYSTEM:
        cmd += ["--ro-bind", f"/{name}", f"/{name}"]
    for name in SYSTEM_LINKS:
        path = Path("/") / name
        if path.is_symlink():
            cmd += ["--symlink", os.readlink(path), f"/{name}"]
        elif path.is_dir():
            cmd += ["--ro-bind", str(path), f"/{name}"]
    for etc in ETC_FILES:
        if Path(etc).exists():
            cmd += ["--ro-bind", etc, etc]
    made: set[str] = {"/usr", "/dev", "/proc", "/etc"}
    cmd += ["--dev", "/dev", "--proc", "/proc",
            "--perms", "1777", "--size", str(lim.shm_mb * MB), "--tmpfs", "/dev/shm",
            "--perms", "1777", "--size", str(lim.box_mb * MB), "--tmpfs", "/box",
            "--perms", "1777", "--dir", "/box/tmp",
            "--perms", "1777", "--size", str(lim.shm_mb * MB), "--tmpfs", "/tmp"]
    made |= {"/box", "/tmp"}
    for host, inside, flag in [*((h, i, "--ro-bind") for h, i in [*python_binds(), *jail.binds]),
                               *((h, i, "--bind") for h, i in jail.writable)]:
        for parent in _ancestors(inside):  # bwrap would create them 0700: the jail's uid must get through
            if parent not in made:
                cmd += ["--perms", "0755", "--dir", parent]
                made.add(parent)
        cmd += [flag, str(host), inside]
        made.add(inside)
    cmd += [
            "--remount-ro", "/",  # what bwrap built the root from stays as it is: only /box and /dev/shm take writes
            "--chdir", jail.cwd, "--clearenv"]
    for key, value in sorted(jail.env.items()):
        cmd += ["--setenv", key, value]
    cmd.append("--")
    if privileged():
        uid = jail.uid if jail.uid is not None else unique_uid()
        cmd += [shutil.which("setpriv") or "/usr/bin/setpriv", f"--reuid={uid}", "--regid=65534", "--clear-groups",
                "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
    return cmd + list(argv)


def set_limits(limits: Limits) -> None:
    """Apply ``limits`` to this process (call between fork and exec: the jail inherits them)."""
    mem = limits.memory_mb * MB
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 5))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_mb * MB, limits.file_mb * MB))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
    if privileged():  # the jail's uid is its own: the limit counts its processes only
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))


def protections(limits: Limits) -> list[str]:
    """What a jail applies, in words, for the results and the instructor's log."""
    who = ("an unprivileged uid unique to this grading process, no capabilities" if privileged()
           else "the grader's uid in a user namespace, no capabilities")
    items = [f"bubblewrap jail as {who}, no_new_privs",
             "own PID, IPC, UTS and network namespaces (no network)",
             "own filesystem: read-only system, Python and grader-chosen files; a fresh /dev; "
             f"a private {limits.shm_mb} MB /dev/shm and /tmp; a private {limits.box_mb} MB /box; all vanish with "
             "the jail",
             f"rlimits: {limits.memory_mb} MB address space, {limits.file_mb} MB per file, "
             f"{limits.open_files} open files" + (f", {limits.processes} processes" if privileged() else "")]
    return items


@dataclass(frozen=True)
class Preflight:
    ok: bool
    problem: str = ""  # what is missing and what to do, when not ok


def preflight(timeout: float = 60.0) -> Preflight:
    """Start one jail running ``true`` (and Python): can this machine sandbox student code?"""
    if shutil.which("bwrap") is None:
        return Preflight(False, "bubblewrap is not installed: install it (Debian/Ubuntu: `apt-get install "
                                "bubblewrap`; it is the sandbox every run of student code goes through)")
    if privileged() and shutil.which("setpriv") is None:
        return Preflight(False, "setpriv (util-linux) is missing: install util-linux")
    jail = Jail(env={"PATH": "/usr/bin:/bin"})
    argv = [sys.executable, "-I", "-c", "import os; os.listdir('/box')"]
    try:
        proc = subprocess.run(command(jail, argv), capture_output=True, text=True, timeout=timeout,
                              preexec_fn=lambda: set_limits(jail.limits), check=False)
    except subprocess.TimeoutExpired:
        return Preflight(False, f"a test jail did not finish within {timeout:g} s: the machine is overloaded")
    if proc.returncode == 0:
        return Preflight(True)
    detail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
    hint = ("bwrap could not create its namespaces. As root this needs CAP_SYS_ADMIN (in Docker: run the "
            "grading container with --cap-add SYS_ADMIN and a seccomp profile that allows unshare/mount, or "
            "--privileged); without root the kernel must allow unprivileged user namespaces "
            "(sysctl kernel.unprivileged_userns_clone=1 / user.max_user_namespaces > 0)")
    return Preflight(False, f"the sandbox cannot start here ({detail[0]}). {hint}")

"""Grader side of the sandbox: one jailed runner per submission, spoken to through two pipes.

:class:`Box` starts the runner (``runner.py``) in a bubblewrap jail (:mod:`bwrap`) with the jail's
copy of dlcore (:mod:`library`), sends it the notebooks, and then asks for probes one at a time.
Every wait is bounded twice, by the grader and never by the jail:

* **CPU time**, the budget that decides: the jail's whole process tree is measured from
  ``/proc`` (:mod:`usage`); when a call's budget runs out the jail is killed and the call is a
  timeout, reported with the CPU seconds used and allowed.
* **Wall-clock time**, a far looser safety net. When it trips before the CPU budget, either the
  jail's processes were waiting for a CPU (their run delay says so: the machine was overloaded,
  and the call is *not graded*, to be retried), or they were not running at all (the student's
  code sleeps or waits on something that never comes: that is the code's doing).

A killed or broken jail is replaced by a fresh one (the notebooks load again) for the next call.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from autograder.sandbox import bwrap, wire
from autograder.sandbox.library import installed_copies
from autograder.sandbox.readable import readable_by_jail
from autograder.sandbox.usage import tree_usage

HERE = Path(__file__).resolve().parent
IN_JAIL = "/box/grader"  # the runner and what it imports
LIBRARY = "/box/lib"  # the jail's dlcore
DATA = "/box/data"
PACKAGE_FILES = ("__init__.py", "probes.py", "cases.py", "wire.py", "session.py")  # imported as ``sandbox``
POLL = 0.05  # seconds between looks at the jail's CPU time while waiting
OVERLOAD_SHARE = 0.25  # run delay / wall time above which a wall-clock trip is blamed on the machine


@dataclass(frozen=True)
class Budget:
    """What one call may use: CPU seconds (decides), and wall seconds (safety net only)."""

    cpu: float
    wall: float

    @staticmethod
    def for_cpu(cpu: float, factor: float = 6.0, floor: float = 60.0) -> Budget:
        return Budget(cpu, max(floor, factor * cpu))


@dataclass
class Outcome:
    """How a call ended. ``kind``: ``reply`` (``value`` holds it), ``error`` (the student's code raised:
    ``message``), ``timeout`` (CPU budget), ``idle`` (wall clock, the jail not computing), ``overloaded``
    (wall clock, the machine busy: not graded), ``crashed`` (the process ended without a reply) or
    ``broken`` (the jail sent what is not a valid message, or died)."""

    kind: str
    value: object = None
    message: str = ""
    stage: str = ""
    cpu: float = 0.0  # CPU seconds the jail used during the call
    wall: float = 0.0

    @property
    def ok(self) -> bool:
        return self.kind == "reply"


@dataclass
class Box:
    """A jailed runner holding one submission's notebooks, loaded once."""

    notebooks: dict[str, bytes]
    owners: dict[str, str]
    library: Path  # host folder holding the jail's dlcore
    data: list[Path] = field(default_factory=list)  # read-only files under /box/data
    limits: bwrap.Limits = field(default_factory=bwrap.Limits)
    mpl_cache: Path | None = None
    shared_fds: tuple[int, ...] = ()  # memfds of the MNIST session, passed into the jail
    proc: subprocess.Popen | None = None
    load_errors: list[str] = field(default_factory=list)
    cpu_total: float = 0.0  # CPU seconds of every jail this box started

    # --- life cycle ----------------------------------------------------------------------------

    def start(self, budget: Budget) -> Outcome:
        """Start a jail and load the notebooks in it; an ``Outcome`` of kind ``reply`` when loaded."""
        self.close()
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        # the grader's own files too: a checkout made with umask 077 would hide them from the jail's uid
        ours = readable_by_jail([HERE / "runner.py", *(HERE / name for name in PACKAGE_FILES)])
        binds = [(ours[0], f"{IN_JAIL}/runner.py")]
        binds += [(path, f"{IN_JAIL}/sandbox/{name}") for path, name in zip(ours[1:], PACKAGE_FILES, strict=True)]
        binds.append((self.library / "dlcore", f"{LIBRARY}/dlcore"))
        binds += [(self.library / "dlcore", str(copy)) for copy in installed_copies()]  # hidden behind ours
        binds += [(path, f"{DATA}/{path.name}") for path in readable_by_jail(self.data)]
        env = {"PATH": "/usr/bin:/bin", "HOME": "/box/home", "TMPDIR": "/box/tmp", "LANG": "C.UTF-8",
               "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg", "OPENBLAS_NUM_THREADS": "1",
               "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "DLCORE_QUICK": "1"}
        if self.mpl_cache is not None:
            binds.append((self.mpl_cache, "/box/mplconfig"))
            env["MPLCONFIGDIR"] = "/box/mplconfig"
        jail = bwrap.Jail(binds=binds, limits=self.limits, env=env, cwd="/box")
        argv = [sys.executable, "-I", "-X", "frozen_modules=on", f"{IN_JAIL}/runner.py", str(req_r), str(rep_w)]
        self.proc = subprocess.Popen(bwrap.command(jail, argv), pass_fds=(req_r, rep_w, *self.shared_fds),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     preexec_fn=lambda: bwrap.set_limits(self.limits))
        os.close(req_r)
        os.close(rep_w)
        self._requests, self._replies = req_w, rep_r
        self.reader = wire.Reader(rep_r, max_bytes=8 << 20)
        self._base = 0.0
        notebooks = {name: _bytes_array(data) for name, data in self.notebooks.items()}
        self._send({"setup": {"notebooks": notebooks, "owners": self.owners, "library": LIBRARY}})
        outcome = self._wait(budget, terminal=("loaded",))
        if outcome.ok:
            loaded = outcome.value if isinstance(outcome.value, dict) else {}
            self.load_errors = [str(e)[:600] for e in loaded.get("errors", [])][:50]
        else:
            self.close()
        return outcome

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def close(self) -> None:
        if self.proc is None:
            return
        self.cpu_total += self._used()
        _kill(self.proc)
        for fd in (self._requests, self._replies):
            try:
                os.close(fd)
            except OSError:
                pass
        self.proc = None

    def __enter__(self) -> Box:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- calls --------------------------------------------------------------------------------

    def call(self, probe: str, args: dict, budget: Budget) -> Outcome:
        """Run ``probe`` with ``args`` in the jail (which must be started)."""
        if not self.alive:
            return Outcome("broken", message="the grading process of your notebooks was not running")
        try:
            self._send({"call": {"probe": probe, "args": args}})
        except OSError:
            self.close()
            return Outcome("broken", message="the grading process of your notebooks had stopped")
        outcome = self._wait(budget, terminal=("reply", "error"))
        if outcome.kind in ("reply", "error"):  # the runner then says how the probe's process ended
            trailer = self._wait(Budget(5.0, 30.0), terminal=("exit",))
            if not trailer.ok:
                self.close()
        return outcome

    # --- the MNIST session (see session.py) -----------------------------------------------------

    def open_session(self, args: dict, budget: Budget) -> Outcome:
        """Start the training session in the jail; ``reply`` once its model is built."""
        if not self.alive:
            return Outcome("broken", message="the grading process of your notebooks was not running")
        self._send({"call": {"probe": "session", "args": args}})
        self._session_start = tree_usage(self.proc.pid)
        self._session_wait = 0.0
        self._last_check = time.monotonic()
        outcome = self._wait(budget, terminal=("ready", "error"))
        if outcome.kind == "error":
            self._wait(Budget(5.0, 30.0), terminal=("exit",))
        return outcome

    def send_raw(self, data: bytes) -> bool:
        try:
            os.write(self._requests, data)
            return True
        except OSError:
            return False

    def receive_raw(self, least: int, budget: Budget, most: int = 1 << 16) -> Outcome:
        """At least ``least`` bytes of the session's binary records (``reply`` holds them), within the
        session's budget: its CPU seconds since it opened, and the wall seconds spent waiting here."""
        assert self.proc is not None
        data, start = bytes(self.reader.buffer[:most]), time.monotonic()  # what the frame reader read ahead
        del self.reader.buffer[:len(data)]
        while len(data) < least:
            ready, _, _ = select.select([self._replies], [], [], POLL)
            if ready:
                chunk = os.read(self._replies, most - len(data))
                if not chunk:
                    self._session_wait += time.monotonic() - start
                    return self._lost(EOFError("the jail ended"), "", self._session_start, start)
                data += chunk
            now = time.monotonic()
            if now - self._last_check > 0.5:
                self._last_check = now
                used = tree_usage(self.proc.pid)
                cpu, waited = used.cpu - self._session_start.cpu, self._session_wait + now - start
                if cpu > budget.cpu:
                    self.close()
                    return Outcome("timeout", cpu=cpu, wall=waited)
                if waited > budget.wall:
                    overloaded = used.run_delay - self._session_start.run_delay > OVERLOAD_SHARE * waited
                    self.close()
                    return Outcome("overloaded" if overloaded else "idle", cpu=cpu, wall=waited)
        self._session_wait += time.monotonic() - start
        return Outcome("reply", data)

    def session_error(self, leftover: bytes = b"") -> Outcome:
        """The student's error message that follows an error record, or how the session's process ended
        after ``wire.ENDED`` (``leftover``: bytes already read as records)."""
        self.reader.buffer[:0] = leftover
        outcome = self._wait(Budget(5.0, 30.0), terminal=("error",))
        if outcome.kind == "error":
            self._wait(Budget(5.0, 30.0), terminal=("exit",))
        return outcome

    def close_session(self) -> float:
        """End the session; the jail's CPU seconds it used."""
        from autograder.sandbox.session import REQUEST

        if not self.alive:
            return 0.0
        cpu = tree_usage(self.proc.pid).cpu - self._session_start.cpu
        if not self.send_raw(REQUEST.pack(b"E", 0)):
            self.close()
            return cpu
        if not self._wait(Budget(5.0, 30.0), terminal=("exit",)).ok:
            self.close()
        return cpu

    def _send(self, body: object) -> None:
        wire.write(self._requests, body)

    def _used(self) -> float:
        if self.proc is None:
            return 0.0
        return tree_usage(self.proc.pid).cpu

    def _wait(self, budget: Budget, terminal: tuple[str, ...]) -> Outcome:
        """Read frames until one of ``terminal`` (or an ``exit`` trailer: the process died first)."""
        assert self.proc is not None
        start_wall, start = time.monotonic(), tree_usage(self.proc.pid)
        stage = ""
        while True:
            try:
                message = self.reader.poll(POLL)
            except (wire.WireError, EOFError) as exc:
                return self._lost(exc, stage, start, start_wall)
            if isinstance(message, dict) and len(message) == 1:
                (key, value), = message.items()
                if key == "stage":
                    stage = str(value)[:200]
                    continue
                if key in terminal or key == "exit":
                    now = tree_usage(self.proc.pid)
                    out = Outcome("reply", value, stage=stage, cpu=now.cpu - start.cpu,
                                  wall=time.monotonic() - start_wall)
                    if key == "error":
                        out.kind, out.message = "error", str(value)[:1000]
                    elif key == "exit" and "exit" not in terminal:
                        out.kind, out.message = "crashed", _how(value)
                    return out
            elif message is not None:
                self.close()
                return Outcome("broken", message="your code wrote to the grader's channel", stage=stage)
            now, wall = tree_usage(self.proc.pid), time.monotonic() - start_wall
            cpu = now.cpu - start.cpu
            if cpu > budget.cpu:
                self.close()
                return Outcome("timeout", stage=stage, cpu=cpu, wall=wall)
            if wall > budget.wall:
                overloaded = (now.run_delay - start.run_delay) > OVERLOAD_SHARE * wall
                self.close()
                return Outcome("overloaded" if overloaded else "idle", stage=stage, cpu=cpu, wall=wall)
            if self.proc.poll() is not None:
                return self._lost(EOFError("the jail ended"), stage, start, start_wall)

    def _lost(self, exc: Exception, stage: str, start, start_wall: float) -> Outcome:
        cpu = self._used() - start.cpu
        self.close()
        if isinstance(exc, wire.WireError):
            return Outcome("broken", message=f"your code wrote on the grader's channel what it cannot read: {exc}",
                           stage=stage, cpu=cpu, wall=time.monotonic() - start_wall)
        return Outcome("crashed", message="the process running your code ended (os._exit, a crash, or a signal)",
                       stage=stage, cpu=cpu, wall=time.monotonic() - start_wall)


def _how(trailer: object) -> str:
    if isinstance(trailer, dict) and trailer.get("signal"):
        try:
            name = signal.Signals(int(trailer["signal"])).name
        except (ValueError, TypeError):
            name = str(trailer["signal"])
        if name == "SIGXCPU":
            return "your code used up its CPU time"
        return f"your code's process was killed by signal {name} (a crash, or the memory limit?)"
    status = trailer.get("status") if isinstance(trailer, dict) else None
    return f"your code ended the process (exit status {status}: sys.exit or os._exit?)"


def _bytes_array(data: bytes):
    import numpy as np

    return np.frombuffer(data, dtype=np.uint8)


def _kill(proc: subprocess.Popen) -> None:
    """SIGKILL the jail (bwrap --die-with-parent takes the namespace's processes with it)."""
    try:
        os.kill(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pass

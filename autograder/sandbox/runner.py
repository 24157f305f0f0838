"""The sandboxed runner: loads the student's notebooks and runs the probes of the plan.

Started by the grader as ``python -I runner.py BOX`` (usually as PID 1 of fresh namespaces, as an
unprivileged user, under rlimits). Layout of BOX (the cwd): ``submission/`` (the notebooks),
``lib/dlcore`` (a copy of the library), ``runner/`` (this file and probes.py), ``plan.json``,
``inputs.npz``, ``data/`` and ``out/``.

Each probe runs in a forked child so that a crash, ``os._exit`` or hang costs that probe only; a
group shares one wall-clock budget. Results go to ``out/<probe>.npz`` (arrays only); what went
wrong to ``out/<probe>.status`` (plain words). This process is as untrusted as the student code
it loads: the grader checks every output and enforces its own outer timeout.
"""

import json
import os
import signal
import sys
import time
import traceback

OUT = "out"


def _write(name: str, text: str) -> None:
    with open(os.path.join(OUT, name), "w") as f:
        f.write(text[:4000])


def _describe(exc: BaseException) -> str:
    """``Type: message (notebook X cell N, line L)``: where in the student's code it failed."""
    where = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.startswith("<notebook"):
            where = f" ({frame.filename.strip('<>')}, line {frame.lineno})"
    text = f"{type(exc).__name__}: {exc}"
    return (text[:600] + " ...") if len(text) > 600 else text + where


def _run_child(probes, name: str, impl, inputs) -> None:
    import numpy as np

    try:
        out = probes.PROBES[name](impl, inputs)
        arrays = {k: np.asarray(v) for k, v in out.items()}
    except probes.StudentError as exc:
        arrays = {"__error__": np.array(str(exc))}
    except BaseException as exc:  # noqa: BLE001 - anything the student's code raises, SystemExit included
        arrays = {"__error__": np.array(f"{probes.CURRENT} raised {_describe(exc)}")}
    tmp = os.path.join(OUT, f".{name}.tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, os.path.join(OUT, f"{name}.npz"))


def _reap_strays() -> None:
    """As PID 1 of the namespace, kill whatever the student's code left running (fork bombs)."""
    if os.getpid() != 1:
        return
    try:
        os.kill(-1, signal.SIGKILL)
    except ProcessLookupError:
        pass
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def _wait(pid: int, timeout: float) -> int | None:
    """Exit status of child ``pid``, or None after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        signal.sigtimedwait([signal.SIGCHLD], min(left, 0.5))


def _fork(retries: float = 10.0) -> int:
    end = time.monotonic() + retries
    while True:
        try:
            return os.fork()
        except BlockingIOError:  # process limit reached: strays are being reaped
            if time.monotonic() > end:
                raise
            _reap_strays()
            time.sleep(0.1)


def main(box: str) -> int:
    os.chdir(box)
    sys.path[:0] = [os.path.join(box, "lib"), os.path.join(box, "runner")]
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGCHLD])
    import numpy as np
    import probes

    from dlcore.notebook_loader import load_implementation

    with open("plan.json") as f:
        plan = json.load(f)
    with np.load("inputs.npz", allow_pickle=False) as data:
        all_inputs = {k: data[k] for k in data.files}
    try:
        impl = load_implementation("submission")
    except BaseException as exc:  # noqa: BLE001 - SystemExit from a class body too
        _write("load_error.txt", _describe(exc))
        return 0
    _write("loaded", "")

    for group in plan["groups"]:
        deadline = time.monotonic() + group["timeout"]
        timed_out = None
        for name in group["probes"]:
            if timed_out:
                _write(f"{name}.status", f"not run: {timed_out}")
                continue
            prefix = name + "/"
            inputs = {k[len(prefix):]: v for k, v in all_inputs.items() if k.startswith(prefix)}
            for stale in (f"{name}.npz", f"{name}.status"):  # written by student code at load time?
                if os.path.lexists(os.path.join(OUT, stale)):
                    os.remove(os.path.join(OUT, stale))
            stage_path = os.path.join(OUT, f"{name}.stage")
            fd = os.open(stage_path, os.O_RDWR | os.O_CREAT, 0o600)
            pid = _fork()
            if pid == 0:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGCHLD])
                probes.STAGE_FD = fd
                try:
                    _run_child(probes, name, impl, inputs)
                finally:
                    os._exit(0)
            status = _wait(pid, max(deadline - time.monotonic(), 0.01))
            os.close(fd)
            with open(stage_path) as f:
                where = f.read().strip() or "your code"
            if status is None:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                timed_out = f"the time of this part ran out in {where}"
                _write(f"{name}.status", f"your code timed out after {group['timeout']:g} s in {where}")
            elif not os.path.exists(os.path.join(OUT, f"{name}.npz")):
                if os.WIFSIGNALED(status):
                    how = f"was killed by signal {signal.Signals(os.WTERMSIG(status)).name}"
                    if os.WTERMSIG(status) == signal.SIGXCPU:
                        how = "used up its CPU time"
                else:
                    how = f"ended the process (exit status {os.WEXITSTATUS(status)}: sys.exit or os._exit?)"
                _write(f"{name}.status", f"your code {how} in {where}")
            _reap_strays()
    _write("done", "")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

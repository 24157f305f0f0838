"""The jailed runner: loads the student's notebooks once, then runs each probe it is asked for.

Started by the grader as ``python -I runner.py REQUESTS REPLIES`` inside a bubblewrap jail
(``autograder/sandbox/jail.py``), with two pipes: it reads requests on the first descriptor and
writes replies on the second (stdout and stderr go nowhere: the student's prints cannot reach
the grader). Messages are :mod:`wire` frames. The conversation:

1. ``{"setup": {"notebooks": {name: bytes}, "owners": {graded name: notebook stem}, "library": path}}``
   -> the notebooks are written to ``/box/submission`` and run (each in its own namespace, a
   failing cell recorded and skipped, as nbgrader does) -> ``{"loaded": {"errors": [...]}}``.
2. ``{"call": {"probe": name, "args": {...}}}`` -> a forked child runs the probe; it writes
   ``{"stage": "Linear.fprop"}`` frames as it calls student code, then ``{"reply": tree}`` or
   ``{"error": message}``; a probe that holds a session (MNIST training) reads its own further
   requests until it is done. The runner then kills any process the probe left behind and writes
   ``wire.ENDED`` and ``{"exit": {"status": ..., "signal": ...}}``.

This process is exactly as untrusted as the code it loads: the grader checks every frame, counts
the jail's CPU time itself and kills the jail when a budget runs out.
"""

import os
import signal
import sys
import traceback

BOX = "/box"
SUBMISSION = os.path.join(BOX, "submission")


def main(requests: int, replies: int) -> int:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from sandbox import probes, wire  # the grader's files, bound read-only as the package ``sandbox``

    reader = wire.Reader(requests)
    setup = _next(reader)["setup"]
    sys.path.insert(0, setup["library"])  # the jail's copy of dlcore, ahead of any installed one
    os.makedirs(SUBMISSION, exist_ok=True)
    for name, data in setup["notebooks"].items():
        with open(os.path.join(SUBMISSION, os.path.basename(name)), "wb") as f:
            f.write(data.tobytes())
    probes.CHANNEL = replies
    impl, errors = probes.load(SUBMISSION, setup["owners"])
    wire.write(replies, {"loaded": {"errors": errors}})

    while True:
        try:
            message = _next(reader)
        except EOFError:
            return 0
        call = message["call"]
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                probes.serve(impl, call["probe"], call.get("args", {}), reader)
            except BaseException:  # noqa: BLE001 - the probe reports student errors itself; this is ours
                code = 70
                try:
                    wire.write(replies, {"error": "the probe failed: " + traceback.format_exc(limit=3)[-500:]})
                except OSError:
                    pass
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        _reap_strays()
        os.write(replies, wire.ENDED)  # a session's raw records end here, whatever the probe did
        wire.write(replies, {"exit": {"status": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
                                      "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None}})


def _next(reader) -> dict:
    while True:
        message = reader.poll(3600.0)
        if message is not None:
            return message


def _reap_strays() -> None:
    """Kill whatever the probe left running (every process of this uid but this one and init)."""
    try:
        os.kill(-1, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG) == (0, 0):
                return
        except ChildProcessError:
            return


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]), int(sys.argv[2])))

"""nbgrader's kernel, jailed: the kernel that executes a student's notebook runs in a bubblewrap jail.

``nbgrader autograde`` (and anything else that executes a submission through nbclient) starts its
kernels through :class:`JailedKernelManager` (``autograder/nbgrader_config.py`` sets
``Execute.kernel_manager_class``). The kernel sees the same minimal system as the grader's jails
(:mod:`autograder.sandbox.bwrap`), plus, read-only: the folder of the notebook it executes (the
student's own copies), dlcore (the library students have: not the grader's reduced copy, so that
the feedback shows the notebooks as they run at home), and MNIST; it runs as an unprivileged uid
with no network. It does not see ``source/``, ``submitted/`` (the snapshot the hidden suite grades),
the gradebook, the solutions or other students. The kernel talks to nbgrader over ZeroMQ on Unix
sockets in a private folder (``transport = "ipc"``): there is no network in the jail.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets import default

import dlcore
from autograder.sandbox import bwrap
from autograder.sandbox.library import matplotlib_config
from autograder.sandbox.readable import readable_by_jail


def _mnist_dir() -> Path | None:
    from autograder.grade import default_mnist_dir

    return default_mnist_dir()


class JailedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels start inside a bubblewrap jail and speak over Unix sockets."""

    @default("transport")
    def _default_transport(self) -> str:
        return "ipc"

    async def _async_pre_start_kernel(self, **kw):
        # A private folder for the sockets and the connection file, owned by the jail's uid (root
        # still reaches it from here; no other jail sees it).
        self._socket_dir = Path(tempfile.mkdtemp(prefix="dlcore-kernel-"))
        self._uid = bwrap.unique_uid() if bwrap.privileged() else os.getuid()
        if bwrap.privileged():
            os.chown(self._socket_dir, self._uid, -1)
        self.ip = str(self._socket_dir / "kernel")
        self.connection_file = str(self._socket_dir / "connection.json")
        cmd, kw = await super()._async_pre_start_kernel(**kw)
        if self.kernel_spec is not None:
            self.kernel_spec.interrupt_mode = "message"  # a signal would stop at the jail's door
        return cmd, kw

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw) -> None:
        self.write_connection_file()
        if bwrap.privileged():
            os.chown(self.connection_file, self._uid, -1)
        cwd = Path(kw.get("cwd") or os.getcwd()).resolve()
        library = Path(dlcore.__file__).resolve().parent
        binds = [(cwd, str(cwd)), (library, "/box/lib/dlcore")]
        env = {"PATH": "/usr/bin:/bin", "HOME": "/box", "TMPDIR": "/box/tmp", "LANG": "C.UTF-8",
               "PYTHONPATH": "/box/lib", "MPLBACKEND": "Agg", "DLCORE_QUICK": os.environ.get("DLCORE_QUICK", "1"),
               "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}
        mpl = matplotlib_config()
        if mpl is not None:
            binds.append((mpl, "/box/mplconfig"))
            env["MPLCONFIGDIR"] = "/box/mplconfig"
        mnist = _mnist_dir()
        if mnist is not None:  # file by file: a file the jail's uid cannot read is bound as a readable copy
            files = sorted(p for p in mnist.resolve().iterdir() if p.is_file() and not p.name.startswith("."))
            binds += [(path, f"/box/data/mnist/{path.name}") for path in readable_by_jail(files)]
            env["DLCORE_DATA_DIR"] = "/box/data"
        env.update({k: v for k, v in (kw.get("env") or {}).items() if k.startswith("JPY_")})
        limits = bwrap.Limits()
        jail = bwrap.Jail(binds=binds, writable=[(self._socket_dir, str(self._socket_dir))], limits=limits, env=env,
                          cwd=str(cwd), uid=self._uid)
        kw["cwd"], kw["preexec_fn"] = None, lambda: bwrap.set_limits(limits)
        await super()._async_launch_kernel(bwrap.command(jail, kernel_cmd), **kw)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart and getattr(self, "_socket_dir", None):
            shutil.rmtree(self._socket_dir, ignore_errors=True)

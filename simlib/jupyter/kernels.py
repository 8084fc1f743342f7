"""How notebooks' kernels are started: over Unix sockets, so that kernels started together never
race for the same free TCP ports (a kernel connected to another's ports waits for messages that
never come)."""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

from jupyter_client.manager import AsyncKernelManager

from simlib.lifeline import parent_death_preexec


class IPCKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel talks over IPC sockets in a private temporary folder.

    Pass it to papermill as ``kernel_manager_class=IPCKernelManager``.
    """

    def __init__(self, **kwargs: Any):
        socket_folder = tempfile.mkdtemp(prefix="simlib-kernel-")
        if os.name == "posix":  # ZeroMQ has no IPC transport on Windows: TCP there
            kwargs.setdefault("transport", "ipc")
            kwargs.setdefault("ip", os.path.join(socket_folder, "kernel"))
        super().__init__(**kwargs)
        self._socket_folder = socket_folder

    async def start_kernel(self, **kwargs: Any) -> None:
        # The kernel dies with the process that started it, even if that one is killed (Linux);
        # elsewhere ipykernel's own parent poll (about a second) stops it.
        preexec = parent_death_preexec()
        if preexec is not None:
            kwargs.setdefault("preexec_fn", preexec)
        await super().start_kernel(**kwargs)

    def cleanup_ipc_files(self) -> None:
        super().cleanup_ipc_files()
        shutil.rmtree(self._socket_folder, ignore_errors=True)

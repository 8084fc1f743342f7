"""Child processes that never outlive the simlib command that started them.

A pool worker, a batch worker or a notebook kernel left running after its parent was killed keeps a
core busy and may even start new work. Every such child is tied to its parent here:

- on Linux the kernel delivers a signal to the child the moment its parent dies
  (``prctl(PR_SET_PDEATHSIG)``), armed in the child itself (:func:`die_with_parent`, a pool
  initializer) or just before it executes (:func:`parent_death_preexec`, for kernels);
- elsewhere (or when ``prctl`` is unavailable) a daemon thread polls the parent's pid every
  :data:`POLL_SECONDS` and ends the process when it changes.

Kept free of heavy imports: worker processes import it first.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time
from collections.abc import Callable

POLL_SECONDS = 0.2
_PR_SET_PDEATHSIG = 1


def _prctl() -> Callable[..., int] | None:
    """libc's prctl on Linux, else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        return libc.prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _prctl()


def _arm_death_signal(signal_number: int) -> bool:
    """Ask the kernel to send ``signal_number`` to this process when its parent dies."""
    return _PRCTL is not None and _PRCTL(_PR_SET_PDEATHSIG, int(signal_number), 0, 0, 0) == 0


def die_with_parent(parent_pid: int | None = None) -> None:
    """End this process as soon as its parent process ends (even by SIGKILL).

    Parameters
    ----------
    parent_pid : the parent's pid as the parent saw itself (``os.getpid()`` passed to a pool
        initializer); by default the current parent. If the parent is already gone, the process
        ends at once.
    """
    parent = os.getppid() if parent_pid is None else parent_pid
    # SIGKILL and prctl exist on Linux only; elsewhere the watch thread below does the job.
    kill = getattr(signal, "SIGKILL", None)
    armed = kill is not None and _arm_death_signal(kill)
    if os.getppid() != parent:
        # The parent died before the death signal was armed (or this is not its child any more).
        os._exit(3)
    if armed:
        return

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(POLL_SECONDS)
        os._exit(3)

    threading.Thread(target=watch, name="simlib-parent-watch", daemon=True).start()


def parent_death_preexec() -> Callable[[], None] | None:
    """A ``preexec_fn`` for :class:`subprocess.Popen` that makes the child die with this process
    (Linux); None where that is not possible (the child's own parent check must do)."""
    if _PRCTL is None:
        return None
    prctl = _PRCTL

    def arm() -> None:  # runs in the child between fork and exec: nothing but the system call
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)

    return arm


def pool_initializer() -> None:
    """Initializer of local pool workers: die with the process that started them (a pool worker's
    parent is the command itself, or a fork server that ends with it), and end quietly when the
    command stops them.

    A forked worker inherits the command's SIGTERM handler, which raises KeyboardInterrupt (the
    command's way of stopping like Ctrl-C): in a worker that would surface anywhere, even inside
    Numba compiling, and print a traceback. The command handles Ctrl-C and terminates its workers,
    so a worker ignores SIGINT and lets SIGTERM end it at once.
    """
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent()


def kill_process_group(pid: int) -> None:
    """Kill the process group led by ``pid`` (a child started with ``start_new_session=True``).

    POSIX only has process groups; on Windows the process itself is killed (its own children are
    tied to it by :func:`die_with_parent`'s polling thread). A process already gone is ignored.
    """
    try:
        if hasattr(os, "killpg"):
            os.killpg(pid, signal.SIGKILL)
        else:  # pragma: no cover - Windows
            os.kill(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError, OSError):
        pass

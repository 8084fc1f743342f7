"""Where work runs: in this process, on a local pool, or on a Dask distributed cluster.

Chunks of a simulation, sweep variants and batch notebooks are all handed to a
:class:`concurrent.futures.Executor`; :func:`open_executor` picks which one. Callers consume results
in submission order, so what they add up is added in the same order on every executor and the
numbers are bit-identical whatever runs them.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from simlib.errors import InputError
from simlib.lifeline import pool_initializer

LOCAL = "local"


class InProcessExecutor(Executor):
    """Runs each call at once, in the calling thread (one worker: no pickling, live progress)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:
            # Handed to the caller through the future, as a pool would. KeyboardInterrupt and
            # SystemExit are not caught: Ctrl-C must stop the caller, not just this call.
            future.set_exception(exc)
        return future

    def map(self, fn: Callable[..., Any], *iterables: Any, timeout: float | None = None, chunksize: int = 1):
        return (fn(*args) for args in zip(*iterables, strict=False))


def resolve_workers(workers: int | None) -> int:
    """``None`` or 0 means one per core."""
    if workers is None or workers == 0:
        return os.cpu_count() or 1
    if workers < 0:
        raise InputError(f"workers must be at least 1, or 0 for one per core (got {workers})")
    return int(workers)


def _dask_client(scheduler: str, workers: int):
    from simlib.extras import require

    require("dask", "--scheduler")
    from dask.distributed import Client, LocalCluster

    if scheduler == LOCAL:
        # Scheduler, workers and dashboard bound to localhost: nothing is exposed beyond this machine.
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
        )
        return Client(cluster), cluster
    try:
        return Client(scheduler, timeout="20s"), None
    except OSError as exc:
        raise InputError(f"--scheduler {scheduler}: cannot reach the Dask scheduler ({exc})") from exc


@contextmanager
def open_executor(
    workers: int | None = 1, scheduler: str | None = None, kind: str = "process"
) -> Iterator[Executor]:
    """An executor for ``workers`` parallel calls.

    Parameters
    ----------
    workers : parallel calls on the local pool (0 or None: one per core); on ``scheduler="local"``
        the number of Dask worker processes. Ignored for an existing cluster.
    scheduler : None for the local pool; ``"local"`` to start a Dask ``LocalCluster`` on this
        machine (localhost only); otherwise the address of a running Dask scheduler
        (``tcp://host:8786``).
    kind : ``"process"`` for CPU-bound Python calls, ``"thread"`` for calls that wait on a
        subprocess (notebook runs). One local worker runs calls in-process either way.
    """
    count = resolve_workers(workers)
    if scheduler:
        client, cluster = _dask_client(scheduler, count)
        executor = client.get_executor()
        try:
            yield executor
        finally:
            executor.shutdown(wait=False)
            client.close()
            if cluster is not None:
                cluster.close()
        return
    if count == 1:
        yield InProcessExecutor()
        return
    if kind == "thread":
        pool: Executor = ThreadPoolExecutor(count)
    else:
        # Workers die with this process, even when it is killed with SIGKILL (simlib.lifeline).
        pool = ProcessPoolExecutor(count, initializer=pool_initializer)
    try:
        yield pool
    except BaseException:
        # Ctrl-C, SIGTERM or an error: stop the workers now rather than let them finish their calls.
        _stop_workers(pool)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _stop_workers(pool: Executor) -> None:
    """Terminate a process pool's workers at once (a thread pool's threads cannot be stopped)."""
    if not isinstance(pool, ProcessPoolExecutor):
        return
    processes = list((getattr(pool, "_processes", None) or {}).values())  # no public API for this
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            process.terminate()
    for process in processes:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            process.join(timeout=1.0)


def describe(workers: int | None, scheduler: str | None) -> str:
    """Where a run executes, for provenance."""
    if scheduler == LOCAL:
        return f"dask LocalCluster ({resolve_workers(workers)} workers)"
    if scheduler:
        return f"dask cluster at {scheduler}"
    return f"local pool ({resolve_workers(workers)} workers)"

"""Executing one parameterized notebook with papermill in its own kernel, and saying how it ended.

:func:`execute` is the whole job of a batch worker process (``python -m simlib.execution SPEC``):
start a kernel over IPC, run the notebook with its parameters, stream the kernel's stdout and stderr
to log files, and classify the ending from the exception papermill raised — never from the
notebook's metadata. The worker writes the outcome to a JSON file; the batch judges the run from it
and from the ``result.json`` the notebook wrote.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .kernels import IPCKernelManager

SUCCEEDED = "succeeded"
FAILED = "failed"
TIMED_OUT = "timed_out"
KERNEL_DIED = "kernel_died"
COULD_NOT_START = "could_not_start"
INTERRUPTED = "interrupted"
#: Endings caused by the machine rather than the notebook: worth another attempt.
INFRASTRUCTURE = (KERNEL_DIED, COULD_NOT_START)

KERNEL_START_ERRORS = ("Kernel died before replying", "Kernel didn't respond")


@dataclass(frozen=True)
class Outcome:
    """How one notebook execution ended."""

    status: str
    error: str | None = None
    cell: int | None = None  # position of the failing cell in the executed notebook, from 1
    seconds: float = 0.0


@dataclass(frozen=True)
class ExecutionSpec:
    """Everything a worker needs, as absolute paths (it may run on another host of a cluster that
    shares the file system)."""

    notebook: str
    output_notebook: str
    parameters: dict[str, Any]
    cwd: str
    stdout_log: str
    stderr_log: str
    kernel_pid_file: str
    outcome_file: str
    kernel_name: str | None = None


class RecordingKernelManager(IPCKernelManager):
    """An IPC kernel manager that writes its kernel's process id to ``SIMLIB_KERNEL_PID_FILE``, so
    a batch that has to stop a run can stop its kernel too (kernels run in their own session), and
    sends the kernel process's own messages (not the notebook's output) to ``SIMLIB_KERNEL_LOG``
    instead of the terminal."""

    async def start_kernel(self, **kwargs: Any) -> None:
        log = os.environ.get("SIMLIB_KERNEL_LOG")
        if log:
            with open(log, "a") as handle:  # the kernel keeps its own copy of the descriptor
                await super().start_kernel(**{"stdout": handle, "stderr": handle, **kwargs})
        else:
            await super().start_kernel(**kwargs)
        pid_file = os.environ.get("SIMLIB_KERNEL_PID_FILE")
        pid = getattr(self.provisioner, "pid", None)
        if pid_file and pid:
            Path(pid_file).write_text(str(pid))


def _classify(exc: BaseException) -> Outcome:
    from jupyter_client.kernelspec import NoSuchKernel
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        return Outcome(FAILED, f"{exc.ename}: {exc.evalue}", exc.cell_index + 1)
    if isinstance(exc, CellTimeoutError):
        return Outcome(TIMED_OUT, str(exc).splitlines()[0])
    if isinstance(exc, DeadKernelError):
        return Outcome(KERNEL_DIED, "the kernel died while running the notebook")
    if isinstance(exc, NoSuchKernel) or (
        isinstance(exc, RuntimeError | TimeoutError) and str(exc).startswith(KERNEL_START_ERRORS)
    ):
        return Outcome(COULD_NOT_START, f"the kernel could not start: {exc}")
    return Outcome(FAILED, f"{type(exc).__name__}: {exc}")


def execute(spec: ExecutionSpec) -> Outcome:
    """Run the notebook; return how it ended (exceptions are outcomes, not errors)."""
    import papermill

    started = time.monotonic()
    # papermill changes the working directory to spec.cwd: every path is made absolute first.
    os.environ["SIMLIB_KERNEL_PID_FILE"] = str(Path(spec.kernel_pid_file).resolve())
    os.environ["SIMLIB_KERNEL_LOG"] = str(Path(spec.kernel_pid_file).resolve().with_name("kernel.log"))
    with open(spec.stdout_log, "w") as stdout, open(spec.stderr_log, "w") as stderr:
        try:
            papermill.execute_notebook(
                str(Path(spec.notebook).resolve()),
                str(Path(spec.output_notebook).resolve()),
                parameters=spec.parameters,
                cwd=spec.cwd,
                kernel_name=spec.kernel_name,
                kernel_manager_class=RecordingKernelManager,
                progress_bar=False,
                log_output=True,
                stdout_file=stdout,
                stderr_file=stderr,
                request_save_on_cell_execute=True,
            )
            outcome = Outcome(SUCCEEDED)
        except Exception as exc:
            outcome = _classify(exc)
            stderr.write("\n" + "".join(traceback.format_exception(exc)))
    return Outcome(outcome.status, outcome.error, outcome.cell, round(time.monotonic() - started, 3))


def _exit_with_parent() -> None:
    """A worker outlives no batch: if the batch process dies (even by SIGKILL), stop at once; the
    kernel's own parent check then stops the kernel."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(3)
            time.sleep(0.5)

    threading.Thread(target=watch, daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    """Worker entry point: ``python -m simlib.execution SPEC.json``."""
    from .files import write_atomic

    # jsonschema (via nbformat) imports this optional IRI checker when present; building its grammar
    # takes ~2 s per worker, and notebooks are never validated against IRI formats.
    sys.modules.setdefault("rfc3987_syntax", None)
    _exit_with_parent()
    spec = ExecutionSpec(**json.loads(Path((argv or sys.argv[1:])[0]).read_text()))
    outcome = execute(spec)
    write_atomic(Path(spec.outcome_file), lambda p: Path(p).write_text(json.dumps(asdict(outcome))))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Executing one parameterized notebook with papermill in its own kernel, and saying how it ended.

:func:`execute` is the whole job of a batch worker process (``python -m simlib.jupyter.execution SPEC``):
start a kernel over IPC, run the notebook with its parameters, stream the kernel's stdout and stderr
to log files, and classify the ending from the exception papermill raised — never from the
notebook's metadata. The worker writes the outcome to a JSON file; the batch judges the run from it
and from the ``result.json`` the notebook wrote.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import traceback
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from queue import Empty
from typing import Any

from simlib.jupyter.kernels import IPCKernelManager
from simlib.lifeline import kill_process_group

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


class _StartError(Exception):
    """The kernel started ahead of the run could not start: the run could not start either."""

    def __init__(self, cause: BaseException):
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.cause = cause


def _classify(exc: BaseException) -> Outcome:
    from jupyter_client.kernelspec import NoSuchKernel
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, _StartError):
        return Outcome(COULD_NOT_START, f"the kernel could not start: {exc}")
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


def execute(spec: ExecutionSpec, km: Any = None, start_error: BaseException | None = None) -> Outcome:
    """Run the notebook; return how it ended (exceptions are outcomes, not errors).

    Parameters
    ----------
    spec : the run.
    km : a kernel manager whose fresh kernel was started ahead of the run (:func:`serve`); None to
        start one now. Either way the kernel serves this run only and is stopped after it.
    start_error : why the kernel started ahead of the run could not start (the run then could not
        start either; the batch retries it).
    """
    import papermill

    started = time.monotonic()
    # papermill changes the working directory to spec.cwd: every path is made absolute first.
    os.environ["SIMLIB_KERNEL_PID_FILE"] = str(Path(spec.kernel_pid_file).resolve())
    os.environ["SIMLIB_KERNEL_LOG"] = str(Path(spec.kernel_pid_file).resolve().with_name("kernel.log"))
    with open(spec.stdout_log, "w") as stdout, open(spec.stderr_log, "w") as stderr:
        try:
            if start_error is not None:
                raise _StartError(start_error)
            papermill.execute_notebook(
                str(Path(spec.notebook).resolve()),
                str(Path(spec.output_notebook).resolve()),
                parameters=spec.parameters,
                cwd=spec.cwd,
                kernel_name=spec.kernel_name,
                **({"km": km} if km is not None else {"kernel_manager_class": RecordingKernelManager}),
                progress_bar=False,
                log_output=True,
                stdout_file=stdout,
                stderr_file=stderr,
                request_save_on_cell_execute=True,
                # The results are written (atomically) by the last cell before it returns: the
                # kernel has nothing left to do, and a graceful shutdown would only wait.
                shutdown_kernel="immediate",
            )
            outcome = Outcome(SUCCEEDED)
        except Exception as exc:
            outcome = _classify(exc)
            stderr.write("\n" + "".join(traceback.format_exception(exc)))
        finally:
            if km is not None:
                _stop_kernel(km)
    return Outcome(outcome.status, outcome.error, outcome.cell, round(time.monotonic() - started, 3))


# --- workers started ahead of their runs -------------------------------------------------------------

WARM_CODE = (
    "import simlib.jupyter.notebook as _simlib_notebook\n_simlib_notebook.warm_up()\ndel _simlib_notebook\n"
)
"""What a kernel started ahead of its run executes (silently: no output, no execution count, no
history, no names left behind): the imports every simlib notebook makes, so that a run does not
wait for them. Nothing of any run is in the kernel: it is fresh for the run it is handed."""


def _notebook_kernel_name(notebook: str, kernel_name: str | None) -> str:
    """The kernel a run of ``notebook`` uses: the given one, else the notebook's own (as papermill)."""
    if kernel_name:
        return kernel_name
    metadata = json.loads(Path(notebook).read_text()).get("metadata", {})
    return metadata.get("kernelspec", {}).get("name") or "python3"


WARM_SECONDS = 600
"""How long a worker waits for its kernel's warm-up before taking a run anyway (a warm-up that
compiles the engine on a busy machine can take minutes; the run then simply waits its turn)."""


def _start_kernel(notebook: str, kernel_name: str | None, cwd: str) -> Any:
    """Start the notebook's kernel (over IPC, in ``cwd``) and run :data:`WARM_CODE` in it.

    Only a kernel that does not start is an error; the warm-up is a saving, never a reason to fail
    a run (a failed or slow one is written to the worker's log and the run goes ahead).
    """
    from jupyter_core.utils import run_sync

    km = RecordingKernelManager(kernel_name=_notebook_kernel_name(notebook, kernel_name))

    async def start() -> None:
        await km.start_kernel(cwd=cwd)
        client = km.client()
        client.start_channels()
        try:
            await client.wait_for_ready(timeout=60)
            message = client.execute(WARM_CODE, silent=True, store_history=False)
            deadline = time.monotonic() + WARM_SECONDS
            while time.monotonic() < deadline:
                with contextlib.suppress(Empty):
                    reply = await client.get_shell_msg(timeout=5)
                    if reply["parent_header"].get("msg_id") == message:
                        if reply["content"].get("status") != "ok":
                            print(f"warm-up failed: {reply['content'].get('evalue')}", file=sys.stderr)
                        break
        finally:
            client.stop_channels()

    try:
        run_sync(start)()
    except BaseException:
        _stop_kernel(km)
        raise
    return km


def _stop_kernel(km: Any) -> None:
    from jupyter_core.utils import run_sync

    with contextlib.suppress(Exception):
        run_sync(km.shutdown_kernel)(now=True)


def serve(notebook: str, kernel_name: str | None, folder: Path) -> int:
    """A worker started ahead of its run: import papermill, start the run's kernel (fresh, with
    :data:`WARM_CODE` run), then wait for the path of an :class:`ExecutionSpec` on standard input
    and execute it. An empty line or end of input means no run came: stop the kernel and exit.

    The kernel's pid and its own log are in ``folder`` until the run is handed over; then they are
    where the spec says (``kernel_pid_file``, ``kernel.log`` beside it), as for a worker started
    for its run.
    """
    from simlib.files import write_atomic

    os.environ["SIMLIB_KERNEL_PID_FILE"] = str((folder / "kernel.pid").resolve())
    os.environ["SIMLIB_KERNEL_LOG"] = str((folder / "kernel.log").resolve())
    import nbformat
    import papermill  # noqa: F401  (imported while waiting, not while the run waits)

    with contextlib.suppress(Exception):  # builds the notebook validator papermill uses per save
        nbformat.validate(nbformat.read(notebook, as_version=4))

    km, start_error = None, None
    try:
        km = _start_kernel(notebook, kernel_name, str(Path(notebook).resolve().parent))
    except Exception as exc:
        start_error = exc
    line = sys.stdin.readline().strip()
    if not line:
        if km is not None:
            _stop_kernel(km)
        return 0
    spec = ExecutionSpec(**json.loads(Path(line).read_text()))
    pid = getattr(km.provisioner, "pid", None) if km is not None else None
    if pid:
        Path(spec.kernel_pid_file).write_text(str(pid))
    with contextlib.suppress(OSError):
        # The kernel keeps writing to the same open file under its new name.
        os.rename(folder / "kernel.log", Path(spec.kernel_pid_file).with_name("kernel.log"))
    outcome = execute(spec, km, start_error)
    write_atomic(Path(spec.outcome_file), lambda p: Path(p).write_text(json.dumps(asdict(outcome))))
    return 0


class AheadWorkers:
    """Batch workers started ahead of their runs, so that a run waits neither for a worker's imports
    nor for its kernel's start (about 3.5 s a run otherwise).

    Each worker (``python -m simlib.jupyter.execution --ahead``, :func:`serve`) imports papermill, starts a
    fresh kernel for the notebook and imports the notebooks' libraries in it, then waits to be handed
    one run; its kernel serves that run only and stops with it. Up to ``spares`` workers wait, never
    more than the runs still to start. Thread-safe: a batch's runs take workers from several threads.

    Parameters
    ----------
    notebook : the notebook every run executes (its folder is the kernels' working directory).
    kernel_name : the kernel, or None for the notebook's own.
    folder : where each worker keeps its log and, until handed a run, its kernel's pid and log.
    runs : how many runs will be handed out (more may be: a retry starts a worker if none waits).
    spares : workers kept waiting (the batch's parallel runs: each next run then finds one).
    """

    def __init__(self, notebook: str, kernel_name: str | None, folder: Path, runs: int, spares: int):
        self.notebook = str(Path(notebook).resolve())
        self.kernel_name = kernel_name
        self.folder = Path(folder)
        self._left = runs
        self._spares = spares
        self._waiting: list[subprocess.Popen] = []
        self._folders: list[Path] = []
        self._lock = threading.Lock()
        self._closed = False
        with self._lock:
            self._fill()

    def _start(self) -> subprocess.Popen:
        folder = self.folder / f"ahead-{uuid.uuid4().hex[:12]}"
        folder.mkdir(parents=True)
        self._folders.append(folder)
        command = [sys.executable, "-m", "simlib.jupyter.execution", "--ahead", self.notebook, str(folder)]
        with open(folder / "worker.log", "w") as log:
            return subprocess.Popen(
                [*command, *([self.kernel_name] if self.kernel_name else [])],
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                text=True,
            )

    def _fill(self) -> None:
        while not self._closed and len(self._waiting) < min(self._spares, self._left):
            self._waiting.append(self._start())

    def hand(self, spec_file: Path) -> subprocess.Popen:
        """Hand the run of ``spec_file`` to a waiting worker (one is started if none waits) and start
        the next; returns the worker's process, which ends when the run has ended."""
        with self._lock:
            while self._waiting and self._waiting[0].poll() is not None:
                self._waiting.pop(0)  # ended on its own (killed?): never hand it a run
            process = self._waiting.pop(0) if self._waiting else self._start()
            self._left = max(self._left - 1, 0)
            self._fill()
        try:
            assert process.stdin is not None
            process.stdin.write(f"{spec_file}\n")
            process.stdin.close()
        except OSError:
            pass  # the worker died meanwhile: the attempt finds no outcome and is retried
        return process

    def close(self) -> None:
        """Stop the workers no run was handed to (their kernels stop with them) and remove every
        worker's folder (a handed worker's run has been filed with its own logs by then)."""
        with self._lock:
            self._closed = True
            waiting, self._waiting = self._waiting, []
        for process in waiting:
            with contextlib.suppress(OSError):
                assert process.stdin is not None
                process.stdin.close()  # end of input: the worker stops its kernel and exits
        deadline = time.monotonic() + 2.0
        for process in waiting:
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.01))
            except subprocess.TimeoutExpired:
                kill_process_group(process.pid)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=5)
        for folder in self._folders:
            shutil.rmtree(folder, ignore_errors=True)


def _exit_with_parent() -> None:
    """A worker outlives no batch: if the batch process dies (even by SIGKILL), stop at once
    (simlib.lifeline); the kernel is tied to this worker the same way (kernels.IPCKernelManager)."""
    from simlib.lifeline import die_with_parent

    die_with_parent()


def main(argv: list[str] | None = None) -> int:
    """Worker entry point: ``python -m simlib.jupyter.execution SPEC.json``, or
    ``python -m simlib.jupyter.execution --ahead NOTEBOOK FOLDER [KERNEL]`` for a worker started
    ahead of its run (:func:`serve`)."""
    from simlib.files import write_atomic

    # jsonschema (via nbformat) imports this optional IRI checker when present; building its grammar
    # takes ~2 s per worker, and notebooks are never validated against IRI formats.
    sys.modules.setdefault("rfc3987_syntax", None)
    _exit_with_parent()
    arguments = argv or sys.argv[1:]
    if arguments[0] == "--ahead":
        code = serve(arguments[1], arguments[3] if len(arguments) > 3 else None, Path(arguments[2]))
        # Everything is written and closed: skip the interpreter's teardown (closing the kernel
        # client's sockets can linger for a second), the batch is waiting for this process to end.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    spec = ExecutionSpec(**json.loads(Path(arguments[0]).read_text()))
    outcome = execute(spec)
    write_atomic(Path(spec.outcome_file), lambda p: Path(p).write_text(json.dumps(asdict(outcome))))
    return 0


if __name__ == "__main__":
    sys.exit(main())

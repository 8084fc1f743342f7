"""Hostile and broken input, killed processes, concurrent runs (issue 11): no leak, no traceback,
nothing lost. One section per class of the issue; each is parametrised over many cases of its class,
the issue's examples and others like them."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
import unicodedata
from pathlib import Path

import numpy as np
import psutil
import pytest
import yaml

from simlib.errors import ScenarioError, show_value
from simlib.files import (
    CLAIM,
    check_output_file,
    claim_output_folder,
    claimed_output_folder,
    release_output_folder,
    remove_stale_temporaries,
    write_together,
)
from simlib.scenario.describe import unused_sizes
from simlib.scenario.reading import MAX_FILE_BYTES
from simlib.scenario.scenario import load
from simlib.text import printable, printable_lines

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "scenarios"
BASELINE = SHIPPED / "baseline.yaml"
HISTORY = SHIPPED / "history"
SIMLIB = Path(sys.executable).parent / "simlib"
TINY = ["--customers", "500", "--months", "3", "--replications", "1", "--quiet"]
SECRET = "hunter2-s3cr3t"


def simlib_command(*args: str | Path, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess[str]:
    """The installed command; a traceback is a bug whatever the exit status."""
    result = subprocess.run(
        [str(SIMLIB), *map(str, args)], capture_output=True, text=True, timeout=timeout, check=False, **kwargs
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def one_problem(path: Path, overrides: dict | None = None) -> str:
    """The single error line loading ``path`` gives."""
    with pytest.raises(ScenarioError) as caught:
        load(path, overrides)
    assert len(caught.value.problems) == 1, caught.value.problems
    line = str(caught.value.problems[0])
    assert "\n" not in line
    return line


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


# --------------------------------------------------------------------------- 1. what extends may name


@pytest.fixture
def secrets(tmp_path: Path) -> Path:
    """A folder of things a scenario must never read or echo, beside the scenarios' folder."""
    outside = tmp_path / "outside"
    write(outside / "passwd", f"root:x:0:0:{SECRET}:/root:/bin/bash\n")
    write(outside / ".env", f"API_KEY={SECRET}\n")
    write(outside / "secrets.yaml", f"password: {SECRET}\n")
    write(outside / "scenario.yaml", "fees: {monthly_fee: 20}\n")
    return outside


REFUSED_PARENTS = [
    ("/etc/passwd", "must name a .yaml or .yml scenario file"),
    ("../../../../../../../../etc/passwd", "must name a .yaml or .yml scenario file"),
    ("../outside/passwd", "must name a .yaml or .yml scenario file"),
    ("../outside/.env", "must name a .yaml or .yml scenario file"),
    ("/dev/zero", "must name a .yaml or .yml scenario file"),
    ("/proc/self/environ", "must name a .yaml or .yml scenario file"),
    ("../outside/secrets.yaml", "outside this file's folder"),
    ("../outside/scenario.yaml", "outside this file's folder"),
    ("OUTSIDE/secrets.yaml", "is an absolute path"),  # absolute, outside every root
    ("HERE/sibling.yaml", "is an absolute path"),  # absolute, even inside the folder
    ("link_out.yaml", "outside this file's folder"),  # a symbolic link leading outside
    ("sub/../../outside/secrets.yaml", "outside this file's folder"),
    ("loop.yaml", "symbolic link loop"),
    ("missing.yaml", "not found"),
    ("folder.yaml", "not found"),  # a folder named like a file
    ("", "must be a file name"),
    ("sibling.yaml\x1b]0;x\x07", "must be a file name without control characters"),
    ("sibling.yml.txt", "must name a .yaml or .yml scenario file"),
]


@pytest.mark.parametrize(("parent", "words"), REFUSED_PARENTS, ids=[c[0] or "empty" for c in REFUSED_PARENTS])
def test_extends_names_only_scenario_files_in_its_own_tree(tmp_path, secrets, parent, words):
    here = tmp_path / "scenarios"
    write(here / "sibling.yaml", "fees: {monthly_fee: 21}\n")
    (here / "folder.yaml").mkdir()
    (here / "link_out.yaml").symlink_to(secrets / "secrets.yaml")
    (here / "loop.yaml").symlink_to(here / "loop2.yaml")
    (here / "loop2.yaml").symlink_to(here / "loop.yaml")
    parent = parent.replace("OUTSIDE", str(secrets)).replace("HERE", str(here))
    child = write(
        here / "child.yaml", f"extends: {yaml.safe_dump(parent).strip().removesuffix('...').strip()}\n"
    )
    line = one_problem(child)
    assert words in line
    assert SECRET not in line and "root:x" not in line


@pytest.mark.parametrize(
    "content",
    [
        f"password: {SECRET}\n",
        f"- {SECRET}\n- more\n",
        f'"root:x:0:0:{SECRET}"\n',
        f"{SECRET}: {SECRET}\n",
        f"name: leaky\napi_key: {SECRET}\n",
        f"API_KEY={SECRET}\n",
        f"password: [{SECRET}\n",  # not even valid YAML
    ],
)
def test_a_file_that_is_not_a_scenario_is_named_never_quoted(tmp_path, content):
    write(tmp_path / "parent.yaml", content)
    child = write(tmp_path / "child.yaml", "extends: parent.yaml\n")
    for path in (child, tmp_path / "parent.yaml"):
        with pytest.raises(ScenarioError) as caught:
            load(path)
        assert SECRET not in str(caught.value)


def test_scenario_roots_allow_a_shared_folder_and_the_shipped_scenarios(tmp_path, monkeypatch):
    shared = write(tmp_path / "shared" / "base.yaml", "fees: {monthly_fee: 19}\n")
    child = write(tmp_path / "team" / "child.yaml", "extends: ../shared/base.yaml\n")
    assert "outside this file's folder" in one_problem(child)
    monkeypatch.setenv("SIMLIB_SCENARIO_ROOTS", str(shared.parent))
    assert load(child).fees.monthly_fee == 19
    shipped = write(tmp_path / "mine.yaml", f"extends: {BASELINE}\nfees: {{penalty_fee: 3}}\n")
    assert load(shipped).fees.penalty_fee == 3  # the shipped scenarios are always a root


def test_scenario_root_option_reaches_the_command(tmp_path):
    write(tmp_path / "shared" / "base.yaml", "fees: {monthly_fee: 19}\n")
    child = write(tmp_path / "team" / "child.yaml", "extends: ../shared/base.yaml\n")
    refused = simlib_command("validate", child)
    assert refused.returncode == 2 and "--scenario-root" in refused.stderr
    allowed = simlib_command("--scenario-root", tmp_path / "shared", "validate", child)
    assert allowed.returncode == 0, allowed.stderr


@pytest.mark.parametrize("length", [1, 2, 3, 5])
def test_cycles_are_one_line(tmp_path, length):
    for index in range(length):
        write(tmp_path / f"c{index}.yaml", f"extends: c{(index + 1) % length}.yaml\n")
    assert "circular inheritance: c0.yaml → " in one_problem(tmp_path / "c0.yaml")


# --------------------------------------------------------------------------- 2. safe YAML bounds


def billion_laughs(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, levels):
        refs = ",".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{refs}]")
    return "\n".join(lines) + f"\nfees: {{monthly_fee: *a{levels - 1}}}\n"


HOSTILE_YAML = {
    "billion_laughs": (billion_laughs(), "YAML aliases repeat too much"),
    "wide_fan_out": (
        "a: &a [" + ",".join(["1"] * 2000) + "]\nb: [" + ",".join(["*a"] * 99) + "]\n",
        "YAML aliases repeat too much",
    ),
    "alias_in_a_label": (billion_laughs(7).replace("fees: {monthly_fee: *a6}", "label: *a6"), ""),
    "many_aliases": ("x: &x 1\ny: [" + ",".join(["*x"] * 150) + "]\n", "more than 100 YAML aliases"),
    "deep_flow_lists": ("fees: " + "[" * 5000 + "]" * 5000 + "\n", "nested more than 20 levels deep"),
    "deep_flow_maps": ("fees: " + "{a: " * 300 + "1" + "}" * 300 + "\n", "nested more than 20 levels deep"),
    "deep_block_maps": (
        "fees:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 40)) + "  " * 40 + "v: 1\n",
        "nested more than 20 levels deep",
    ),
    "recursive_alias": ("fees: &r {monthly_fee: [*r]}\n", "refers to the node it is inside"),
    "recursive_list": ("population: {segments: &s [*s]}\n", "refers to the node it is inside"),
    "merge_key_bomb": (
        "a: &a {x: 1, y: 2, z: 3}\n"
        + "".join(f"b{i}: &b{i} {{<<: *{'a' if i == 0 else f'b{i - 1}'}}}\n" for i in range(120)),
        "",
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_YAML))
def test_hostile_yaml_is_refused_quickly_in_one_line(tmp_path, case):
    text, words = HOSTILE_YAML[case]
    path = write(tmp_path / "bomb.yaml", text)
    started = time.monotonic()
    line = one_problem(path)
    assert time.monotonic() - started < 5
    assert words in line


@pytest.mark.parametrize("size", [MAX_FILE_BYTES + 1, 5 * 2**20, 50 * 2**20])
def test_a_huge_scenario_is_refused_before_it_is_read(tmp_path, size):
    path = tmp_path / "huge.yaml"
    with open(path, "wb") as handle:
        handle.write(b"fees: {monthly_fee: 20}\n# ")
        handle.truncate(size)  # sparse: costs no disk
    started = time.monotonic()
    assert "a scenario file may be at most 1 MiB" in one_problem(path)
    assert time.monotonic() - started < 1


@pytest.mark.parametrize("kind", ["dev_zero", "fifo", "folder", "dev_null_child"])
def test_devices_pipes_and_folders_are_not_scenarios(tmp_path, kind):
    if kind == "dev_zero":
        path = Path("/dev/zero")
    elif kind == "fifo":
        path = tmp_path / "pipe.yaml"
        os.mkfifo(path)
    elif kind == "folder":
        path = tmp_path / "folder.yaml"
        path.mkdir()
    else:
        path = Path("/dev/null/x.yaml")
    with pytest.raises(ScenarioError) as caught:
        load(path)
    assert len(caught.value.problems) == 1


@pytest.mark.parametrize(
    "content",
    [
        "",
        "\n\n",
        "# only a comment\n",
        "# a\n# b\n\n",
        "---\n",
        "--- # c\n...\n",
        "~\n",
        "null\n",
        "{}\n",
        "   \n",
    ],
    ids=repr,
)
def test_empty_and_comment_only_files_are_refused(tmp_path, content):
    path = tmp_path / "empty.yaml"
    path.write_text(content)
    assert "holds no settings" in one_problem(path)


# --------------------------------------------------------------------------- 3. printable text only

HOSTILE_TEXT = [
    "\x1b]0;owned\x07",  # window title (OSC)
    "\x1b]8;;http://evil\x1b\\click\x1b]8;;\x1b\\",  # hyperlink
    "\x1b[2J\x1b[H",  # clear the screen
    "\x1b[31mred",
    "bell\x07",
    "over\rwrite",
    "back\x08space",
    "nul\x00byte",
    "del\x7f",
    "c1\x9b31m",  # 8-bit CSI
    "c1\x9d0;t\x9c",  # 8-bit OSC
    "rtl\u202eevil",
    "iso\u2066late",
    "line\u2028sep",
    "tab\there",
    "new\nline",
]


@pytest.mark.parametrize("text", HOSTILE_TEXT, ids=repr)
def test_printable_leaves_no_control_character(text):
    shown = printable(text)
    assert not [c for c in shown if unicodedata.category(c) in {"Cc", "Cf", "Zl", "Zp"}]
    assert printable(shown) == shown  # idempotent


@pytest.mark.parametrize("text", ["plain", "扣费标准调整简报", "€25 → €27", "naïve café", "a  b"])
def test_printable_keeps_ordinary_text(text):
    assert printable(text) == text
    assert printable_lines(f"{text}\n{text}") == f"{text}\n{text}"


@pytest.mark.parametrize("key", ["name", "label", "description"])
@pytest.mark.parametrize("text", [t for t in HOSTILE_TEXT if t not in ("tab\there", "new\nline")], ids=repr)
def test_names_and_labels_must_be_printable(tmp_path, key, text):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({key: text, "fees": {"monthly_fee": 20}}))
    assert "printable text only" in one_problem(path)


@pytest.mark.parametrize("text", ["\x1b]0;owned\x07", "\x1b[2J", "\r\x07"], ids=repr)
def test_no_escape_sequence_reaches_the_terminal(tmp_path, text):
    # In a file name, in a bad value, in a --set key: wherever the command prints it.
    path = tmp_path / f"odd{text}name.yaml"
    path.write_text(yaml.safe_dump({"fees": {"monthly_fee": text}}))
    for args in (
        ("validate", path),
        ("validate", BASELINE, path),
        ("describe", BASELINE, "--set", f"fees.{text}=1"),
        ("run", BASELINE, "--set", f"name={text}", *TINY),
    ):
        # Bytes, not text: text mode would turn a raw carriage return into a line break unseen.
        result = subprocess.run([str(SIMLIB), *map(str, args)], capture_output=True, timeout=300, check=False)
        for stream in (result.stdout.decode(), result.stderr.decode()):
            assert "Traceback" not in stream
            assert not [c for c in stream if unicodedata.category(c) == "Cc" and c != "\n"], (args, stream)


# --------------------------------------------------------------------------- 4. output folders claimed


def _claim_and_hold(folder: str, ready, results) -> None:
    try:
        claim_output_folder(folder)
        results.put("won")
        ready.wait(3)
        (Path(folder) / "result.txt").write_text(str(os.getpid()))
        release_output_folder(folder)
    except FileExistsError as exc:
        results.put(f"refused: {exc}")


@pytest.mark.parametrize("state", ["missing", "empty", "nested_missing", "only_stale_temporaries"])
@pytest.mark.parametrize("contenders", [2, 4])
def test_only_one_process_can_claim_a_folder(tmp_path, state, contenders):
    folder = tmp_path / "a" / "b" / "out" if state == "nested_missing" else tmp_path / "out"
    if state in ("empty", "only_stale_temporaries"):
        folder.mkdir()
    if state == "only_stale_temporaries":
        (folder / ".summary.csv.abcd1234").write_text("half")
    context = multiprocessing.get_context("fork")
    ready, results = context.Event(), context.Queue()
    processes = [
        context.Process(target=_claim_and_hold, args=(str(folder), ready, results)) for _ in range(contenders)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=30) for _ in processes]
    ready.set()
    for process in processes:
        process.join(30)
    assert outcomes.count("won") == 1, outcomes
    assert all("being written by another simlib command" in o for o in outcomes if o != "won")
    assert sorted(p.name for p in folder.iterdir()) == ["result.txt"]  # the claim file is gone


def test_a_claimed_folder_that_stays_empty_leaves_no_trace(tmp_path):
    folder = tmp_path / "new" / "out"
    with pytest.raises(RuntimeError), claimed_output_folder(folder):
        raise RuntimeError("the work failed")
    assert not folder.exists()
    existing = tmp_path / "existing"
    existing.mkdir()
    with claimed_output_folder(existing):
        pass
    assert existing.is_dir() and not any(existing.iterdir())


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_claim_refuses_results_unless_overwriting(tmp_path, overwrite):
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "summary.csv").write_text("old")
    if overwrite:
        claim_output_folder(folder, overwrite=True)
        release_output_folder(folder)
    else:
        with pytest.raises(FileExistsError, match="already holds files"):
            claim_output_folder(folder)
    assert not (folder / CLAIM).exists()


def test_two_runs_into_one_folder_at_once_exactly_one_wins(tmp_path):
    out = tmp_path / "out"
    command = [str(SIMLIB), "run", str(BASELINE), *TINY, "--out", str(out)]
    for _ in range(3):
        processes = [
            subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)
        ]
        results = [(p.wait(300), *p.communicate()) for p in processes]
        codes = sorted(code for code, _, _ in results)
        assert codes == [0, 2], results
        loser = next(err for code, _, err in results if code == 2)
        assert len(loser.strip().splitlines()) == 1 and loser.startswith("error: ")
        assert "Traceback" not in loser
        assert sum("results written" in outp for _, outp, _ in results) == 1
        assert not (out / CLAIM).exists()
        for path in sorted(out.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        out.rmdir()


# --------------------------------------------------------------------------- 5. workers die with parent

POOL_SCRIPT = """
import sys, time
from simlib.run.executors import open_executor

def work(seconds):
    time.sleep(seconds)
    return seconds

if __name__ == "__main__":
    with open_executor(2) as pool:
        futures = [pool.submit(work, 60) for _ in range(4)]
        print("ready", flush=True)
        futures[0].result()
"""


def _children_of(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _gone_within(processes: list[psutil.Process], seconds: float) -> list[psutil.Process]:
    """The processes still alive (and not zombies) after ``seconds``."""
    deadline = time.monotonic() + seconds
    alive = processes
    while time.monotonic() < deadline:
        alive = [p for p in processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        if not alive:
            return []
        time.sleep(0.05)
    return alive


@pytest.mark.parametrize("signal_number", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_pool_workers_die_with_their_parent(tmp_path, signal_number):
    script = write(tmp_path / "pool.py", POOL_SCRIPT)
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert parent.stdout.readline().strip() == "ready"
    deadline = time.monotonic() + 20
    workers: list[psutil.Process] = []
    while len(workers) < 2 and time.monotonic() < deadline:
        workers = [p for p in _children_of(parent.pid) if "resource_tracker" not in " ".join(p.cmdline())]
        time.sleep(0.05)
    assert len(workers) >= 2
    parent.send_signal(signal_number)
    parent.wait(10)
    assert _gone_within(workers, 1.0) == []


def _running_simlib(out: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [str(SIMLIB), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


@pytest.mark.parametrize("signal_number", [signal.SIGKILL, signal.SIGTERM])
def test_simlib_run_leaves_no_worker_behind(tmp_path, signal_number):
    out = tmp_path / "out"
    process = _running_simlib(
        out,
        "run",
        str(BASELINE),
        "--customers",
        "400000",
        "--replications",
        "4",
        "--workers",
        "2",
        "--chunk-size",
        "50000",
        "--quiet",
        "--out",
        str(out),
    )
    deadline = time.monotonic() + 60
    workers: list[psutil.Process] = []
    while len(workers) < 2 and time.monotonic() < deadline:
        workers = _children_of(process.pid)
        time.sleep(0.1)
    assert len(workers) >= 2, "the pool did not start"
    time.sleep(0.5)
    process.send_signal(signal_number)
    _, stderr = process.communicate(timeout=30)
    assert _gone_within(workers, 1.0) == []
    if signal_number == signal.SIGTERM:
        assert process.returncode == 130 and stderr.strip().endswith("interrupted"), stderr
        assert "Traceback" not in stderr
    # Nothing was finished, nothing is left (a SIGKILL leaves only the claim, which is ignored).
    assert not out.exists() or [p.name for p in out.iterdir()] == [CLAIM]


@pytest.mark.parametrize("signal_number", [signal.SIGKILL, signal.SIGTERM])
def test_a_killed_batch_leaves_no_worker_or_kernel_behind(tmp_path, signal_number):
    out = tmp_path / "batch"
    process = _running_simlib(
        out,
        "batch",
        str(SHIPPED / "penalty_fee.yaml"),
        str(SHIPPED / "tiered_usage.yaml"),
        "--baseline",
        str(BASELINE),
        "--out",
        str(out),
        "--workers",
        "2",
        "--customers",
        "200000",
        "--replications",
        "20",
        "--quiet",
    )
    deadline = time.monotonic() + 120
    kernels: list[Path] = []
    while time.monotonic() < deadline and not kernels:
        kernels = list((out / ".in-progress").glob("*/kernel.pid")) if (out / ".in-progress").exists() else []
        time.sleep(0.1)
    assert kernels, "no kernel started"
    time.sleep(1.0)
    family = _children_of(process.pid)
    for pid_file in kernels:
        family.append(psutil.Process(int(pid_file.read_text())))
    assert family
    process.send_signal(signal_number)
    _, stderr = process.communicate(timeout=60)
    assert _gone_within(family, 1.0) == []
    time.sleep(1.0)  # and no worker starts a new kernel afterwards
    assert not [p for p in psutil.process_iter(["cmdline"]) if str(out) in " ".join(p.info["cmdline"] or [])]
    if signal_number == signal.SIGTERM:
        assert process.returncode == 130, stderr
        assert "Traceback" not in stderr
        assert "log: " not in stderr  # interrupted runs have no folder, so no log to point at


# --------------------------------------------------------------------------- 6. nothing left behind

STALE = [
    ".comparison.parquet.k2m9x_1q",
    ".manifest.json.abcdefgh",
    ".summary.csv.12345678",
    ".write-check.a1b2c3d4",
]
KEPT = [".lock", CLAIM, "comparison.csv", ".hidden", ".comparison.parquet.short", "notes.txt.abcdefgh"]


def test_stale_temporaries_are_removed_and_nothing_else(tmp_path):
    for name in [*STALE, *KEPT]:
        (tmp_path / name).write_text("x")
        write(tmp_path / "runs" / "r1" / name, "x")
    removed = remove_stale_temporaries(tmp_path)
    assert len(removed) == 2 * len(STALE)
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == sorted(KEPT)


def test_a_resumed_batch_folder_loses_its_stale_temporaries(tmp_path):
    from simlib.batch.folders import locked_batch_folder

    (tmp_path / "manifest.json").write_text("{}")
    for name in STALE:
        (tmp_path / name).write_text("half")
    with locked_batch_folder(tmp_path, resume=True):
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lock", "manifest.json"]


def test_an_interrupted_batch_points_at_no_log_that_does_not_exist(tmp_path, capsys):
    from simlib.batch.results import BatchOutcome
    from simlib.cli.batch import batch_report

    (tmp_path / "comparison.csv").write_text("scenario,run_id,metric\n")
    (tmp_path / "runs" / "done-1").mkdir(parents=True)
    (tmp_path / "runs" / "done-1" / "stderr.log").write_text("")
    outcome = BatchOutcome(tmp_path, interrupted=True)
    outcome.records = {
        "1": {
            "run_id": "1",
            "scenario": "done",
            "folder": "runs/done-1",
            "status": "failed",
            "error": "x",
            "log": "runs/done-1/stderr.log",
            "attempts": [],
        },
        "2": {
            "run_id": "2",
            "scenario": "cut",
            "folder": "runs/cut-2",
            "status": "interrupted",
            "error": "the batch was interrupted",
            "attempts": [],
        },
    }
    assert batch_report(outcome) == 130
    errors = capsys.readouterr().err
    assert f"log: {tmp_path / 'runs/done-1/stderr.log'}" in errors
    assert "cut-2" not in errors


UNWRITABLE = ["/proc/x/y.yaml", "/proc/y.yaml", "/dev/null/y.yaml", "FILE/y.yaml", "EXISTING", "/sys/y.png"]


@pytest.mark.parametrize("target", UNWRITABLE)
def test_output_files_are_checked_before_any_work_leaving_no_trace(tmp_path, target):
    (tmp_path / "file").write_text("x")
    (tmp_path / "existing.yaml").write_text("mine")
    path = Path(
        target.replace("FILE", str(tmp_path / "file")).replace("EXISTING", str(tmp_path / "existing.yaml"))
    )
    before = sorted(tmp_path.rglob("*"))
    with pytest.raises(FileExistsError) as caught:
        check_output_file(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)
    assert sorted(tmp_path.rglob("*")) == before
    assert (tmp_path / "existing.yaml").read_text() == "mine"


def test_check_output_file_leaves_no_folder_it_made(tmp_path):
    check_output_file(tmp_path / "a" / "b" / "c.yaml")
    assert not (tmp_path / "a").exists()


def test_files_written_together_are_all_or_none(tmp_path):
    def fails(path: str) -> None:
        raise OSError(28, "No space left on device", path)

    files = {
        tmp_path / "new" / "one.yaml": lambda p: Path(p).write_text("1"),
        tmp_path / "two.png": fails,
    }
    with pytest.raises(OSError):
        write_together(files)
    assert sorted(tmp_path.rglob("*")) == []
    write_together({tmp_path / "new" / "one.yaml": lambda p: Path(p).write_text("1")})
    assert (tmp_path / "new" / "one.yaml").read_text() == "1"


@pytest.mark.parametrize("target", ["/proc/x/y", "/dev/null/y"])
def test_calibrate_refuses_unwritable_outputs_before_fitting(tmp_path, target):
    started = time.monotonic()
    result = simlib_command(
        "calibrate", BASELINE, "--retention", HISTORY / "retention.csv", "--out", target, "--plot"
    )
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert target in result.stderr
    assert time.monotonic() - started < 30  # refused before the fit
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- 7. silently wrong results


@pytest.fixture
def three_segments(tmp_path: Path) -> Path:
    return write(
        tmp_path / "base.yaml",
        """
        population:
          segments:
            - {name: light, share: 0.3}
            - {name: standard, share: 0.5}
            - {name: heavy, share: 0.2}
        adjustment_rules:
          - {name: halve penalty, metric: complaints_per_1000, above: 10}
        """,
    )


SEGMENT_MISTAKES = [
    (
        "segments:\n    - {name: standrd, share: 0.5}",
        "population.segments[0].name",
        "did you mean 'standard'?",
    ),
    ("segments:\n    - {name: Heavy, share: 0.2}", "population.segments[0].name", "did you mean 'heavy'?"),
    ("segments:\n    - {name: premium, share: 0.1}", "population.segments[0].name", "no segment 'premium'"),
    (
        "segments:\n    - {name: light, share: 0.3}\n    - {name: light, share: 0.3}",
        "population.segments[1].name",
        "duplicate segment name",
    ),
    ("segments:\n    - {share: 1.0}", "population.segments[0]", "needs a name"),
    ("segments:\n    - {name: 7, share: 1.0}", "population.segments[0].name", "no segment 7"),
]


@pytest.mark.parametrize(("change", "key", "words"), SEGMENT_MISTAKES, ids=[c[2] for c in SEGMENT_MISTAKES])
def test_named_list_items_merge_by_name_or_fail_naming_the_item(three_segments, change, key, words):
    child = write(three_segments.parent / "child.yaml", f"extends: base.yaml\npopulation:\n  {change}\n")
    with pytest.raises(ScenarioError) as caught:
        load(child)
    lines = [str(p) for p in caught.value.problems]
    assert any(f": {key}: " in line and words in line for line in lines), lines
    assert not any("shares must sum to 1" in line for line in lines)


def test_rules_merge_by_name_too(three_segments):
    child = write(
        three_segments.parent / "child.yaml",
        "extends: base.yaml\nadjustment_rules:\n  - {name: halve penalti, above: 5}\n",
    )
    assert "did you mean 'halve penalty'?" in one_problem(child)
    fixed = write(
        three_segments.parent / "fixed.yaml",
        "extends: base.yaml\nadjustment_rules:\n  - {name: halve penalty, above: 5}\n",
    )
    assert load(fixed).adjustment_rules[0].above == 5


def test_replace_marks_a_list_that_replaces_the_parents(three_segments):
    child = write(
        three_segments.parent / "child.yaml",
        "extends: base.yaml\npopulation:\n  segments: !replace\n    - {name: everyone, share: 1.0}\n",
    )
    assert [s.name for s in load(child).population.segments] == ["everyone"]
    wrong = write(
        three_segments.parent / "wrong.yaml", "extends: base.yaml\nfees: !replace {monthly_fee: 2}\n"
    )
    assert "!replace marks a list" in one_problem(wrong)


NOT_NUMBERS = [".inf", "-.inf", ".nan", "1e308", "-1e308", "1e10", "true", "false", "yes", "on", "no"]
MONEY_AND_RATES = [
    "fees.monthly_fee",
    "fees.penalty_fee",
    "fees.setup_fee",
    "fees.bill_cap",
    "fees.transaction_fee_percent",
    "fees.usage_tiers[0].unit_price",
    "complaint_handling.capacity_per_1000_customers",
    "complaint_handling.regulator_case_fee",
    "compliance.fee_cap",
    "compliance.fine_per_breach",
    "population.segments[0].share",
    "population.segments[0].willingness_to_pay_median",
    "population.arrivals.market_reference_price",
    "behaviour.loss_aversion",
    "billing.error_rate",
    "simulation.customers",
    "simulation.discount_rate_annual",
]


@pytest.mark.parametrize("value", NOT_NUMBERS)
@pytest.mark.parametrize("key", MONEY_AND_RATES)
def test_money_and_rates_are_finite_bounded_numbers(key, value):
    with pytest.raises(ScenarioError) as caught:
        load(BASELINE, {key: yaml.safe_load(value)})
    # The bad key first (a share may also break "shares sum to 1", said after it).
    assert caught.value.problems[0].path == key, caught.value.problems


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"fee_changes[0].set.monthly_fee": True}, "must be a number, not true/false"),
        ({"fee_changes[0].set.monthly_fee": float("inf")}, "fee_changes[0].set.monthly_fee"),
        ({"fees.monthly_fee": 2_000_000}, "≤ 1,000,000"),
        ({"fees.transaction_fee_percent": 150}, "≤ 100"),
        (
            {"behaviour.loss_aversion": {"distribution": "uniform", "low": 1, "high": float("inf")}},
            "loss_aversion",
        ),
        ({"behaviour.loss_aversion": {"distribution": "uniform", "low": True, "high": 3}}, "not true/false"),
    ],
)
def test_numbers_inside_changes_and_distributions(tmp_path, change, words):
    path = write(
        tmp_path / "s.yaml",
        f"extends: {BASELINE}\nfee_changes:\n  - {{month: 3, set: {{monthly_fee: 27}}}}\n",
    )
    with pytest.raises(ScenarioError) as caught:
        load(path, change)
    assert words in str(caught.value)


@pytest.mark.parametrize("value", [20, 20.5, 0, "27.5"])
def test_ordinary_numbers_still_load(value):
    assert load(BASELINE, {"fees.monthly_fee": value}).fees.monthly_fee == float(value)


@pytest.mark.parametrize(
    ("sizes", "given", "expected"),
    [
        ({"customers": 5000}, {}, "customers 5000"),
        ({"months": 12, "replications": 3}, {}, "months 12, replications 3"),
        ({"seed": 1}, {}, "seed 1"),
        ({"customers": 5000}, {"customers": 1000}, None),
        ({}, {}, None),
    ],
)
def test_a_reform_is_told_which_of_its_sizes_are_not_used(sizes, given, expected):
    base = load(BASELINE)
    reform = base.with_changes({f"simulation.{k}": v for k, v in sizes.items()})
    note = unused_sizes(reform, base, given)
    if expected is None:
        assert note is None
    else:
        assert expected in note and "baseline's" in note


# --------------------------------------------------------------------------- 8. one line, not a traceback


def _symlink_loop(tmp_path: Path) -> Path:
    (tmp_path / "a.yaml").symlink_to(tmp_path / "b.yaml")
    (tmp_path / "b.yaml").symlink_to(tmp_path / "a.yaml")
    return tmp_path / "a.yaml"


def _fifo(tmp_path: Path) -> Path:
    os.mkfifo(tmp_path / "pipe.yaml")
    return tmp_path / "pipe.yaml"


def _deep(tmp_path: Path) -> Path:
    return write(tmp_path / "deep.yaml", "fees: " + "[" * 100_000 + "]" * 100_000 + "\n")


TRACEBACK_CASES = {
    "symlink_loop": lambda t: ("validate", _symlink_loop(t)),
    "symlink_loop_run": lambda t: ("run", _symlink_loop(t), *TINY),
    "deep_nesting": lambda t: ("validate", _deep(t)),
    "dev_zero_scenario": lambda t: ("describe", "/dev/zero"),
    "batch_out_proc": lambda t: (
        "batch",
        SHIPPED / "penalty_fee.yaml",
        "--baseline",
        BASELINE,
        "--out",
        "/proc/x",
    ),
    "run_out_proc": lambda t: ("run", BASELINE, *TINY, "--out", "/proc/x"),
    "compare_out_dev_null": lambda t: (
        "compare",
        BASELINE,
        SHIPPED / "penalty_fee.yaml",
        *TINY,
        "--out",
        "/dev/null/x",
    ),
    "sweep_out_proc": lambda t: (
        "sweep",
        BASELINE,
        "--grid",
        "fees.monthly_fee=20,25",
        "--out",
        "/proc/x",
        *TINY,
    ),
    "calibrate_out_proc": lambda t: (
        "calibrate",
        BASELINE,
        "--retention",
        HISTORY / "retention.csv",
        "--out",
        "/proc/x/y",
    ),
    "calibrate_retention_dev_zero": lambda t: (
        "calibrate",
        BASELINE,
        "--retention",
        "/dev/zero",
        "--out",
        t / "y",
    ),
    "set_extends": lambda t: ("describe", BASELINE, "--set", "extends=/etc/passwd"),
    "optimize_out_proc": lambda t: (
        "optimize",
        BASELINE,
        "--lever",
        "fees.monthly_fee=20:30",
        "--out",
        "/proc/x",
    ),
    "sensitivity_out_proc": lambda t: ("sensitivity", BASELINE, "--out", "/proc/x/y", "--samples", "2"),
    "fifo_scenario": lambda t: ("validate", _fifo(t)),
}


@pytest.mark.parametrize("case", sorted(TRACEBACK_CASES))
def test_os_and_memory_errors_are_one_line_and_write_nothing(tmp_path, case):
    args = TRACEBACK_CASES[case](tmp_path)
    before = sorted(tmp_path.rglob("*"))
    result = simlib_command(*args, timeout=120)
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert sorted(tmp_path.rglob("*")) == before


# --------------------------------------------------------------------------- 9. rough edges


@pytest.mark.parametrize("command", ["sweep", "optimize", "sensitivity", "run", "compare"])
def test_every_command_that_advises_force_has_it(command):
    assert "--force" in simlib_command(command, "--help").stdout


def test_sweep_into_a_folder_with_results_names_force(tmp_path):
    out = tmp_path / "sweep"
    out.mkdir()
    (out / "sweep.csv").write_text("old")
    refused = simlib_command("sweep", BASELINE, "--grid", "fees.monthly_fee=20,25", "--out", out, *TINY)
    assert refused.returncode == 2 and "--force" in refused.stderr
    assert (out / "sweep.csv").read_text() == "old"


@pytest.mark.parametrize(
    "grid",
    [
        ("fees.monthly_fee=-5,20",),
        ("fees.monthly_fee=abc",),
        ("fees.montly_fee=20",),
        ("fees.monthly_fee=.inf",),
        ("fees.monthly_fee=true",),
        ("fees.monthly_fee=" + ",".join(map(str, range(1001))),),
        (
            "fees.monthly_fee=" + ",".join(map(str, range(100))),
            "fees.penalty_fee=" + ",".join(map(str, range(100))),
        ),
    ],
    ids=["negative", "text", "typo", "inf", "bool", "1001", "100x100"],
)
def test_sweep_refuses_bad_or_huge_grids_without_creating_out(tmp_path, grid):
    out = tmp_path / "new" / "sweep"
    args = [a for g in grid for a in ("--grid", g)]
    result = simlib_command("sweep", BASELINE, *args, "--out", out, *TINY)
    assert result.returncode == 2, result.stderr
    assert not (tmp_path / "new").exists()
    assert "np.str_" not in result.stderr


def test_a_huge_grid_names_max_variants():
    result = simlib_command(
        "sweep",
        BASELINE,
        "--grid",
        "fees.monthly_fee=" + ",".join(map(str, range(1001))),
        "--out",
        "/nonexistent",
    )
    assert "--max-variants" in result.stderr


@pytest.mark.parametrize(
    "value", [np.str_("gremlins"), np.float64(1.5), np.int64(3), "gremlins", np.bool_(True)], ids=repr
)
def test_values_are_shown_plainly(value):
    shown = show_value(value)
    assert "np." not in shown and "numpy" not in shown


@pytest.mark.parametrize("key", ["extends", "extends.x", "extends[0]"])
def test_set_extends_says_what_to_do(key):
    with pytest.raises(ScenarioError) as caught:
        load(BASELINE, {key: "other.yaml"})
    line = str(caught.value)
    assert "cannot be overridden" in line and "did you mean" not in line


@pytest.mark.parametrize(
    "name",
    ["😀", "fee 🎉 plan", "✅ ok", "☃", "🇨🇳", "👩\u200d💻", "x\ufe0f", "\U0001fa90", "\ue000private"],
    ids=repr,
)
def test_names_a_briefing_cannot_draw_are_refused_at_validation(tmp_path, name):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"name": name, "fees": {"monthly_fee": 20}}, allow_unicode=True))
    line = one_problem(path)
    assert ": name: " in line


def test_progress_is_not_redrawn_every_second_into_a_log(tmp_path):
    result = simlib_command("run", BASELINE, "--customers", "100000", "--replications", "4", "--months", "24")
    assert result.returncode == 0, result.stderr
    # Each redraw writes "NN%|"; with tqdm's default (every 0.1 s) this run writes dozens.
    assert result.stderr.count("%|") <= 3, result.stderr


@pytest.mark.parametrize("where", ["policy", "segment", "title"])
def test_a_briefing_that_cannot_draw_a_name_says_whose_name(where):
    from simlib.report.briefing import fonts_for_owners
    from simlib.style.charts import MissingFontError

    odd = "fee \u16a0 plan"  # a rune: valid text, but no font of the briefing draws it
    owners = {
        "the title": odd if where == "title" else "Fee briefing",
        "scenario 'penalty_fee'": odd if where == "policy" else "€12 failed-payment fee",
        "segment 'light'": odd if where == "segment" else "light",
    }
    with pytest.raises(MissingFontError) as caught:
        fonts_for_owners("en", owners)
    expected = {"policy": "scenario 'penalty_fee'", "segment": "segment 'light'", "title": "the title"}[where]
    assert expected in str(caught.value)
    assert fonts_for_owners("en", {**owners, **{k: "plain" for k in owners}})  # the check can pass


def _hold_batch_lock(folder: str, ready, done) -> None:
    from simlib.batch.folders import locked_batch_folder

    with locked_batch_folder(Path(folder), resume=False):
        (Path(folder) / "manifest.json").write_text("{}")
        ready.set()
        done.wait(10)


def test_two_batches_in_one_folder_one_refused_either_way(tmp_path):
    from simlib.batch.folders import locked_batch_folder, prepare_folder
    from simlib.errors import InputError

    context = multiprocessing.get_context("fork")
    ready, done = context.Event(), context.Event()
    prepare_folder(tmp_path, resume=False, force=False)  # both see an empty folder ...
    holder = context.Process(target=_hold_batch_lock, args=(str(tmp_path), ready, done))
    holder.start()
    assert ready.wait(10)
    with pytest.raises(InputError, match="being written"), locked_batch_folder(tmp_path, resume=False):
        pass  # ... while the first runs, the second is refused
    done.set()
    holder.join(10)
    refused = pytest.raises(InputError, match="already holds a batch")
    with refused, locked_batch_folder(tmp_path, resume=False):
        pass  # ... and once it has finished, the second still does not write into its batch

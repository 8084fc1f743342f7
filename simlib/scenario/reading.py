"""Reading one scenario file safely: bounded, strict YAML, and which files ``extends`` may name.

A file is refused before it is parsed when it is not a small regular UTF-8 file, and before anything
is built when its YAML is nested too deep, uses too many aliases or expands too far
(docs/model.md, "Scenario files"). Every failure is one line naming the file; the text of a file
that is not a scenario is never quoted.
"""

from __future__ import annotations

import difflib
import os
import stat
from pathlib import Path
from typing import Any

import yaml

from simlib.errors import Problem, ScenarioError, os_problem, show_value
from simlib.model.parameters import ScenarioModel
from simlib.resources import shipped_scenarios

#: Limits of a scenario file, checked before it is parsed (docs/model.md, "Scenario files").
MAX_FILE_BYTES = 1 << 20
MAX_DEPTH = 20
MAX_ALIASES = 100
MAX_NODES = 100_000
#: Where ``extends`` may also point, besides the naming file's own folder tree: the shipped
#: scenarios, and the folders in this variable (separated by os.pathsep) or given with
#: ``simlib --scenario-root DIR``.
ROOTS_VARIABLE = "SIMLIB_SCENARIO_ROOTS"
SCENARIO_SUFFIXES = (".yaml", ".yml")


class StrictLoader(yaml.SafeLoader):
    """Safe YAML that rejects a key stated twice in one mapping (plain YAML silently keeps the last)."""


def _construct_mapping_once(loader: StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    """A mapping, or a YAML error at the second occurrence of a repeated key."""
    first_line: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor` may be overridden, by design
            continue
        key = loader.construct_object(key_node, deep=deep)
        try:
            if key in first_line:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"key {key!r} is stated twice (first on line {first_line[key] + 1})",
                    key_node.start_mark,
                )
            first_line[key] = key_node.start_mark.line
        except TypeError:  # an unhashable key: the safe constructor reports it
            break
    return loader.construct_mapping(node, deep=deep)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping_once)

REPLACE_TAG = "!replace"


class ReplacedList(list):
    """A list a child file marks ``!replace``: it replaces the parent's list whole instead of
    merging into it by name."""


def _construct_replaced(loader: StrictLoader, node: yaml.Node) -> ReplacedList:
    if not isinstance(node, yaml.SequenceNode):
        raise yaml.constructor.ConstructorError(
            None, None, f"{REPLACE_TAG} marks a list (- items)", node.start_mark
        )
    return ReplacedList(loader.construct_sequence(node, deep=True))


StrictLoader.add_constructor(REPLACE_TAG, _construct_replaced)


def file_problem(path: Path, message: str, key: str = "") -> ScenarioError:
    """A one-line error naming the file (and the key, if any)."""
    return ScenarioError([Problem(str(path), key, message)])


def _read_text(path: Path) -> str:
    """The file's text, refused before reading when it is not a small regular UTF-8 file."""
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise file_problem(path, "is a folder, not a scenario file")
        if not stat.S_ISREG(info.st_mode):
            raise file_problem(path, "not a regular file (a device, pipe or socket cannot be a scenario)")
        if info.st_size > MAX_FILE_BYTES:
            raise file_problem(
                path, f"is {_size(info.st_size)}; a scenario file may be at most {_size(MAX_FILE_BYTES)}"
            )
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise file_problem(path, "file not found") from None
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop on some Pythons
        raise file_problem(path, f"cannot be read: {os_problem(exc)}") from None
    if len(data) > MAX_FILE_BYTES:  # grew since stat
        raise file_problem(path, f"is larger than {_size(MAX_FILE_BYTES)}, the limit for a scenario file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise file_problem(path, "not a UTF-8 text file") from None


def _size(count: int) -> str:
    return f"{count / 2**20:.3g} MiB" if count >= 2**20 else f"{count:,} bytes"


def _check_shape(text: str, path: Path) -> None:
    """Refuse, before building anything, YAML nested deeper than :data:`MAX_DEPTH`, with more than
    :data:`MAX_ALIASES` aliases, or expanding to more than :data:`MAX_NODES` values.

    Walks the event stream (the parser is iterative, so nothing here can recurse): an alias counts
    as the whole node it repeats, so a "billion laughs" bomb is refused after a few hundred bytes
    instead of filling the memory.
    """
    loader = StrictLoader(text)
    try:
        depth = aliases = 0
        sizes: dict[str, int] = {}
        open_nodes: list[list[Any]] = [[0, None]]  # [values so far, anchor] per open collection
        while loader.check_event():
            event = loader.get_event()
            line = event.start_mark.line + 1 if event.start_mark else 0
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise file_problem(path, f"nested more than {MAX_DEPTH} levels deep (line {line})")
                open_nodes.append([1, event.anchor])
                if event.anchor is not None:
                    sizes.pop(event.anchor, None)  # redefined: unknown until the node is closed
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
                count, anchor = open_nodes.pop()
                if anchor is not None:
                    sizes[anchor] = count
                open_nodes[-1][0] += count
            elif isinstance(event, yaml.ScalarEvent):
                open_nodes[-1][0] += 1
                if event.anchor is not None:
                    sizes[event.anchor] = 1
            elif isinstance(event, yaml.AliasEvent):
                if event.anchor in {anchor for _, anchor in open_nodes}:
                    raise file_problem(path, f"a YAML alias refers to the node it is inside (line {line})")
                aliases += 1
                if aliases > MAX_ALIASES:
                    raise file_problem(
                        path, f"uses more than {MAX_ALIASES} YAML aliases (*name); write the values out"
                    )
                open_nodes[-1][0] += sizes.get(event.anchor, 1)
            if sum(count for count, _ in open_nodes) > MAX_NODES:
                raise file_problem(
                    path,
                    f"expands to more than {MAX_NODES:,} values (line {line}); YAML aliases repeat too much",
                )
    finally:
        loader.dispose()


def _yaml_problem(exc: yaml.YAMLError, text: str, path: Path) -> ScenarioError:
    """A YAML syntax error as one line with its position; the file's text is never quoted."""
    mark = getattr(exc, "problem_mark", None)
    position = getattr(exc, "position", None)  # a ReaderError (bad character) has no mark
    if mark is not None:
        where = f"line {mark.line + 1}, column {mark.column + 1}"
    elif position is not None:
        before = text[:position]
        where = f"line {before.count(chr(10)) + 1}, column {position - before.rfind(chr(10))}"
    else:
        where = "unknown position"
    reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return file_problem(path, f"not valid YAML at {where}: {reason}")


def _kind(value: Any) -> str:
    """What a value is, in words: error lines about a file that is not a scenario never quote it."""
    if isinstance(value, str):
        return "text"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"


def read_yaml(path: Path) -> dict[str, Any]:
    """A scenario file's mapping; every way it can fail is one line naming the file, never quoting a
    file that is not a scenario."""
    text = _read_text(path)
    try:
        _check_shape(text, path)
        data = yaml.load(text, Loader=StrictLoader)  # a SafeLoader: no arbitrary objects
    except yaml.YAMLError as exc:
        raise _yaml_problem(exc, text, path) from None
    except (RecursionError, MemoryError) as exc:
        raise file_problem(path, f"cannot be read: {os_problem(exc)}") from None
    if data is None or data == {}:
        raise file_problem(
            path,
            "holds no settings (empty, or only comments); a scenario needs at least "
            "`extends:` or one section",
        )
    if not isinstance(data, dict):
        raise file_problem(path, f"expected a mapping of keys at the top, got {_kind(data)}")
    known = set(ScenarioModel.model_fields) | {"extends"}
    keys = [k for k in data if isinstance(k, str)]
    if not any(k in known or difflib.get_close_matches(k, known, n=1, cutoff=0.6) for k in keys):
        raise file_problem(
            path,
            "not a scenario file: no top-level key is a scenario section (such as extends, fees, population)",
        )
    return data


def scenario_roots() -> list[Path]:
    """Folders ``extends`` may reach outside the naming file's own folder tree: the shipped
    scenarios and those listed in ``SIMLIB_SCENARIO_ROOTS``."""
    roots = [shipped_scenarios()]
    for entry in os.environ.get(ROOTS_VARIABLE, "").split(os.pathsep):
        if entry.strip():
            roots.append(Path(entry.strip()).expanduser())
    out = []
    for root in roots:
        try:
            out.append(root.resolve(strict=True))
        except (OSError, RuntimeError):
            continue  # a root that does not exist allows nothing
    return out


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def real_path(path: Path) -> Path:
    """The file behind every symbolic link; a loop or a dangling link is one line."""
    try:
        return path.resolve(strict=True)
    except FileNotFoundError:
        raise file_problem(path, "file not found") from None
    except (OSError, RuntimeError) as exc:
        raise file_problem(path, f"cannot be read: {os_problem(exc)}") from None


def parent_file(path: Path, name: Any) -> Path:
    """The file an ``extends`` names, if the rule allows it (docs/model.md, "Scenario files"):
    a ``.yaml``/``.yml`` file, named relative to the naming file, inside that file's folder tree
    or inside an allowed scenarios root (symbolic links followed before checking). An absolute
    path is accepted only inside an allowed root."""
    if not isinstance(name, str) or not name.strip():
        raise file_problem(path, f"must be a file name, got {show_value(name)}", "extends")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise file_problem(path, "must be a file name without control characters", "extends")
    target = Path(name)
    if target.suffix.lower() not in SCENARIO_SUFFIXES:
        raise file_problem(
            path, f"must name a .yaml or .yml scenario file (got {show_value(name)})", "extends"
        )
    roots = scenario_roots()
    home = real_path(path).parent
    candidate = path.parent / target
    try:
        exists = candidate.is_file()
        real = candidate.resolve(strict=exists)
    except (OSError, RuntimeError) as exc:
        raise file_problem(
            path, f"parent scenario {name!r} cannot be read: {os_problem(exc)}", "extends"
        ) from None
    allowed = any(_inside(real, root) for root in roots)
    if not allowed and (target.is_absolute() or not _inside(real, home)):
        where = "an absolute path" if target.is_absolute() else "outside this file's folder"
        raise file_problem(
            path,
            f"parent scenario {name!r} is {where}; extends may name only files in this file's folder "
            f"tree or in an allowed scenarios root (simlib --scenario-root DIR, or {ROOTS_VARIABLE})",
            "extends",
        )
    if not exists:
        raise file_problem(path, f"parent scenario {name!r} not found", "extends")
    return candidate

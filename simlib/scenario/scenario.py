"""Scenario files: safe loading, `extends` inheritance, overrides, validation and provenance.

A scenario file is YAML. It may say ``extends: baseline.yaml`` and then hold only what it changes.
Loading resolves the whole chain, applies ``--set`` overrides, validates everything at once and
returns an immutable :class:`Scenario` that remembers where each parameter came from. Errors are
collected into a :class:`~simlib.errors.ScenarioError`: one line per problem, naming the file, the
key path and the bad value, with the closest valid key for a typo.
"""

from __future__ import annotations

import copy
import difflib
import itertools
import json
import math
import os
import stat
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from simlib.errors import Problem, ScenarioError, os_problem, show_value
from simlib.keypaths import split_key_path
from simlib.model.distributions import (
    Beta,
    DistributionBase,
    Empirical,
    LogNormal,
    MultivariateLogNormal,
    MultivariateNormal,
    Normal,
    Triangular,
    Uniform,
)
from simlib.model.parameters import Fees, ScenarioModel, fee_schedule_after
from simlib.resources import shipped_scenarios
from simlib.scenario.uncertainty import FIELD as JOINT_FIELD
from simlib.scenario.uncertainty import display as joint_display
from simlib.scenario.uncertainty import (
    joint_paths,
    joint_problems,
    joint_values,
    override_problems,
    set_value,
)

DEFAULT = "default"
COMMAND_LINE = "command line"
_MAX_EXTENDS_DEPTH = 16

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


@dataclass(frozen=True)
class Parameter:
    """One resolved leaf parameter, as `describe` shows it."""

    path: str
    value: Any
    unit: str
    label: str
    source: str | None
    origin: str


class Scenario:
    """A resolved, validated, immutable scenario.

    Use :func:`load` to read one from a file and :meth:`with_changes` to derive a reform.
    """

    __slots__ = ("_model", "_origins", "_path")

    def __init__(self, model: ScenarioModel, origins: Mapping[str, str], path: Path | None):
        object.__setattr__(self, "_model", model)
        object.__setattr__(self, "_origins", types.MappingProxyType(dict(origins)))
        object.__setattr__(self, "_path", path)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Scenario is immutable: use with_changes() to derive a new one")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Scenario is immutable: use with_changes() to derive a new one")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            # Private and special names are not parameters; forwarding them would let copy.deepcopy
            # find the model's __deepcopy__ and hand back a ScenarioModel instead of a Scenario.
            raise AttributeError(name)
        return getattr(self._model, name)

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuild through __init__: __setattr__ refuses the default slot-by-slot restore.
        return (Scenario, (self._model, dict(self._origins), self._path))

    def __repr__(self) -> str:
        return f"Scenario(name={self.name!r}, path={str(self._path) if self._path else None!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Scenario) and self._model == other._model

    def __hash__(self) -> int:
        return hash(self.fingerprint())

    @property
    def model(self) -> ScenarioModel:
        """The underlying pydantic model (frozen)."""
        return self._model

    @property
    def path(self) -> Path | None:
        """The file the scenario was loaded from, if any."""
        return self._path

    @property
    def origins(self) -> Mapping[str, str]:
        """Where each explicitly given parameter came from (file name or 'command line')."""
        return self._origins

    def as_dict(self) -> dict[str, Any]:
        """The resolved scenario as plain data (JSON-compatible)."""
        return self._model.model_dump(mode="json")

    def fingerprint(self) -> str:
        """A stable hash of the resolved parameters (names and labels excluded)."""
        import hashlib

        data = self.as_dict()
        for key in ("name", "label", "description"):
            data.pop(key, None)
        for segment in data["population"]["segments"]:  # segment labels are wording too
            segment.pop("label", None)
        text = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def with_changes(self, changes: Mapping[str, Any], origin: str = COMMAND_LINE) -> Scenario:
        """A new scenario with ``{"key.path": value}`` changes applied and validated.

        Raises :class:`ScenarioError` if a path is unknown or a value invalid.
        """
        raw = self.as_dict()
        origins = dict(self._origins)
        problems: list[Problem] = []
        for key, value in changes.items():
            problems += _apply_override(raw, key, value, origin, origins)
        source = origin if origin != COMMAND_LINE else "--set"
        if problems:
            raise ScenarioError(problems)
        changed = _validate(raw, origins, source, self._path)
        problems = override_problems(changed.model, list(changes), source)
        if problems:
            raise ScenarioError(problems)
        return changed

    def parameters(self) -> Iterator[Parameter]:
        """Every resolved leaf parameter with unit, label, source and origin; a joint block is one
        entry (``joint_uncertainty[i]``), and a parameter it draws says so after its stated number."""
        drawn = joint_paths(self._model)
        for parameter in _walk(self._model, "", self._origins, self.simulation.currency):
            if parameter.path in drawn:
                stated = parameter.value
                stated = f"{stated:.12g}" if isinstance(stated, float) else stated
                parameter = replace(parameter, value=f"{stated} (drawn jointly: {drawn[parameter.path]})")
            yield parameter

    def realise(self, replication: int, seed: int | None = None) -> ScenarioModel:
        """The scenario with every distribution replaced by its draw for one replication."""
        seed = self.simulation.seed if seed is None else seed
        data = self._model.model_dump(mode="python")
        _sample_into(data, "", self._model, seed, replication)
        for path, value in joint_values(self._model, seed, replication).items():
            set_value(data, path, value)
        data[JOINT_FIELD] = ()
        try:
            return ScenarioModel.model_validate(data)
        except ValidationError as exc:
            raise ScenarioError(_pydantic_problems(exc, f"{self.name} (replication draw)")) from None


def load(path: str | Path, overrides: Mapping[str, Any] | None = None) -> Scenario:
    """Load, resolve and validate a scenario file.

    Parameters
    ----------
    path : the YAML file. ``extends`` paths are relative to the file that names them.
    overrides : optional ``{"key.path": value}`` applied after inheritance (like ``--set``).

    Raises
    ------
    ScenarioError
        With one problem per line; nothing is run and nothing is written.
    """
    path = Path(path)
    raw, origins = _resolve(path, depth=0, chain=())
    raw.setdefault("name", path.stem)
    problems: list[Problem] = []
    for key, value in (overrides or {}).items():
        problems += _apply_override(raw, key, value, COMMAND_LINE, origins)
    if problems:
        raise ScenarioError(problems)
    scenario = _validate(raw, origins, str(path), path)
    problems = override_problems(scenario.model, list(overrides or {}), "--set")
    if problems:
        raise ScenarioError(problems)
    return scenario


def from_dict(data: Mapping[str, Any], name: str = "scenario") -> Scenario:
    """Build a scenario from a mapping (as a YAML file would hold it, without `extends`)."""
    raw = copy.deepcopy(dict(data))
    raw.setdefault("name", name)
    origins = {leaf: "mapping" for leaf in _leaf_paths(raw, "")}
    return _validate(raw, origins, f"<{name}>", None)


def parse_assignment(text: str) -> tuple[str, Any]:
    """Parse ``key.path=value`` from the command line; the value is read as YAML (safely)."""
    if "=" not in text:
        raise ScenarioError([Problem("--set", text, "expected key.path=value, e.g. fees.monthly_fee=27.5")])
    key, _, value_text = text.partition("=")
    try:
        value = yaml.safe_load(value_text) if value_text.strip() else None
    except yaml.YAMLError:
        value = value_text
    return key.strip(), value


def json_schema() -> dict[str, Any]:
    """JSON Schema of scenario files (for editor completion); `extends` is allowed at the top."""
    schema = ScenarioModel.model_json_schema()
    schema["properties"]["extends"] = {
        "type": "string",
        "description": "Path of the scenario this one modifies (relative to this file)",
    }
    schema["title"] = "simlib scenario"
    # `fee_changes[].set` holds keys of `fees` (validated by fee_schedule_after); typed here so that
    # editors complete and check them like `fees` itself, with no defaults (unset keys keep theirs).
    fees = schema["$defs"]["Fees"]["properties"]
    change = schema["$defs"]["FeeChange"]["properties"]["set"]
    change["properties"] = {
        key: {k: v for k, v in spec.items() if k != "default"} for key, spec in fees.items()
    }
    change["additionalProperties"] = False
    change.pop("unit", None)
    return schema


def diff(base: Scenario, other: Scenario) -> list[tuple[Parameter, Parameter | None]]:
    """Parameters whose values differ (the reform documentation), in schema order.

    Returns pairs (base parameter, other parameter); a list item present in only one scenario has
    ``None`` on the other side, or on the base side a stand-in with value ``None`` and origin "absent".
    """
    base_params = {p.path: p for p in base.parameters() if p.path not in _IDENTITY}
    other_params = {p.path: p for p in other.parameters() if p.path not in _IDENTITY}
    out: list[tuple[Parameter, Parameter | None]] = []
    for path, param in base_params.items():
        counterpart = other_params.get(path)
        if counterpart is None or counterpart.value != param.value:
            out.append((param, counterpart))
    for path, param in other_params.items():
        if path not in base_params:
            out.append((_missing(path, param), param))
    return out


_IDENTITY = {"name", "label", "description"}
_SIZES = ("customers", "months", "replications", "seed")


def unused_sizes(reform: Scenario, base: Scenario, given: Mapping[str, Any]) -> str | None:
    """One line saying which of a reform's own ``simulation`` sizes a paired run does not use.

    A reform is simulated on the baseline's customers and draws, so the baseline's sizes (or those
    ``given`` on the command line) apply to both; a reform file stating other sizes is told so
    rather than silently overruled. None when nothing is overruled.
    """
    mine, theirs = reform.simulation, base.simulation
    differ = [k for k in _SIZES if given.get(k) is None and getattr(mine, k) != getattr(theirs, k)]
    if not differ:
        return None
    stated = ", ".join(f"{k} {getattr(mine, k)}" for k in differ)
    used = ", ".join(f"{k} {getattr(theirs, k)}" for k in differ)
    return (
        f"{reform.name} states simulation {stated}, but it is paired with the baseline on the same "
        f"customers and draws, so the baseline's {used} are used (set them with "
        + ", ".join(f"--{k}" for k in differ)
        + ")"
    )


def _missing(path: str, like: Parameter) -> Parameter:
    return Parameter(path, None, like.unit, like.label, like.source, "absent")


# --------------------------------------------------------------------------- resolution


class _StrictLoader(yaml.SafeLoader):
    """Safe YAML that rejects a key stated twice in one mapping (plain YAML silently keeps the last)."""


def _construct_mapping_once(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
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


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping_once)

REPLACE_TAG = "!replace"


class ReplacedList(list):
    """A list a child file marks ``!replace``: it replaces the parent's list whole instead of
    merging into it by name."""


def _construct_replaced(loader: _StrictLoader, node: yaml.Node) -> ReplacedList:
    if not isinstance(node, yaml.SequenceNode):
        raise yaml.constructor.ConstructorError(
            None, None, f"{REPLACE_TAG} marks a list (- items)", node.start_mark
        )
    return ReplacedList(loader.construct_sequence(node, deep=True))


_StrictLoader.add_constructor(REPLACE_TAG, _construct_replaced)


def _problem(path: Path, message: str, key: str = "") -> ScenarioError:
    return ScenarioError([Problem(str(path), key, message)])


def _read_text(path: Path) -> str:
    """The file's text, refused before reading when it is not a small regular UTF-8 file."""
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise _problem(path, "is a folder, not a scenario file")
        if not stat.S_ISREG(info.st_mode):
            raise _problem(path, "not a regular file (a device, pipe or socket cannot be a scenario)")
        if info.st_size > MAX_FILE_BYTES:
            raise _problem(
                path, f"is {_size(info.st_size)}; a scenario file may be at most {_size(MAX_FILE_BYTES)}"
            )
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise _problem(path, "file not found") from None
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop on some Pythons
        raise _problem(path, f"cannot be read: {os_problem(exc)}") from None
    if len(data) > MAX_FILE_BYTES:  # grew since stat
        raise _problem(path, f"is larger than {_size(MAX_FILE_BYTES)}, the limit for a scenario file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise _problem(path, "not a UTF-8 text file") from None


def _size(count: int) -> str:
    return f"{count / 2**20:.3g} MiB" if count >= 2**20 else f"{count:,} bytes"


def _check_shape(text: str, path: Path) -> None:
    """Refuse, before building anything, YAML nested deeper than :data:`MAX_DEPTH`, with more than
    :data:`MAX_ALIASES` aliases, or expanding to more than :data:`MAX_NODES` values.

    Walks the event stream (the parser is iterative, so nothing here can recurse): an alias counts
    as the whole node it repeats, so a "billion laughs" bomb is refused after a few hundred bytes
    instead of filling the memory.
    """
    loader = _StrictLoader(text)
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
                    raise _problem(path, f"nested more than {MAX_DEPTH} levels deep (line {line})")
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
                    raise _problem(path, f"a YAML alias refers to the node it is inside (line {line})")
                aliases += 1
                if aliases > MAX_ALIASES:
                    raise _problem(
                        path, f"uses more than {MAX_ALIASES} YAML aliases (*name); write the values out"
                    )
                open_nodes[-1][0] += sizes.get(event.anchor, 1)
            if sum(count for count, _ in open_nodes) > MAX_NODES:
                raise _problem(
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
    return _problem(path, f"not valid YAML at {where}: {reason}")


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


def _read_yaml(path: Path) -> dict[str, Any]:
    """A scenario file's mapping; every way it can fail is one line naming the file, never quoting a
    file that is not a scenario."""
    text = _read_text(path)
    try:
        _check_shape(text, path)
        data = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader: no arbitrary objects
    except yaml.YAMLError as exc:
        raise _yaml_problem(exc, text, path) from None
    except (RecursionError, MemoryError) as exc:
        raise _problem(path, f"cannot be read: {os_problem(exc)}") from None
    if data is None or data == {}:
        raise _problem(
            path,
            "holds no settings (empty, or only comments); a scenario needs at least "
            "`extends:` or one section",
        )
    if not isinstance(data, dict):
        raise _problem(path, f"expected a mapping of keys at the top, got {_kind(data)}")
    known = set(ScenarioModel.model_fields) | {"extends"}
    keys = [k for k in data if isinstance(k, str)]
    if not any(k in known or difflib.get_close_matches(k, known, n=1, cutoff=0.6) for k in keys):
        raise _problem(
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


def _real(path: Path) -> Path:
    """The file behind every symbolic link; a loop or a dangling link is one line."""
    try:
        return path.resolve(strict=True)
    except FileNotFoundError:
        raise _problem(path, "file not found") from None
    except (OSError, RuntimeError) as exc:
        raise _problem(path, f"cannot be read: {os_problem(exc)}") from None


def _parent_file(path: Path, name: Any) -> Path:
    """The file an ``extends`` names, if the rule allows it (docs/model.md, "Scenario files"):
    a ``.yaml``/``.yml`` file, named relative to the naming file, inside that file's folder tree
    or inside an allowed scenarios root (symbolic links followed before checking). An absolute
    path is accepted only inside an allowed root."""
    if not isinstance(name, str) or not name.strip():
        raise _problem(path, f"must be a file name, got {show_value(name)}", "extends")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise _problem(path, "must be a file name without control characters", "extends")
    target = Path(name)
    if target.suffix.lower() not in SCENARIO_SUFFIXES:
        raise _problem(path, f"must name a .yaml or .yml scenario file (got {show_value(name)})", "extends")
    roots = scenario_roots()
    home = _real(path).parent
    candidate = path.parent / target
    try:
        exists = candidate.is_file()
        real = candidate.resolve(strict=exists)
    except (OSError, RuntimeError) as exc:
        raise _problem(
            path, f"parent scenario {name!r} cannot be read: {os_problem(exc)}", "extends"
        ) from None
    allowed = any(_inside(real, root) for root in roots)
    if not allowed and (target.is_absolute() or not _inside(real, home)):
        where = "an absolute path" if target.is_absolute() else "outside this file's folder"
        raise _problem(
            path,
            f"parent scenario {name!r} is {where}; extends may name only files in this file's folder "
            f"tree or in an allowed scenarios root (simlib --scenario-root DIR, or {ROOTS_VARIABLE})",
            "extends",
        )
    if not exists:
        raise _problem(path, f"parent scenario {name!r} not found", "extends")
    return candidate


def _resolve(path: Path, depth: int, chain: tuple[Path, ...]) -> tuple[dict, dict[str, str]]:
    resolved = _real(path)
    if resolved in chain:
        names = " → ".join(p.name for p in (*chain, resolved))
        raise _problem(path, f"circular inheritance: {names}", "extends")
    if depth > _MAX_EXTENDS_DEPTH:
        raise _problem(path, "inheritance chain is too deep", "extends")
    data = _read_yaml(path)
    parent_name = data.pop("extends", None)
    if parent_name is None:
        return data, {leaf: path.name for leaf in _leaf_paths(data, "")}
    parent_path = _parent_file(path, parent_name)
    base, origins = _resolve(parent_path, depth + 1, (*chain, resolved))
    base.pop("name", None)
    base.pop("label", None)
    base.pop("description", None)
    origins = {k: v for k, v in origins.items() if k not in _IDENTITY}
    problems = _merge_problems(base, data, "", str(path))
    if problems:
        raise ScenarioError(problems)
    merged = _merge(base, data)
    stated, replaced = _stated_paths(base, data, "")
    for covered in (*replaced, *stated):
        origins = {k: v for k, v in origins.items() if not _covers(covered, k)}
    origins.update(dict.fromkeys(stated, path.name))
    return merged, origins


def _stated_paths(base: Any, change: Any, prefix: str) -> tuple[list[str], list[str]]:
    """The leaf paths a child file states, numbered as in the merged result, and the lists it replaces.

    Named items merged into the parent's list keep the parent's position, so their leaves must be
    numbered by that position, not by where the child happens to list them.
    """
    if isinstance(change, dict) and change and not _looks_like_distribution(change):
        stated: list[str] = []
        replaced: list[str] = []
        for key, value in change.items():
            child = base.get(key) if isinstance(base, dict) else None
            more = _stated_paths(child, value, f"{prefix}.{key}" if prefix else str(key))
            stated += more[0]
            replaced += more[1]
        return stated, replaced
    if isinstance(change, list) and change and all(isinstance(v, dict) for v in change):
        names = [item["name"] for item in base] if _named_items(base) else []
        merged_by_name = not isinstance(change, ReplacedList) and _named_items(change)
        if merged_by_name and {item["name"] for item in change} <= set(names):
            stated = []
            for item in change:
                index = names.index(item["name"])
                stated += _stated_paths(base[index], item, f"{prefix}[{index}]")[0]
            return stated, []
        return list(_leaf_paths(change, prefix)), [prefix]
    return [prefix], []


_ITEM_WORDS = {"segments": "segment", "adjustment_rules": "rule", JOINT_FIELD: "block"}


def _merge_problems(base: Any, change: Any, prefix: str, source: str) -> list[Problem]:
    """What is wrong with a child's named lists before they merge into the parent's.

    A list of named items (segments, adjustment rules) merges into the parent's by name; every name
    must be one of the parent's, and appear once. A child that means to replace the whole list
    says so with ``!replace``. Without this rule a typo in a name silently replaced all the
    parent's items.
    """
    if _looks_like_distribution(change) or _looks_like_distribution(base):
        return []
    if isinstance(base, dict) and isinstance(change, dict):
        problems: list[Problem] = []
        for key, value in change.items():
            if key in base:
                path = f"{prefix}.{key}" if prefix else str(key)
                problems += _merge_problems(base[key], value, path, source)
        return problems
    if isinstance(change, ReplacedList) or not _named_items(base) or not isinstance(change, list):
        return []
    word = _ITEM_WORDS.get(prefix.rsplit(".", 1)[-1], "item")
    names = [item["name"] for item in base]
    hint = f"write `{prefix.rsplit('.', 1)[-1]}: {REPLACE_TAG}` to replace the parent's list whole"
    problems = []
    seen: set[Any] = set()
    for index, item in enumerate(change):
        where = f"{prefix}[{index}]"
        if not isinstance(item, dict) or "name" not in item:
            problems.append(
                Problem(source, where, f"a {word} merged into the parent's list needs a name; or {hint}")
            )
            continue
        name = item["name"]
        if name in seen:
            problems.append(
                Problem(source, f"{where}.name", f"duplicate {word} name (got {show_value(name)})")
            )
        seen.add(name)
        if name not in names:
            guess = difflib.get_close_matches(str(name), [str(n) for n in names], n=1, cutoff=0.6)
            did_you_mean = f"; did you mean {guess[0]!r}?" if guess else ""
            problems.append(
                Problem(
                    source,
                    f"{where}.name",
                    f"no {word} {show_value(name)} in the parent's list "
                    f"({', '.join(map(str, names))}){did_you_mean} To add or drop {word}s, {hint}",
                )
            )
    return problems


def _covers(new_leaf: str, old_leaf: str) -> bool:
    return old_leaf == new_leaf or old_leaf.startswith(new_leaf + ".") or old_leaf.startswith(new_leaf + "[")


def _named_items(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(item, dict) and "name" in item for item in value)
    )


def _merge(base: Any, change: Any) -> Any:
    """Deep merge: mappings merge key by key; lists of named items merge by name; others replace.

    A distribution is one value: a child's distribution replaces the parent's whole (merging them
    would let a normal inherit a triangular's ``mode``, or a uniform's ``high``)."""
    if _looks_like_distribution(change) or _looks_like_distribution(base):
        return copy.deepcopy(change)
    if isinstance(base, dict) and isinstance(change, dict):
        out = dict(base)
        for key, value in change.items():
            out[key] = _merge(base[key], value) if key in base else copy.deepcopy(value)
        return out
    if isinstance(change, ReplacedList):
        return copy.deepcopy(list(change))
    if _named_items(base) and _named_items(change):
        by_name = {item["name"]: item for item in base}
        changed = {item["name"] for item in change}
        if changed <= set(by_name):
            return [
                _merge(item, next(c for c in change if c["name"] == item["name"]))
                if item["name"] in changed
                else copy.deepcopy(item)
                for item in base
            ]
    return copy.deepcopy(change)


def _leaf_paths(data: Any, prefix: str) -> Iterator[str]:
    if isinstance(data, dict) and data and not _looks_like_distribution(data):
        for key, value in data.items():
            yield from _leaf_paths(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(data, list) and data and all(isinstance(v, dict) for v in data):
        for index, value in enumerate(data):
            yield from _leaf_paths(value, f"{prefix}[{index}]")
    else:
        yield prefix


def _looks_like_distribution(data: Any) -> bool:
    return isinstance(data, dict) and "distribution" in data


# --------------------------------------------------------------------------- overrides


def _apply_override(raw: dict, key: str, value: Any, origin: str, origins: dict[str, str]) -> list[Problem]:
    """Set one ``key.path`` in the raw mapping; list items may be named or numbered."""
    source = _source_of(origin)
    parts = split_key_path(key)
    if not parts:
        return [Problem(source, key, "empty key path")]
    if parts[0] == "extends":
        # Inheritance is resolved when the file is read; an override comes after it.
        return [
            Problem(
                source,
                key,
                "cannot be overridden: extends is read from the scenario file (write "
                "`extends: baseline.yaml` in the file instead)",
            )
        ]
    node: Any = raw
    model: Any = ScenarioModel
    walked: list[str] = []
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        if isinstance(node, list):
            index = _list_index(node, part)
            if index is None:
                names = [str(i.get("name")) for i in node if isinstance(i, dict)]
                hint = f"; items are {', '.join(names)}" if names else ""
                return [Problem(source, key, f"no list item {part!r}{hint}")]
            walked.append(f"[{index}]")
            if last:
                node[index] = value
                break
            node = node[index]
            model = _item_model(model)
            continue
        fields = _fields_of(model)
        if fields is not None and part not in fields and model is not dict:
            here = _join(walked) or "top level"
            return [
                Problem(
                    source,
                    key,
                    _unknown_key_message(part, walked, fields, here) + f" (value {show_value(value)})",
                )
            ]
        walked.append(part)
        if last:
            node[part] = value
            break
        child_model = _field_model(model, part)
        if part not in node or node[part] is None:
            # A list field must start as a list, so that an item in it is reported as missing.
            node[part] = [] if typing.get_origin(child_model) in (tuple, list) else {}
        if not isinstance(node[part], dict | list):
            return [
                Problem(
                    source,
                    key,
                    f"{_join(walked)} is a single value, not a section (got {show_value(node[part])})",
                )
            ]
        node = node[part]
        model = child_model
    dotted = _join(walked)
    for existing in [k for k in origins if _covers(dotted, k)]:
        del origins[existing]
    origins[dotted] = origin
    return []


def _source_of(origin: str) -> str:
    """How an error line names where a value came from: `--set` for the command line."""
    return "--set" if origin == COMMAND_LINE else origin


def _blame_overrides(problems: list[Problem], origins: Mapping[str, str]) -> list[Problem]:
    """A bad value given with ``--set`` is the command line's mistake, not the file's; a bad value
    inherited from a parent file is named with that file."""
    command_line = [k for k, v in origins.items() if v == COMMAND_LINE]
    blamed = []
    for p in problems:
        origin = _origin_of(p.path, origins)
        if origin == COMMAND_LINE or any(_covers(p.path, k) for k in command_line):
            blamed.append(replace(p, source=_source_of(COMMAND_LINE)))
        elif origin.endswith((".yaml", ".yml")) and " and " not in origin and Path(p.source).name != origin:
            blamed.append(replace(p, source=f"{p.source} (value inherited from {origin})"))
        else:
            blamed.append(p)
    return blamed


def _join(parts: list[str]) -> str:
    out = ""
    for part in parts:
        out += part if part.startswith("[") or not out else f".{part}"
    return out


def _list_index(items: list, part: str) -> int | None:
    if part.lstrip("-").isdigit():
        index = int(part)
        return index if 0 <= index < len(items) else None
    for index, item in enumerate(items):
        if isinstance(item, dict) and item.get("name") == part:
            return index
    return None


# --------------------------------------------------------------------------- schema walking


def _unwrap(annotation: Any) -> Any:
    """The model class behind Optional[...] / tuple[...] / Annotated[...], or the annotation."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        models = [_unwrap(a) for a in typing.get_args(annotation) if a is not type(None)]
        classes = [m for m in models if isinstance(m, type) and issubclass(m, BaseModel)]
        return classes[0] if len(classes) == 1 and len(models) == 1 else annotation
    return annotation


def _field_model(model: Any, name: str) -> Any:
    if isinstance(model, type) and issubclass(model, BaseModel) and name in model.model_fields:
        annotation = _unwrap(model.model_fields[name].annotation)
        if typing.get_origin(annotation) in (tuple, list):
            return annotation
        if typing.get_origin(annotation) is dict:
            return dict
        return annotation
    return None


def _item_model(model: Any) -> Any:
    if typing.get_origin(model) in (tuple, list):
        args = [a for a in typing.get_args(model) if a is not Ellipsis]
        return _unwrap(args[0]) if args else None
    return None


def _fields_of(model: Any) -> list[str] | None:
    if isinstance(model, type) and issubclass(model, BaseModel):
        names = list(model.model_fields)
        return [*names, "extends"] if model is ScenarioModel else names
    return None


def _model_at(loc: tuple) -> Any:
    model: Any = ScenarioModel
    for part in loc:
        model = _item_model(model) if isinstance(part, int) else _field_model(model, part)
        if model is None:
            return None
    return model


def _unknown_key_message(key: str, walked: list[str], fields: list[str], here: str) -> str:
    message = f"unknown key {key!r} in {here}"
    guess = difflib.get_close_matches(key, fields, n=1, cutoff=0.6)
    if guess:
        message += f"; did you mean {_join([*walked, guess[0]])}?"
    else:
        message += f"; valid keys: {', '.join(f for f in fields if f != 'extends')}"
    return message


# --------------------------------------------------------------------------- validation


def _loc_to_path(loc: tuple) -> tuple[str, list[str]]:
    """Human key path from a pydantic location, skipping union-branch tags."""
    parts: list[str] = []
    clean: list = []
    model: Any = ScenarioModel
    for part in loc:
        if isinstance(part, int):
            parts.append(f"[{part}]")
            clean.append(part)
            model = _item_model(model)
            continue
        if _is_union_tag(part, model):
            continue
        parts.append(str(part))
        clean.append(part)
        model = _field_model(model, part) if model is not None else None
    return _join(parts), clean


_UNION_TAGS = {
    "uniform",
    "triangular",
    "normal",
    "lognormal",
    "beta",
    "multivariate_normal",
    "multivariate_lognormal",
    "empirical",
    "float",
    "int",
    "none",
}


def _is_union_tag(part: str, model: Any) -> bool:
    """Pydantic names the branch of a union in error locations; those are not keys."""
    if isinstance(model, type) and issubclass(model, BaseModel):
        return False
    return part in _UNION_TAGS or "[" in part or part.startswith(("constrained", "function-", "tagged-union"))


def _lookup(data: Any, loc: list) -> Any:
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return "<missing>"
    return data


_DISTRIBUTIONS = {
    typing.get_args(d.model_fields["distribution"].annotation)[0]: d
    for d in (
        Uniform,
        Triangular,
        Normal,
        LogNormal,
        Beta,
        MultivariateNormal,
        MultivariateLogNormal,
        Empirical,
    )
}


def _distribution_fields(value: Any) -> list[str] | None:
    """The keys a distribution mapping may hold, if ``value`` names a known distribution."""
    if isinstance(value, dict) and value.get("distribution") in _DISTRIBUTIONS:
        return list(_DISTRIBUTIONS[value["distribution"]].model_fields)
    return None


def _pydantic_problems(exc: ValidationError, source: str, raw: Any = None) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    union_failures: dict[str, list[dict]] = {}
    errors = exc.errors(include_url=False)
    located = [_loc_to_path(error["loc"]) for error in errors]
    for index, (error, (path, clean)) in enumerate(zip(errors, located, strict=True)):
        kind = error["type"]
        if (
            kind in {"float_type", "float_parsing"}
            and isinstance(error.get("input"), dict)
            and any(other.startswith(f"{path}.") for other, _ in located)
        ):
            # A distribution with a bad key inside: the deeper line says what is wrong; "must be a
            # number" (the other branch of number-or-distribution) would only mislead.
            continue
        if kind == "extra_forbidden":
            key = str(clean[-1])
            parent = clean[:-1]
            fields = (
                _fields_of(_model_at(tuple(parent)))
                or _distribution_fields(_lookup(raw, parent) if raw is not None else None)
                or []
            )
            walked = _join([f"[{p}]" if isinstance(p, int) else str(p) for p in parent])
            message = _unknown_key_message(
                key, [walked] if walked else [], fields, walked or "top level"
            ).replace(f"{walked}.{walked}.", f"{walked}.")
            if parent:
                # A top-level key's value is a whole section of what may not be a scenario at all
                # (a file named by mistake): it is named, never quoted.
                message += f" (value {show_value(error['input'])})"
            problem = Problem(source, path, message)
        else:
            value = error.get("input", _lookup(raw, clean) if raw is not None else None)
            problem = Problem(source, path, f"{_friendly(error)} (got {show_value(value)})")
            if len(error["loc"]) > len(clean):
                union_failures.setdefault(path, []).append(error)
        if kind == "too_short" and any(
            other["loc"][: len(error["loc"])] == error["loc"]
            for number, other in enumerate(errors)
            if number != index
        ):
            continue
        if (problem.path, problem.message) not in seen:
            seen.add((problem.path, problem.message))
            problems.append(problem)
    return _collapse_unions(problems, union_failures, source)


def _collapse_unions(
    problems: list[Problem], union_failures: dict[str, list[dict]], source: str
) -> list[Problem]:
    """A number-or-distribution field that failed both ways gets one line, not one per branch."""
    out: list[Problem] = []
    done: set[str] = set()
    for problem in problems:
        failures = union_failures.get(problem.path)
        if failures and len(failures) > 1:
            if problem.path in done:
                continue
            done.add(problem.path)
            value = failures[0].get("input")
            if isinstance(value, dict) and "distribution" in value:
                branch = [f for f in failures if f["type"] not in {"float_type", "float_parsing"}]
            else:
                branch = [
                    f
                    for f in failures
                    if f["type"] in {"greater_than_equal", "less_than_equal", "greater_than", "less_than"}
                ]
            message = (
                _friendly(branch[0])
                if branch
                else "expected a number or a distribution such as "
                "{distribution: uniform, low: 0.1, high: 0.3}"
            )
            out.append(Problem(source, problem.path, f"{message} (got {show_value(value)})"))
        else:
            out.append(problem)
    return out


def _friendly(error: dict) -> str:
    kind = error["type"]
    ctx = error.get("ctx", {})
    if kind == "greater_than_equal":
        return f"must be ≥ {ctx.get('ge')}"
    if kind == "less_than_equal":
        return f"must be ≤ {ctx.get('le')}"
    if kind == "greater_than":
        return f"must be > {ctx.get('gt')}"
    if kind == "less_than":
        return f"must be < {ctx.get('lt')}"
    if kind in {"float_parsing", "float_type", "int_parsing", "int_type", "int_from_float"}:
        return "must be a number" if kind.startswith("float") else "must be a whole number"
    if kind in {"bool_parsing", "bool_type"}:
        return "must be true or false"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}"
    if kind == "missing":
        return "is required"
    if kind in {"union_tag_invalid", "union_tag_not_found"} and error["loc"][:1] == (JOINT_FIELD,):
        return "unknown joint distribution; use multivariate_normal, multivariate_lognormal or empirical"
    if kind in {"union_tag_invalid", "union_tag_not_found"}:
        return "unknown distribution; use uniform, triangular, normal, lognormal or beta"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind == "too_short":
        return f"must have at least {ctx.get('min_length')} item(s)"
    if kind in {"too_long", "string_too_short", "string_too_long"}:
        return error["msg"].lower()
    if kind in {"model_type", "dict_type"}:
        return "must be a mapping of keys"
    if kind == "tuple_type":
        return "must be a list"
    return error["msg"][0].lower() + error["msg"][1:]


def _validate(raw: dict, origins: Mapping[str, str], source: str, path: Path | None) -> Scenario:
    try:
        model = ScenarioModel.model_validate(raw)
    except ValidationError as exc:
        problems = _pydantic_problems(exc, source, raw)
        raise ScenarioError(
            _blame_overrides(problems + _cross_field_despite(exc, raw, source), origins)
        ) from None
    problems = cross_field_problems(model, source)
    if problems:
        raise ScenarioError(_blame_overrides(problems, origins))
    return Scenario(model, origins, path)


def _cross_field_despite(exc: ValidationError, raw: dict, source: str) -> list[Problem]:
    """Cross-field problems of a file that also has field errors, so that all are reported at once:
    the offending keys are dropped (their defaults stand in) and the rest is checked, when that
    leaves a valid scenario."""
    trimmed = copy.deepcopy(raw)
    for error in exc.errors(include_url=False):
        _, clean = _loc_to_path(error["loc"])
        node: Any = trimmed
        for part in clean[:-1]:
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                return []
        if not clean or not isinstance(node, dict) or clean[-1] not in node:
            return []
        del node[clean[-1]]
    try:
        model = ScenarioModel.model_validate(trimmed)
    except ValidationError:
        return []
    bad = {_loc_to_path(e["loc"])[0] for e in exc.errors(include_url=False)}
    return [p for p in cross_field_problems(model, source) if p.path not in bad]


def _tier_problems(fees: Fees, prefix: str, source: str) -> list[Problem]:
    problems: list[Problem] = []
    bounds = [t.up_to for t in fees.usage_tiers]
    for index, bound in enumerate(bounds[:-1]):
        if bound is None:
            problems.append(
                Problem(
                    source,
                    f"{prefix}usage_tiers[{index}].up_to",
                    "only the last band may be open-ended (got empty)",
                )
            )
    finite = [(i, b) for i, b in enumerate(bounds) if b is not None]
    for (_, lower), (index, upper) in itertools.pairwise(finite):
        if upper <= lower:
            problems.append(
                Problem(
                    source,
                    f"{prefix}usage_tiers[{index}].up_to",
                    f"band bounds must ascend: {show_value(upper)} is not above {show_value(lower)}",
                )
            )
    if bounds and bounds[-1] is not None:
        problems.append(
            Problem(
                source,
                f"{prefix}usage_tiers[{len(bounds) - 1}].up_to",
                f"the last band must be open-ended (empty), got {show_value(bounds[-1])}",
            )
        )
    if fees.bill_cap is not None and fees.bill_cap < fees.minimum_charge:
        problems.append(
            Problem(
                source,
                f"{prefix}bill_cap",
                f"is below fees.minimum_charge {fees.minimum_charge} (got {fees.bill_cap})",
            )
        )
    return problems


_FIXED_AT_JOINING = {"prepay_uptake"}


def cross_field_problems(model: ScenarioModel, source: str) -> list[Problem]:
    """Rules that involve more than one field, all reported together."""
    problems: list[Problem] = []
    shares = [s.share for s in model.population.segments]
    if not math.isclose(sum(shares), 1.0, abs_tol=1e-6):
        problems.append(
            Problem(source, "population.segments", f"segment shares must sum to 1 (got {sum(shares):.4g})")
        )
    names = [s.name for s in model.population.segments]
    for index, name in enumerate(names):
        if names.index(name) != index:
            problems.append(
                Problem(
                    source,
                    f"population.segments[{index}].name",
                    f"duplicate segment name (got {show_value(name)})",
                )
            )
    problems += _tier_problems(model.fees, "fees.", source)
    compliance = model.compliance
    strict = compliance.enforcement == "validate"
    # (where, fees in force, keys to check there): a change is only blamed for the fees it sets,
    # so a problem of the base fees is reported once, not again under every later change.
    schedules: list[tuple[str, Fees, Any]] = [("fees", model.fees, Fees.model_fields)]
    months = [c.month for c in model.fee_changes]
    if months != sorted(months):
        problems.append(Problem(source, "fee_changes", f"changes must be in month order (got {months})"))
    current = model.fees
    for index, change in enumerate(model.fee_changes):
        prefix = f"fee_changes[{index}]"
        minimum = compliance.minimum_notice_days
        if strict and minimum is not None and change.notice_days < minimum:
            problems.append(
                Problem(
                    source,
                    f"{prefix}.notice_days",
                    f"below the legal minimum notice of {minimum} days "
                    f"(compliance.minimum_notice_days) (got {change.notice_days})",
                )
            )
        unknown = [k for k in change.set if k not in Fees.model_fields]
        for key in unknown:
            guess = difflib.get_close_matches(key, list(Fees.model_fields), n=1, cutoff=0.6)
            hint = f"; did you mean {prefix}.set.{guess[0]}?" if guess else ""
            problems.append(
                Problem(
                    source,
                    f"{prefix}.set.{key}",
                    f"unknown fee parameter (value {show_value(change.set[key])}){hint}",
                )
            )
        for key in sorted(set(change.set) & _FIXED_AT_JOINING):
            problems.append(
                Problem(
                    source,
                    f"{prefix}.set.{key}",
                    "cannot change in a fee change: it is decided when a customer joins; set "
                    f"fees.{key} instead (value {show_value(change.set[key])})",
                )
            )
        if unknown or set(change.set) & _FIXED_AT_JOINING:
            continue
        try:
            previous, current = current, fee_schedule_after(current, change.set)
        except ValidationError as exc:
            for problem in _pydantic_problems(exc, source):
                problems.append(Problem(source, f"{prefix}.set.{problem.path}", problem.message))
            continue
        already = {
            (p.path.removeprefix("fees."), p.message) for p in _tier_problems(previous, "fees.", source)
        }
        problems += [
            p
            for p in _tier_problems(current, f"{prefix}.set.", source)
            if (p.path.removeprefix(f"{prefix}.set."), p.message) not in already
        ]
        schedules.append((f"{prefix}.set", current, change.set))
    if strict:
        for where, fees, keys in schedules:
            if (
                "penalty_fee" in keys
                and compliance.penalty_fee_cap is not None
                and fees.penalty_fee > compliance.penalty_fee_cap
            ):
                problems.append(
                    Problem(
                        source,
                        f"{where}.penalty_fee",
                        f"above the legal cap of {compliance.penalty_fee_cap} "
                        f"(compliance.penalty_fee_cap) (got {fees.penalty_fee})",
                    )
                )
            if (
                "monthly_fee" in keys
                and compliance.fee_cap is not None
                and fees.monthly_fee > compliance.fee_cap
            ):
                problems.append(
                    Problem(
                        source,
                        f"{where}.monthly_fee",
                        f"above the legal monthly cap of {compliance.fee_cap} "
                        f"(compliance.fee_cap) (got {fees.monthly_fee})",
                    )
                )
    horizon = model.simulation.months
    for index, change in enumerate(model.fee_changes):
        if change.month >= horizon:
            problems.append(
                Problem(
                    source,
                    f"fee_changes[{index}].month",
                    f"must fall inside the {horizon}-month horizon (got {change.month})",
                )
            )
    rule_names = [r.name for r in model.adjustment_rules]
    for index, name in enumerate(rule_names):
        if rule_names.index(name) != index:
            problems.append(
                Problem(
                    source, f"adjustment_rules[{index}].name", f"duplicate rule name (got {show_value(name)})"
                )
            )
    problems += _distribution_problems(model, "", source)
    problems += joint_problems(model, source)
    return problems


# The extreme uniforms a parameter draw can use (draws.scalar_uniform never returns 0 or 1).
_EXTREME_DRAWS = (2.0**-54, 1.0 - 2.0**-53)


def _number_bounds(annotation: Any) -> list[Any]:
    """The constraints (Ge, Gt, Le, ...) of the number branch of a number-or-distribution field."""
    for branch in typing.get_args(annotation):
        if typing.get_origin(branch) is typing.Annotated and typing.get_args(branch)[0] is float:
            return [c for info in typing.get_args(branch)[1:] for c in getattr(info, "metadata", [])]
    return []


def _distribution_problems(model: BaseModel, prefix: str, source: str) -> list[Problem]:
    """Distributions that can draw a value their parameter may not take.

    Caught here, not when drawn: otherwise `validate` passes and a run fails in whichever
    replication happens to draw such a value.
    """
    problems: list[Problem] = []
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        path = f"{prefix}.{name}" if prefix else name
        if isinstance(value, DistributionBase):
            low, high = (float(value.quantile(u)) for u in _EXTREME_DRAWS)
            for bound in _number_bounds(field.annotation):
                ge, gt, le = (getattr(bound, k, None) for k in ("ge", "gt", "le"))
                outside = (
                    (ge is not None and low < ge, f"{low:.4g} but the value must be ≥ {ge}"),
                    (gt is not None and low <= gt, f"{low:.4g} but the value must be > {gt}"),
                    (le is not None and high > le, f"{high:.4g} but the value must be ≤ {le}"),
                )
                hint = "truncate it with low and high" if isinstance(value, Normal) else "narrow it"
                problems += [
                    Problem(source, path, f"the distribution can draw {what}; {hint} (got {_display(value)})")
                    for breached, what in outside
                    if breached
                ]
        elif isinstance(value, BaseModel):
            problems += _distribution_problems(value, path, source)
        elif isinstance(value, tuple):
            for index, item in enumerate(value):
                if isinstance(item, BaseModel):
                    problems += _distribution_problems(item, f"{path}[{index}]", source)
    return problems


# --------------------------------------------------------------------------- describe / realise


def _walk(value: Any, prefix: str, origins: Mapping[str, str], currency: str) -> Iterator[Parameter]:
    if isinstance(value, MultivariateNormal | MultivariateLogNormal | Empirical):
        label = value.name or "Parameters drawn together once per replication"
        yield Parameter(prefix, joint_display(value), "joint", label, None, _origin_of(prefix, origins))
    elif isinstance(value, BaseModel) and not isinstance(value, DistributionBase):
        for name, field in type(value).model_fields.items():
            path = f"{prefix}.{name}" if prefix else name
            child = getattr(value, name)
            nested = isinstance(child, BaseModel) and not isinstance(child, DistributionBase)
            listed = isinstance(child, tuple) and child and isinstance(child[0], BaseModel)
            if nested or listed:
                yield from _walk(child, path, origins, currency)
                continue
            extra = field.json_schema_extra or {}
            unit = str(extra.get("unit", "")).replace("{cur}", currency)
            yield Parameter(
                path=path,
                value=_display(child),
                unit=unit,
                label=field.description or "",
                source=extra.get("source"),
                origin=_origin_of(path, origins),
            )
    elif isinstance(value, tuple):
        for index, item in enumerate(value):
            yield from _walk(item, f"{prefix}[{index}]", origins, currency)


def _display(value: Any) -> Any:
    if isinstance(value, DistributionBase):
        fields = value.model_dump()
        kind = fields.pop("distribution")
        return f"{kind}(" + ", ".join(f"{k}={v}" for k, v in fields.items()) + ")"
    if isinstance(value, tuple):
        return [_display(v) for v in value]
    if isinstance(value, dict):
        return dict(value)
    return value


def _origin_of(path: str, origins: Mapping[str, str]) -> str:
    """Where a parameter's value came from: its own entry, a parent's, or (for a mapping such as a
    fee change's ``set``) the entries of its keys."""
    below = {origin for key, origin in origins.items() if key.startswith((path + ".", path + "["))}
    if below and path not in origins:
        return sorted(below)[0] if len(below) == 1 else " and ".join(sorted(below))
    probe = path
    while probe:
        if probe in origins:
            return origins[probe]
        cut = max(probe.rfind("."), probe.rfind("["))
        probe = probe[:cut] if cut > 0 else ""
    return DEFAULT


def _sample_into(data: Any, prefix: str, model: Any, seed: int, replication: int) -> None:
    if isinstance(model, BaseModel):
        for name in type(model).model_fields:
            child = getattr(model, name)
            path = f"{prefix}.{name}" if prefix else name
            if isinstance(child, DistributionBase):
                data[name] = child.sample(seed, replication, path)
            elif isinstance(child, BaseModel):
                _sample_into(data[name], path, child, seed, replication)
            elif isinstance(child, tuple):
                for index, item in enumerate(child):
                    if isinstance(item, BaseModel):
                        _sample_into(data[name][index], f"{path}[{index}]", item, seed, replication)

"""Scenarios: loading a file, building one from a mapping, and the immutable :class:`Scenario`.

A scenario file is YAML. It may say ``extends: baseline.yaml`` and then hold only what it changes.
Loading reads each file safely (:mod:`~simlib.scenario.reading`), resolves the whole chain
(:mod:`~simlib.scenario.extends`), applies ``--set`` overrides (:mod:`~simlib.scenario.overrides`),
validates everything at once (:mod:`~simlib.scenario.validation`) and returns an immutable
:class:`Scenario` that remembers where each parameter came from (:mod:`~simlib.scenario.describe`).
Errors are collected into a :class:`~simlib.errors.ScenarioError`: one line per problem, naming the
file, the key path and the bad value, with the closest valid key for a typo.
"""

from __future__ import annotations

import copy
import json
import types
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from simlib.errors import Problem, ScenarioError
from simlib.model.distributions import DistributionBase
from simlib.model.parameters import ScenarioModel
from simlib.scenario.describe import DEFAULT, IDENTITY, Parameter, diff, parameters_of, unused_sizes
from simlib.scenario.extends import leaf_paths, resolve_extends
from simlib.scenario.overrides import COMMAND_LINE, apply_override, blame_overrides
from simlib.scenario.reading import (
    MAX_ALIASES,
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_NODES,
    REPLACE_TAG,
    ROOTS_VARIABLE,
    SCENARIO_SUFFIXES,
    ReplacedList,
    scenario_roots,
)
from simlib.scenario.uncertainty import FIELD as JOINT_FIELD
from simlib.scenario.uncertainty import joint_values, override_problems, set_value
from simlib.scenario.validation import cross_field_despite, cross_field_problems, pydantic_problems

# What other packages import from here, wherever it is defined.
__all__ = [
    "COMMAND_LINE",
    "DEFAULT",
    "MAX_ALIASES",
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_NODES",
    "REPLACE_TAG",
    "ROOTS_VARIABLE",
    "SCENARIO_SUFFIXES",
    "Parameter",
    "ReplacedList",
    "Scenario",
    "cross_field_problems",
    "diff",
    "from_dict",
    "json_schema",
    "load",
    "parse_assignment",
    "scenario_roots",
    "unused_sizes",
]


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
        for key in IDENTITY:
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
            problems += apply_override(raw, key, value, origin, origins)
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
        return parameters_of(self._model, self._origins)

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
            raise ScenarioError(pydantic_problems(exc, f"{self.name} (replication draw)")) from None


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
    raw, origins = resolve_extends(path)
    raw.setdefault("name", path.stem)
    problems: list[Problem] = []
    for key, value in (overrides or {}).items():
        problems += apply_override(raw, key, value, COMMAND_LINE, origins)
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
    origins = {leaf: "mapping" for leaf in leaf_paths(raw, "")}
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


def _validate(raw: dict, origins: Mapping[str, str], source: str, path: Path | None) -> Scenario:
    try:
        model = ScenarioModel.model_validate(raw)
    except ValidationError as exc:
        problems = pydantic_problems(exc, source, raw)
        raise ScenarioError(
            blame_overrides(problems + cross_field_despite(exc, raw, source), origins)
        ) from None
    problems = cross_field_problems(model, source)
    if problems:
        raise ScenarioError(blame_overrides(problems, origins))
    return Scenario(model, origins, path)


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

"""What a scenario says, parameter by parameter: each resolved leaf with unit, label, source and
origin (``simlib describe``), the parameters two scenarios differ in (``diff``), and the sizes a
paired reform does not use."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from pydantic import BaseModel

from simlib.model.distributions import DistributionBase, Empirical, MultivariateLogNormal, MultivariateNormal
from simlib.model.parameters import ScenarioModel
from simlib.scenario.uncertainty import display as joint_display
from simlib.scenario.uncertainty import joint_paths

#: The origin of a parameter no file or override states.
DEFAULT = "default"
#: Keys that name a scenario rather than parameterise it: not inherited, not compared.
IDENTITY = frozenset({"name", "label", "short_label", "description"})
_SIZES = ("customers", "months", "replications", "seed")


class Scenario(Protocol):
    """What :func:`diff` and :func:`unused_sizes` read of a :class:`simlib.scenario.scenario.Scenario`
    (named by its behaviour here: that module builds on this one)."""

    @property
    def name(self) -> str: ...

    @property
    def simulation(self) -> Any: ...

    def parameters(self) -> Iterator[Parameter]: ...


@dataclass(frozen=True)
class Parameter:
    """One resolved leaf parameter, as `describe` shows it."""

    path: str
    value: Any
    unit: str
    label: str
    source: str | None
    origin: str


def diff(base: Scenario, other: Scenario) -> list[tuple[Parameter, Parameter | None]]:
    """Parameters whose values differ (the reform documentation), in schema order.

    Returns pairs (base parameter, other parameter); a list item present in only one scenario has
    ``None`` on the other side, or on the base side a stand-in with value ``None`` and origin "absent".
    """
    base_params = {p.path: p for p in base.parameters() if p.path not in IDENTITY}
    other_params = {p.path: p for p in other.parameters() if p.path not in IDENTITY}
    out: list[tuple[Parameter, Parameter | None]] = []
    for path, param in base_params.items():
        counterpart = other_params.get(path)
        if counterpart is None or counterpart.value != param.value:
            out.append((param, counterpart))
    for path, param in other_params.items():
        if path not in base_params:
            out.append((_missing(path, param), param))
    return out


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


def parameters_of(model: ScenarioModel, origins: Mapping[str, str]) -> Iterator[Parameter]:
    """Every resolved leaf parameter of ``model`` with unit, label, source and origin; a joint block is
    one entry (``joint_uncertainty[i]``), and a parameter it draws says so after its stated number."""
    drawn = joint_paths(model)
    for parameter in _walk(model, "", origins, model.simulation.currency):
        if parameter.path in drawn:
            stated = parameter.value
            stated = f"{stated:.12g}" if isinstance(stated, float) else stated
            parameter = replace(parameter, value=f"{stated} (drawn jointly: {drawn[parameter.path]})")
        yield parameter


def _walk(value: Any, prefix: str, origins: Mapping[str, str], currency: str) -> Iterator[Parameter]:
    if isinstance(value, MultivariateNormal | MultivariateLogNormal | Empirical):
        label = value.name or "Parameters drawn together once per replication"
        yield Parameter(prefix, joint_display(value), "joint", label, None, origin_of(prefix, origins))
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
                value=display_value(child),
                unit=unit,
                label=field.description or "",
                source=extra.get("source"),
                origin=origin_of(path, origins),
            )
    elif isinstance(value, tuple):
        for index, item in enumerate(value):
            yield from _walk(item, f"{prefix}[{index}]", origins, currency)


def display_value(value: Any) -> Any:
    """A parameter's value as `describe` shows it: a distribution as ``kind(key=value, ...)``."""
    if isinstance(value, DistributionBase):
        fields = value.model_dump()
        kind = fields.pop("distribution")
        return f"{kind}(" + ", ".join(f"{k}={v}" for k, v in fields.items()) + ")"
    if isinstance(value, tuple):
        return [display_value(v) for v in value]
    if isinstance(value, dict):
        return dict(value)
    return value


def origin_of(path: str, origins: Mapping[str, str]) -> str:
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

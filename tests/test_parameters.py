"""Every behavioural default says where its value comes from: a source, or plainly a judgement with
the range a user should try in `simlib sensitivity` (docs/model.md §10 and §11)."""

from __future__ import annotations

import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from pydantic.fields import FieldInfo

import simlib
from simlib.analysis.sensitivity import resolve_parameters
from simlib.model.parameters import Behaviour, ScenarioModel, Segment, schema_extra

SHIPPED = Path(__file__).resolve().parents[1] / "scenarios"


def _fields(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, FieldInfo]]:
    for name, field in model.model_fields.items():
        nested = [field.annotation, *typing.get_args(field.annotation)]
        sections = [
            a for a in nested
            if isinstance(a, type) and issubclass(a, BaseModel) and "distribution" not in a.model_fields
        ]  # fmt: skip
        if sections:
            yield from _fields(sections[0], f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", field


FIELDS = dict(_fields(ScenarioModel))
JUDGED = {path: f for path, f in FIELDS.items() if "judgement" in str(schema_extra(path).get("source", ""))}
# The customers' own traits and reactions: what a pricing team cannot set, only estimate.
TRAITS = ("churn_", "usage_dispersion", "usage_monthly", "willingness_", "attention", "complaint_propensity",
          "late_payment_")  # fmt: skip
BEHAVIOURAL = sorted(
    {f"behaviour.{name}" for name in Behaviour.model_fields}
    | {f"population.segments.{n}" for n in Segment.model_fields if n.startswith(TRAITS)}
)


def test_behavioural_parameters_are_found() -> None:
    assert len(BEHAVIOURAL) > 25 and len(JUDGED) > 30


@pytest.mark.parametrize("path", BEHAVIOURAL)
def test_every_behavioural_default_cites_a_source_or_says_judgement(path: str) -> None:
    assert schema_extra(path).get("source"), f"{path}: give a source, or SOURCE_JUDGEMENT with a try_range"


@pytest.mark.parametrize("path", sorted(JUDGED))
def test_every_judgement_has_a_range_to_try_around_its_default(path: str) -> None:
    extra = schema_extra(path)
    assert "try_range" in extra, f"{path}: a judgement needs the range to try in sensitivity (try_range)"
    low, high = extra["try_range"]
    default: Any = FIELDS[path].default
    centre = 1.0 if extra.get("try_relative") else default
    assert low < high and low <= centre <= high, (path, low, high, default)
    metadata = FIELDS[path].metadata
    floor = next((m.ge for m in metadata if hasattr(m, "ge")), None)
    ceiling = next((m.le for m in metadata if hasattr(m, "le")), None)
    if not extra.get("try_relative"):
        assert floor is None or low >= floor, path
        assert ceiling is None or high <= ceiling, path


def test_sensitivity_varies_a_judged_parameter_over_its_documented_range() -> None:
    base = simlib.load(SHIPPED / "baseline.yaml")
    (memory, wtp) = resolve_parameters(
        base,
        None,
        {"behaviour.grievance_memory": None, "population.segments[0].willingness_to_pay_median": None},
    )
    assert (memory.low, memory.high) == tuple(schema_extra("behaviour.grievance_memory")["try_range"])
    value = base.model.population.segments[0].willingness_to_pay_median
    assert (wtp.low, wtp.high) == pytest.approx((0.7 * value, 1.4 * value))
    assert memory.basis == wtp.basis == "range to try, from its documentation"

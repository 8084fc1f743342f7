"""Validation problems of a scenario, one line each: pydantic's errors made readable (key path,
bad value, closest valid key), rules that involve several fields, and distributions that can draw a
value their parameter may not take. All problems are collected, never the first alone."""

from __future__ import annotations

import copy
import difflib
import itertools
import math
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from simlib.errors import Problem, show_value
from simlib.keypaths import join_key_path
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
from simlib.scenario.describe import display_value
from simlib.scenario.schema import field_model, fields_of, item_model, model_at, unknown_key_message
from simlib.scenario.uncertainty import FIELD as JOINT_FIELD
from simlib.scenario.uncertainty import joint_problems


def _loc_to_path(loc: tuple) -> tuple[str, list[str]]:
    """Human key path from a pydantic location, skipping union-branch tags."""
    parts: list[str] = []
    clean: list = []
    model: Any = ScenarioModel
    for part in loc:
        if isinstance(part, int):
            parts.append(f"[{part}]")
            clean.append(part)
            model = item_model(model)
            continue
        if _is_union_tag(part, model):
            continue
        parts.append(str(part))
        clean.append(part)
        model = field_model(model, part) if model is not None else None
    return join_key_path(parts), clean


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


def pydantic_problems(exc: ValidationError, source: str, raw: Any = None) -> list[Problem]:
    """Pydantic's errors as one-line problems: key path, what is wrong, the bad value."""
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
                fields_of(model_at(tuple(parent)))
                or _distribution_fields(_lookup(raw, parent) if raw is not None else None)
                or []
            )
            walked = join_key_path([f"[{p}]" if isinstance(p, int) else str(p) for p in parent])
            message = unknown_key_message(
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


def cross_field_despite(exc: ValidationError, raw: dict, source: str) -> list[Problem]:
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
            for problem in pydantic_problems(exc, source):
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
                    Problem(
                        source, path, f"the distribution can draw {what}; {hint} (got {display_value(value)})"
                    )
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

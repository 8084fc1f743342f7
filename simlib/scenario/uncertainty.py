"""Jointly uncertain parameters: the ``joint_uncertainty`` blocks of a scenario.

A block names several parameters by key path and gives their joint distribution — a multivariate
normal (mean vector, covariance), a multivariate log-normal (medians, covariance of the logarithms)
or a table of joint draws (bootstrap or posterior samples). It is drawn once per replication, as a
pure function of (seed, replication, the block's key paths), like a single distribution
(docs/model.md §9), so a baseline and a reform that share the block draw the same values in the
same replication, whatever the chunking or the workers.

This module resolves the key paths, checks a block against the schema (one line per problem:
file, key path, bad value), draws the values of a replication, shows a block readably, and gives
the one-factor view of a block that a sensitivity analysis varies (its principal direction).
"""

from __future__ import annotations

import math
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
from pydantic import BaseModel

from simlib.errors import Problem, show_value
from simlib.keypaths import split_key_path
from simlib.model.distributions import (
    SCALAR_DISTRIBUTIONS,
    Empirical,
    MultivariateLogNormal,
    MultivariateNormal,
    factor_covariance,
)
from simlib.scenario.schema import locate

FIELD = "joint_uncertainty"
EXTREME_SCORE = NormalDist().inv_cdf(1.0 - 2.0**-53)
"""The largest standard normal score a parameter draw can produce (its uniform never reaches 1)."""
PRINCIPAL_RANGE = (NormalDist().inv_cdf(0.05), NormalDist().inv_cdf(0.95))
"""The range of a block's principal score that a sensitivity analysis varies: its 5th–95th percentiles."""

JointBlock = MultivariateNormal | MultivariateLogNormal | Empirical


def block_path(index: int) -> str:
    """The key path of the ``index``-th block."""
    return f"{FIELD}[{index}]"


def _accepts_distribution(annotation: Any) -> bool:
    """Whether a field's type has a distribution among its choices (docs/model.md §10: "or distribution")."""
    if isinstance(annotation, type):
        return issubclass(annotation, SCALAR_DISTRIBUTIONS)
    return any(_accepts_distribution(a) for a in typing.get_args(annotation))


def numeric_bounds(annotation: Any) -> dict[str, float]:
    """The bounds (``ge``, ``gt``, ``le``, ``lt``) of the number branch of a field's type."""
    found: dict[str, float] = {}
    for branch in (annotation, *typing.get_args(annotation)):
        if typing.get_origin(branch) is typing.Annotated and typing.get_args(branch)[0] is float:
            for info in typing.get_args(branch)[1:]:
                for constraint in getattr(info, "metadata", []):
                    for name in ("ge", "gt", "le", "lt"):
                        if getattr(constraint, name, None) is not None:
                            found[name] = float(getattr(constraint, name))
    return found


@dataclass(frozen=True)
class Member:
    """One parameter of a block, resolved in a scenario.

    Attributes
    ----------
    path : canonical key path (list items by number: ``population.segments[1].churn_alpha``).
    value : what the scenario states for it (a number, or a distribution: an error).
    bounds : the schema's bounds of the parameter (``ge``, ``gt``, ``le``, ``lt``).
    unit, label : from the schema.
    """

    path: str
    value: Any
    bounds: Mapping[str, float]
    unit: str
    label: str


def resolve(model: BaseModel, key: str) -> Member | str:
    """The parameter ``key`` names in ``model`` (a :class:`~simlib.model.parameters.ScenarioModel`), or
    why it names none (a message for an error line)."""
    found = locate(model, key)
    if isinstance(found, str):
        return found
    walked, node, field = found.path, found.value, found.field
    if (
        field is None
        or isinstance(node, tuple)
        or (isinstance(node, BaseModel) and not isinstance(node, SCALAR_DISTRIBUTIONS))
    ):
        return f"{walked or key} is not a single parameter"
    if not _accepts_distribution(field.annotation):
        return (
            f"{walked} takes a fixed value; only parameters that accept a distribution (docs/model.md §10, "
            "'or distribution') can be uncertain"
        )
    extra = field.json_schema_extra or {}
    unit = str(extra.get("unit", "")) if isinstance(extra, dict) else ""
    return Member(walked, node, numeric_bounds(field.annotation), unit, field.description or "")


def members(model: BaseModel, block: JointBlock) -> list[Member]:
    """The resolved members of a block of a valid scenario (in the block's order)."""
    out = []
    for key in block.parameters:
        found = resolve(model, key)
        if isinstance(found, str):  # pragma: no cover - a validated scenario resolves every key
            raise ValueError(f"{key}: {found}")
        out.append(found)
    return out


def draw_key(paths: Iterable[str]) -> str:
    """What a block's draws are keyed by: its canonical key paths, so that two scenarios sharing a
    block draw the same values whatever its position in the list."""
    return "joint:" + ",".join(paths)


def extremes(block: JointBlock) -> list[tuple[float, float]]:
    """The lowest and highest value each member can take: the ends of an empirical column; for a
    (log)normal μ ± 8.2·Σ_k |L_ik| (L the Cholesky factor, every score within the ±8.2 a uniform
    draw of 2⁻⁵³ … 1 − 2⁻⁵³ allows), exponentiated for the log-normal."""
    if isinstance(block, Empirical):
        columns = list(zip(*block.draws, strict=True))
        return [(min(c), max(c)) for c in columns]
    covariance = block.covariance if isinstance(block, MultivariateNormal) else block.log_covariance
    factor = factor_covariance(covariance)
    spread = [EXTREME_SCORE * sum(abs(f) for f in row) for row in factor]
    if isinstance(block, MultivariateNormal):
        return [(m - s, m + s) for m, s in zip(block.mean, spread, strict=True)]
    return [(m * math.exp(-s), m * math.exp(s)) for m, s in zip(block.median, spread, strict=True)]


def _outside(low: float, high: float, bounds: Mapping[str, float]) -> str | None:
    if "ge" in bounds and low < bounds["ge"]:
        return f"{low:.4g} but the value must be ≥ {bounds['ge']:g}"
    if "gt" in bounds and low <= bounds["gt"]:
        return f"{low:.4g} but the value must be > {bounds['gt']:g}"
    if "le" in bounds and high > bounds["le"]:
        return f"{high:.4g} but the value must be ≤ {bounds['le']:g}"
    if "lt" in bounds and high >= bounds["lt"]:
        return f"{high:.4g} but the value must be < {bounds['lt']:g}"
    return None


def joint_problems(model: BaseModel, source: str) -> list[Problem]:
    """Everything wrong with a scenario's joint blocks, one line each: a key path that names no
    parameter, or one that takes no distribution; a parameter given its own distribution too, or
    named twice; a block that can draw a value its parameter may not take."""
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for index, block in enumerate(getattr(model, FIELD)):
        where = block_path(index)
        resolved: list[Member | None] = []
        for position, key in enumerate(block.parameters):
            at = f"{where}.parameters[{position}]"
            found = resolve(model, key)
            if isinstance(found, str):
                problems.append(Problem(source, at, f"{found} (got {show_value(key)})"))
                resolved.append(None)
                continue
            if isinstance(found.value, SCALAR_DISTRIBUTIONS):
                problems.append(
                    Problem(
                        source,
                        at,
                        f"{found.path} is also given its own distribution ({display(found.value)}); a "
                        "parameter is drawn either alone or in one joint block: give it a number "
                        f"(got {show_value(key)})",
                    )
                )
            if found.path in seen:
                problems.append(
                    Problem(
                        source,
                        at,
                        f"{found.path} is drawn in {seen[found.path]} already (got {show_value(key)})",
                    )
                )
            seen.setdefault(found.path, at)
            resolved.append(found)
        for member, (low, high), key in zip(resolved, extremes(block), block.parameters, strict=True):
            if member is None:
                continue
            breach = _outside(low, high, member.bounds)
            if breach is not None:
                hint = {
                    MultivariateNormal: "give it on the log scale (multivariate_lognormal) or narrow "
                    "the covariance",
                    MultivariateLogNormal: "narrow the log covariance",
                    Empirical: "correct the draws",
                }[type(block)]
                problems.append(Problem(source, where, f"the block can draw {key} = {breach}; {hint}"))
    return problems


def joint_values(model: BaseModel, seed: int, replication: int) -> dict[str, float]:
    """Every jointly uncertain parameter's value in one replication, by canonical key path."""
    values: dict[str, float] = {}
    for block in getattr(model, FIELD):
        paths = [m.path for m in members(model, block)]
        drawn = block.sample(seed, replication, draw_key(paths))
        values.update(zip(paths, map(float, drawn), strict=True))
    return values


def set_value(data: Any, path: str, value: float) -> None:
    """Put ``value`` at a canonical key path of a scenario's plain data (``model_dump``)."""
    parts = split_key_path(path)
    node = data
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() and isinstance(node, list | tuple) else node[part]
    node[parts[-1]] = value


def joint_paths(model: BaseModel) -> dict[str, str]:
    """Canonical key path of every jointly uncertain parameter → the block that draws it."""
    out: dict[str, str] = {}
    for index, block in enumerate(getattr(model, FIELD)):
        for key in block.parameters:
            found = resolve(model, key)
            if not isinstance(found, str):
                out[found.path] = block_label(block, index)
    return out


def block_label(block: JointBlock, index: int) -> str:
    """``joint_uncertainty[0]``, with the block's name when it has one."""
    return block_path(index) + (f" ({block.name})" if block.name else "")


def override_problems(model: BaseModel, keys: Iterable[str], source: str) -> list[Problem]:
    """Changes (``--set``, ``with_changes``) that give a jointly uncertain parameter a number: the
    block would overrule it in every replication, so the change is refused rather than ignored."""
    drawn = joint_paths(model)
    problems = []
    for key in keys:
        found = resolve(model, key)
        if not isinstance(found, str) and found.path in drawn:
            problems.append(
                Problem(
                    source,
                    key,
                    f"is drawn jointly in {drawn[found.path]}, which would overrule this value; remove it "
                    "from that block (or the block) to fix it",
                )
            )
    return problems


def _numbers(values: Iterable[float], digits: int = 4) -> str:
    return ", ".join(f"{v:.{digits}g}" for v in values)


def _exact(values: Any) -> str:
    """Numbers as given, to 12 significant digits (so that ``diff`` tells any two apart)."""
    if isinstance(values, list | tuple):
        return "[" + ", ".join(_exact(v) for v in values) + "]"
    return f"{values:.12g}"


def _correlations(covariance: np.ndarray) -> str:
    sd = np.sqrt(np.clip(np.diag(covariance), 0.0, None))
    pairs = [
        f"{covariance[i, j] / (sd[i] * sd[j]):+.2f}" if sd[i] > 0 and sd[j] > 0 else "0"
        for i in range(len(sd))
        for j in range(i + 1, len(sd))
    ]
    return ", ".join(pairs)


def display(value: Any) -> str:
    """A distribution or a joint block on one line, as ``describe`` and ``diff`` show it: a block's
    numbers as given (12 significant digits; an empirical table by its size and a digest of its
    rows), then its standard deviations and correlations."""
    if isinstance(value, SCALAR_DISTRIBUTIONS):
        fields = value.model_dump()
        kind = fields.pop("distribution")
        return f"{kind}(" + ", ".join(f"{k}={v}" for k, v in fields.items()) + ")"
    names = ", ".join(value.parameters)
    if isinstance(value, MultivariateNormal):
        covariance = np.asarray(value.covariance, dtype=float)
        given = f"mean {_exact(value.mean)}, covariance {_exact(value.covariance)}"
        spread = f"sd {_numbers(np.sqrt(np.clip(np.diag(covariance), 0, None)))}"
    elif isinstance(value, MultivariateLogNormal):
        covariance = np.asarray(value.log_covariance, dtype=float)
        given = f"median {_exact(value.median)}, log_covariance {_exact(value.log_covariance)}"
        spread = f"sd of log {_numbers(np.sqrt(np.clip(np.diag(covariance), 0, None)))}"
    else:
        import hashlib

        table = np.asarray(value.draws, dtype=float)
        digest = hashlib.blake2b(table.tobytes(), digest_size=4).hexdigest()
        given = f"{len(table)} rows (digest {digest}), mean {_numbers(table.mean(axis=0), 6)}"
        spread = f"sd {_numbers(table.std(axis=0))}"
        size = len(value.parameters)
        covariance = (
            np.cov(table, rowvar=False).reshape(size, size) if len(table) > 1 else np.zeros((size, size))
        )
    if len(value.parameters) > 1:
        spread += f", correlation {_correlations(covariance)}"
    return f"{value.distribution}({names}: {given}; {spread})"


# --------------------------------------------------------------------------- sensitivity: one factor


@dataclass(frozen=True)
class PrincipalDirection:
    """A block seen as one factor: its members move together along the leading eigenvector of their
    correlation matrix (on the log scale for a log-normal).

    For a score x, member i takes centre_i + x · direction_i (exponentiated for a log-normal): x is
    a standard normal score along that direction, so x in :data:`PRINCIPAL_RANGE` covers the 5th–95th
    percentiles of the block's projection on it. ``explained`` is the share of the block's
    standardised variance along it (1 for a single member, near 1 for estimates correlated ±0.99).
    """

    paths: tuple[str, ...]
    centre: tuple[float, ...]
    direction: tuple[float, ...]
    log_scale: bool
    explained: float

    def values(self, score: float) -> dict[str, float]:
        """Each member's value at a principal score."""
        points = [c + score * d for c, d in zip(self.centre, self.direction, strict=True)]
        if self.log_scale:
            points = [math.exp(p) for p in points]
        return dict(zip(self.paths, points, strict=True))


def principal_direction(model: BaseModel, index: int) -> PrincipalDirection:
    """The one-factor view of block ``index`` of a valid scenario (see :class:`PrincipalDirection`).

    An empirical table is treated by its mean and covariance (its rows themselves are not ordered).
    """
    block = getattr(model, FIELD)[index]
    paths = tuple(m.path for m in members(model, block))
    if isinstance(block, MultivariateNormal):
        centre, covariance, log_scale = np.asarray(block.mean), np.asarray(block.covariance), False
    elif isinstance(block, MultivariateLogNormal):
        centre = np.log(block.median)
        covariance, log_scale = np.asarray(block.log_covariance), True
    else:
        table = np.asarray(block.draws, dtype=float)
        centre, log_scale = table.mean(axis=0), False
        covariance = np.cov(table, rowvar=False).reshape(len(paths), len(paths)) if len(table) > 1 else None
        if covariance is None:
            covariance = np.zeros((len(paths), len(paths)))
    sd = np.sqrt(np.clip(np.diag(covariance), 0.0, None))
    varying = sd > 0
    correlation = np.eye(len(paths))
    if varying.any():
        scaled = covariance[np.ix_(varying, varying)] / np.outer(sd[varying], sd[varying])
        correlation[np.ix_(varying, varying)] = scaled
    eigenvalues, eigenvectors = np.linalg.eigh(correlation * np.outer(varying, varying))
    leading = eigenvectors[:, -1]
    leading = leading if leading[np.argmax(np.abs(leading))] > 0 else -leading  # a sign fixed for good
    total = float(eigenvalues.sum())
    explained = float(eigenvalues[-1] / total) if total > 0 else 1.0
    direction = leading * np.sqrt(max(eigenvalues[-1], 0.0)) * sd
    return PrincipalDirection(
        paths, tuple(map(float, centre)), tuple(map(float, direction)), log_scale, explained
    )


def block_medians(model: BaseModel) -> dict[str, float]:
    """Each jointly uncertain parameter's marginal median, by canonical key path: the mean of a
    normal, the median of a log-normal, the median of an empirical column."""
    out: dict[str, float] = {}
    for block in getattr(model, FIELD):
        paths = [m.path for m in members(model, block)]
        if isinstance(block, MultivariateNormal):
            centre = list(block.mean)
        elif isinstance(block, MultivariateLogNormal):
            centre = list(block.median)
        else:
            centre = list(np.median(np.asarray(block.draws, dtype=float), axis=0))
        out.update(zip(paths, map(float, centre), strict=True))
    return out


def block_index(model: BaseModel, key: str) -> int | None:
    """The index of the block ``key`` names (``joint_uncertainty[2]`` or ``joint_uncertainty[name]``),
    or None if ``key`` names no block."""
    parts = split_key_path(key)
    if len(parts) != 2 or parts[0] != FIELD:
        return None
    blocks = getattr(model, FIELD)
    if parts[1].isdigit():
        return int(parts[1]) if int(parts[1]) < len(blocks) else None
    names = [b.name for b in blocks]
    return names.index(parts[1]) if parts[1] in names else None


def hold_blocks(model: BaseModel, scores: Mapping[int, float]) -> dict[str, Any]:
    """Changes (for ``with_changes``) that hold blocks at principal scores: each member of block
    ``index`` at its value along :func:`principal_direction` at ``scores[index]``, and those blocks
    removed (the others kept)."""
    changes: dict[str, Any] = {}
    for index, score in scores.items():
        changes.update(principal_direction(model, index).values(score))
    changes[FIELD] = [
        block.model_dump(mode="json", exclude_none=True)
        for index, block in enumerate(getattr(model, FIELD))
        if index not in scores
    ]
    return changes

"""The result of a calibration: every estimate as a table and charts, and the calibrated scenario
fragment (``extends:`` the base) in which each fitted value is drawn from its estimation uncertainty."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simlib.analysis.calibration.complaints import ComplaintFit
from simlib.analysis.calibration.fee_change import FeeChangeFit
from simlib.analysis.calibration.fitting import Estimate
from simlib.analysis.calibration.retention import RetentionFit
from simlib.errors import InputError
from simlib.files import write_atomic
from simlib.scenario.scenario import Scenario
from simlib.scenario.uncertainty import resolve


@dataclass(frozen=True)
class JointEstimate:
    """Parameters estimated together by one fit, written as one ``joint_uncertainty`` block.

    Attributes
    ----------
    name : the block's name in the fragment.
    parameters : key paths (segments by name).
    estimate : the estimates, in that order (each in its parameter's unit).
    log_covariance : the covariance of their natural logarithms (every fit here works on the log
        scale, where the observed information is computed).
    """

    name: str
    parameters: tuple[str, ...]
    estimate: np.ndarray
    log_covariance: np.ndarray


class Calibration:
    """Behavioural parameters fitted to a pricing team's history, ready to become a scenario.

    Attributes
    ----------
    base : the scenario the history was observed under; the fragment ``extends`` its file.
    segment : the segment whose churn heterogeneity the retention history describes.
    retention, complaints, fee_change : the fits made (``None`` where no file was given).
    estimates : every fitted parameter, in the order of :attr:`summary`.
    joint : the parameters fitted together (α and β; price sensitivity and loss aversion), with the
        covariance of their logarithms.
    passes : rounds of the retention and fee-change fits, each given the other's latest estimates.
    """

    def __init__(
        self,
        base: Scenario,
        segment: str,
        retention: RetentionFit | None,
        complaints: ComplaintFit | None,
        fee_change: FeeChangeFit | None,
        estimates: Sequence[Estimate],
        joint: Sequence[JointEstimate] = (),
        passes: int = 1,
    ):
        self.base = base
        self.segment = segment
        self.retention = retention
        self.complaints = complaints
        self.fee_change = fee_change
        self.estimates = tuple(estimates)
        self.joint = tuple(joint)
        self.passes = passes

    def __repr__(self) -> str:
        fitted = ", ".join(f"{e.parameter}={e.estimate:.4g}±{e.std_error:.2g}" for e in self.estimates)
        return f"Calibration({fitted})"

    @property
    def summary(self) -> pd.DataFrame:
        """One row per fitted parameter: key path, estimate, standard error, 95% interval (log scale),
        unit, n (see :class:`Estimate`), the fit's log-likelihood, the file and what was fitted."""
        return pd.DataFrame(
            [
                {
                    "parameter": e.parameter,
                    "estimate": e.estimate,
                    "std_error": e.std_error,
                    "ci_95_low": e.interval[0],
                    "ci_95_high": e.interval[1],
                    "unit": e.unit,
                    "n": e.n,
                    "log_likelihood": e.log_likelihood,
                    "source": e.source,
                    "method": e.method,
                }
                for e in self.estimates
            ]
        )

    def plot(self, ax: Any = None) -> list[Any]:
        """Fitted against observed, one panel per history: retention curves with the fit,
        complaints by cause, churn around the fee change.

        ``ax``: one Axes per fitted history (a single Axes when there is one); default a new figure.
        Returns the Axes used.
        """
        fits = [f for f in (self.retention, self.complaints, self.fee_change) if f is not None]
        if ax is None:
            import matplotlib.pyplot as plt

            _, created = plt.subplots(1, len(fits), figsize=(5.5 * len(fits), 4.2), squeeze=False)
            ax = list(created[0])
        axes = list(ax) if isinstance(ax, Sequence | np.ndarray) else [ax]
        if len(axes) != len(fits):
            raise InputError(f"plot needs {len(fits)} Axes, one per fitted history (got {len(axes)})")
        for fit, axis in zip(fits, axes, strict=True):
            fit.plot(axis)
        return axes

    def to_yaml(self) -> str:
        """A scenario fragment that ``extends`` the base's file.

        Parameters fitted together (α and β of the segment; price sensitivity and loss aversion)
        are one ``joint_uncertainty`` block each, a multivariate log-normal: medians = estimates,
        ``log_covariance`` = the covariance of the logarithms from the fit, so draws keep the
        estimates' correlation; each is also stated as its estimate (a number: a parameter is drawn
        either alone or in a joint block). A parameter fitted alone on the log scale (loss aversion
        without price sensitivity) is a ``lognormal`` (median = estimate, sd_log = SE / estimate);
        the complaint rates, fitted independently on their own scale, are normals (mean = estimate,
        sd = standard error, truncated to the valid range). Comments state estimate ± SE and the file
        each came from. Segments are named, so ``extends`` merges them into the base's by name.
        """
        if self.base.path is None:
            raise InputError(
                "the base scenario was not loaded from a file: nothing for the fragment to extend"
            )
        sources = ", ".join(dict.fromkeys(Path(e.source).name for e in self.estimates))
        label = f"{self.base.name} with behavioural parameters fitted to {sources}"
        blocks = [j for j in self.joint if len(j.parameters) > 1]
        alone = {j.parameters[0]: j for j in self.joint if len(j.parameters) == 1}
        jointly = {p for j in blocks for p in j.parameters}
        lines = [
            "# Behavioural parameters fitted by simlib calibrate to the firm's own history. Each is drawn",
            "# once per replication from its estimation uncertainty, so that uncertainty flows into every",
            "# interval. Parameters fitted together are drawn together (joint_uncertainty below: a",
            "# multivariate log-normal with the fit's covariance of their logarithms), which keeps the",
            "# correlation between their estimates; the others are independent.",
            f"extends: {json.dumps(self.base.path.name, ensure_ascii=False)}",
            f"name: {json.dumps(self.base.name + '_calibrated', ensure_ascii=False)}",
            f"label: {json.dumps(label[:200], ensure_ascii=False)}",
        ]

        def entries(chosen: list[Estimate], indent: str) -> list[str]:
            out = []
            for e in chosen:
                if e.parameter in jointly:
                    out += _fixed_entry(e, indent)
                elif e.parameter in alone:
                    out += _lognormal_entry(e, indent)
                else:
                    out += _yaml_entry(e, indent)
            return out

        segment = [e for e in self.estimates if e.parameter.startswith("population.")]
        if segment:
            lines += [
                "population:",
                "  segments:",
                f"    - name: {json.dumps(self.segment, ensure_ascii=False)}",
            ]
            lines += entries(segment, "      ")
        behaviour = [e for e in self.estimates if e.parameter.startswith("behaviour.")]
        if behaviour:
            lines += ["behaviour:", *entries(behaviour, "  ")]
        lines += self._joint_lines(blocks)
        return "\n".join(lines) + "\n"

    def _joint_lines(self, blocks: list[JointEstimate]) -> list[str]:
        """The ``joint_uncertainty`` list: the base's own blocks that share no fitted parameter, then
        one block per joint fit (``!replace``, since the base's list is restated whole)."""
        model = self.base.model
        fitted = {_canonical(model, e.parameter) for e in self.estimates}
        kept = [
            b for b in model.joint_uncertainty if not {_canonical(model, k) for k in b.parameters} & fitted
        ]
        if not blocks and len(kept) == len(model.joint_uncertainty):
            return []
        lines = [f"joint_uncertainty:{' !replace' if model.joint_uncertainty else ''}"]
        for block in kept:
            data = block.model_dump(mode="json", exclude_none=True)
            lines.append(f"  - {json.dumps(data, ensure_ascii=False)}")
        dropped = len(model.joint_uncertainty) - len(kept)
        if dropped:
            lines.append(
                f"  # {dropped} block(s) of the base drew a parameter fitted here and are left out: their "
                "other parameters keep the numbers the base states"
            )
        for block in blocks:
            errors = np.sqrt(np.diag(block.log_covariance))
            correlation = block.log_covariance / np.outer(errors, errors)
            pairs = ", ".join(
                f"{block.parameters[i].rsplit('.', 1)[-1]}–{block.parameters[j].rsplit('.', 1)[-1]} "
                f"{correlation[i, j]:+.2f}"
                for i in range(len(errors))
                for j in range(i + 1, len(errors))
            )
            lines += [
                f"  - name: {json.dumps(block.name, ensure_ascii=False)}",
                f"    parameters: {json.dumps(list(block.parameters), ensure_ascii=False)}",
                "    distribution: multivariate_lognormal",
                "    # medians = the estimates; log_covariance = covariance of their natural logarithms",
                f"    # (correlation {pairs})",
                f"    median: [{', '.join(_number(v, 10) for v in block.estimate)}]",
                "    log_covariance: ["
                + ", ".join(
                    "[" + ", ".join(_number(v, 10) for v in row) + "]" for row in block.log_covariance
                )
                + "]",
            ]
        return lines

    def save(self, path: str | Path) -> Path:
        """Write :meth:`to_yaml` to ``path`` atomically; never replaces an existing file.

        Place it next to the base scenario: its ``extends`` names the base's file.
        """
        path = Path(path)
        if path.exists():
            raise FileExistsError(f"{path} already exists; choose another name")
        text = self.to_yaml()
        write_atomic(path, lambda temporary: Path(temporary).write_text(text, encoding="utf-8"))
        return path


def _canonical(model: Any, key: str) -> str:
    found = resolve(model, key)
    return key if isinstance(found, str) else found.path


def _number(value: float, digits: int = 6) -> str:
    """A float for YAML: ``digits`` significant digits, never in exponent form (YAML 1.1 reads 1e-05
    as text)."""
    return np.format_float_positional(value, precision=digits, unique=False, fractional=False, trim="-")


def _comment(estimate: Estimate, indent: str, note: str = "") -> str:
    return (
        f"{indent}# {estimate.estimate:.4g} ± {estimate.std_error:.4g} {estimate.unit} "
        f"({Path(estimate.source).name}; {estimate.method}){note}"
    )


def _yaml_entry(estimate: Estimate, indent: str) -> list[str]:
    """One fitted parameter as a normal (mean = estimate, sd = SE) truncated to its valid range."""
    key = estimate.parameter.rsplit(".", 1)[-1]
    fields = {"mean": estimate.estimate, "sd": estimate.std_error, "low": estimate.low, "high": estimate.high}
    text = ", ".join(
        f"{name}: {'null' if value is None else _number(value)}" for name, value in fields.items()
    )
    return [_comment(estimate, indent), f"{indent}{key}: {{distribution: normal, {text}}}"]


def _lognormal_entry(estimate: Estimate, indent: str) -> list[str]:
    """A parameter fitted alone on the log scale: lognormal, median = estimate, sd_log = SE / estimate."""
    key = estimate.parameter.rsplit(".", 1)[-1]
    spread = estimate.std_error / estimate.estimate
    return [
        _comment(estimate, indent),
        f"{indent}{key}: {{distribution: lognormal, median: {_number(estimate.estimate)}, "
        f"sd_log: {_number(spread)}}}",
    ]


def _fixed_entry(estimate: Estimate, indent: str) -> list[str]:
    """A parameter drawn in a joint block: stated as its estimate."""
    key = estimate.parameter.rsplit(".", 1)[-1]
    return [
        _comment(estimate, indent, "; drawn jointly, see joint_uncertainty"),
        f"{indent}{key}: {_number(estimate.estimate, 10)}",
    ]

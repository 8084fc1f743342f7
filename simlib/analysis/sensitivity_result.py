"""The result of a sensitivity analysis: the ranked table, the tornado and index charts, provenance,
and saving them all."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simlib.analysis.sensitivity_design import UncertainParameter
from simlib.analysis.sensitivity_indices import MORRIS_COLUMNS, RANKED_BY, SOBOL_COLUMNS, IndexEstimate
from simlib.errors import InputError
from simlib.files import check_output_folder, write_atomic


@contextmanager
def _style() -> Iterator[None]:
    """The project's chart style (simlib.style.charts): fonts, palette, spines, grid."""
    from simlib.style.charts import LATIN_FONT, ChartBook

    with ChartBook((LATIN_FONT,)).style():
        yield


def _tidy(ax: Any) -> None:
    """The style on axes made elsewhere too: no top/right spines, light grid along the values."""
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(True, axis="x", alpha=0.25)
    ax.grid(False, axis="y")


@dataclass(frozen=True, eq=False)
class SensitivityResult:
    """The outcome of :func:`run_sensitivity`.

    Attributes
    ----------
    method : ``"sobol"`` or ``"morris"``.
    parameters : the parameters varied, in problem order, with ranges, centres, labels and units.
    outputs : the outputs analysed; with a reform each is the paired difference reform − base.
    units : unit of each output.
    paired : whether there is a reform.
    table : ranked indices and tornado ends, see :meth:`summary`.
    samples : the design and its outputs, one row per model evaluation (``design`` is the method's
        name for the sample points, ``tornado`` for the one-at-a-time points; ``varied`` is ``centre`` or
        ``key.path=low|high`` for a tornado point).
    centre : each output with every parameter at its centre.
    settings : the provenance (see :meth:`provenance`).
    """

    method: str
    parameters: tuple[UncertainParameter, ...]
    outputs: tuple[str, ...]
    units: Mapping[str, str]
    paired: bool
    table: pd.DataFrame
    samples: pd.DataFrame
    centre: Mapping[str, float]
    settings: Mapping[str, Any]

    def summary(self, output: str | None = None) -> pd.DataFrame:
        """The ranked table (a copy), for one output or all (index ``output``, ``parameter``).

        Per parameter, most important first (Sobol': total-order ``ST``; Morris: ``mu_star``):
        ``rank``, ``label``, ``unit``, the range ``low``/``high`` and ``centre`` in that unit, the
        indices (Sobol' ``S1``, ``S1_conf``, ``ST``, ``ST_conf``: shares of the output's variance;
        Morris ``mu``, ``mu_star``, ``mu_star_conf``, ``sigma``: in the output's unit per whole
        range), the tornado's ``output_at_low``/``output_at_high`` and ``swing`` (their absolute
        difference), and ``output_unit``.
        """
        return self.table.copy() if output is None else self.table.loc[self._output(output)].copy()

    def _output(self, output: str | None) -> str:
        if output is None:
            return self.outputs[0]
        if output not in self.outputs:
            raise InputError(f"unknown output {output!r}; this analysis has {', '.join(self.outputs)}")
        return output

    def _axis_label(self, output: str) -> str:
        return f"{'Δ ' if self.paired else ''}{output} ({self.units[output]})"

    def _what(self, output: str) -> str:
        return f"{output}, reform − base" if self.paired else output

    def tornado(self, output: str | None = None, ax: Any = None):
        """One-at-a-time tornado: the output with each parameter at the low and at the high end of
        its range, the others at their centres (medians); bars sorted by swing, largest on top.

        Returns the axes (on a new :class:`matplotlib.figure.Figure` when ``ax`` is None).
        """
        from simlib.style.charts import BASELINE_COLOUR, PALETTE

        output = self._output(output)
        rows = self.table.loc[output].sort_values("swing", ascending=False, kind="mergesort")
        centre = self.centre[output]
        with _style():
            if ax is None:
                ax = _figure(height=1.4 + 0.42 * len(rows)).subplots()
            positions = np.arange(len(rows))
            # Each end in its own half of the row: when both ends move the output the same way
            # (a non-monotone effect, or Monte Carlo noise), neither bar hides the other.
            for offset, column, colour, end in (
                (-0.19, "output_at_low", PALETTE[0], "low"),
                (0.19, "output_at_high", PALETTE[1], "high"),
            ):
                ax.barh(
                    positions + offset,
                    rows[column].to_numpy() - centre,
                    left=centre,
                    height=0.36,
                    color=colour,
                    label=f"parameter at the {end} end of its range",
                )
            ax.axvline(
                centre,
                color=BASELINE_COLOUR,
                linewidth=0.8,
                label=f"every parameter at its median: {centre:,.4g}",
            )
            ticks = [f"{path}\n{r.low:.3g}–{r.high:.3g} {r.unit}" for path, r in rows.iterrows()]
            ax.set_yticks(positions, ticks, fontsize=7)
            ax.set_ylim(len(rows) - 0.5, -0.5)
            ax.set_xlabel(self._axis_label(output))
            ax.set_title(f"Tornado: {self._what(output)}")
            ax.legend(loc="best", fontsize=7)
            _tidy(ax)
        return ax

    def plot(self, ax: Any = None, output: str | None = None):
        """Bar chart of the indices with their 95% bootstrap intervals, most important on top:
        Sobol' first-order and total-order, or Morris ``mu_star`` and ``sigma``.

        Returns the axes (on a new :class:`matplotlib.figure.Figure` when ``ax`` is None).
        """
        from simlib.style.charts import PALETTE

        output = self._output(output)
        rows = self.table.loc[output]
        if self.method == "sobol":
            bars = (("S1", "S1_conf", "first order S1"), ("ST", "ST_conf", "total order ST"))
            xlabel = f"share of the variance of {self._what(output)}"
        else:
            bars = (("mu_star", "mu_star_conf", "mu* (importance)"), ("sigma", None, "sigma (interactions)"))
            xlabel = f"effect over the whole range on {self._axis_label(output)}"
        with _style():
            if ax is None:
                ax = _figure(height=1.4 + 0.42 * len(rows)).subplots()
            positions = np.arange(len(rows))
            for index, (column, conf, label) in enumerate(bars):
                ax.barh(
                    positions + (index - 0.5) * 0.38,
                    rows[column],
                    height=0.38,
                    xerr=None if conf is None else rows[conf],
                    color=PALETTE[index],
                    label=label,
                    capsize=2,
                    error_kw={"linewidth": 0.8},
                )
            ax.set_yticks(positions, list(rows.index), fontsize=7)
            ax.set_ylim(len(rows) - 0.5, -0.5)
            ax.set_xlabel(xlabel)
            ax.set_title(f"{'Sobol′ indices' if self.method == 'sobol' else 'Morris screening'}: {output}")
            ax.legend(loc="best", fontsize=7)
            _tidy(ax)
        return ax

    def provenance(self) -> dict[str, Any]:
        """Method, sample size, number of model evaluations, seeds, run sizes, parameters and
        their ranges, outputs and units, base and reform fingerprints, versions."""
        return json.loads(json.dumps(dict(self.settings)))

    def save(self, folder: str | Path, overwrite: bool = False) -> Path:
        """Write ``sensitivity.csv`` (the ranked table), ``samples.csv`` (design and outputs),
        ``tornado.png``, ``indices.png`` (one panel per output) and ``sensitivity.json``
        (provenance; written last, so its presence marks a complete save).

        Refuses a folder that already holds files unless ``overwrite`` is set; each file is
        written atomically.
        """
        folder = check_output_folder(folder, overwrite)
        table, samples = self.table, self.samples
        write_atomic(folder / "sensitivity.csv", lambda p: table.to_csv(p))
        write_atomic(folder / "samples.csv", lambda p: samples.to_csv(p, index=False))
        for name, draw in (("tornado.png", self.tornado), ("indices.png", self.plot)):
            with _style():
                figure = _figure(height=(1.4 + 0.42 * len(self.parameters)) * len(self.outputs))
                axes = figure.subplots(len(self.outputs), 1, squeeze=False)[:, 0]
            for ax, output in zip(axes, self.outputs, strict=True):
                draw(output=output, ax=ax)
            write_atomic(folder / name, lambda p, f=figure: f.savefig(p, format="png", dpi=150))
        provenance = json.dumps(self.provenance(), indent=2)
        write_atomic(folder / "sensitivity.json", lambda p: Path(p).write_text(provenance))
        return folder


def _figure(height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(7.6, max(height, 2.5)), layout="constrained", dpi=110)


def ranked_table(
    estimate: IndexEstimate,
    parameters: Sequence[UncertainParameter],
    outputs: Sequence[str],
    units: Mapping[str, str],
    tornado_outputs: np.ndarray,
) -> pd.DataFrame:
    """The per-output tables joined with labels, ranges and the tornado's outputs (rows as from
    :func:`tornado_design`), ranked within output."""
    columns = SOBOL_COLUMNS if estimate.method == "sobol" else MORRIS_COLUMNS
    parts = []
    for index, output in enumerate(outputs):
        frame = pd.DataFrame(
            {
                "label": [p.label for p in parameters],
                "unit": [p.unit for p in parameters],
                "low": [p.low for p in parameters],
                "high": [p.high for p in parameters],
                "centre": [p.centre for p in parameters],
            },
            index=pd.Index([p.path for p in parameters], name="parameter"),
        )
        frame = frame.join(estimate.tables[index][list(columns)])
        frame["output_at_low"] = tornado_outputs[1::2, index]
        frame["output_at_high"] = tornado_outputs[2::2, index]
        frame["swing"] = np.abs(frame["output_at_high"] - frame["output_at_low"])
        frame["output_unit"] = units[output]
        frame = frame.sort_values(RANKED_BY[estimate.method], ascending=False, kind="mergesort")
        frame.insert(0, "rank", np.arange(1, len(frame) + 1))
        parts.append(frame)
    return pd.concat(parts, keys=list(outputs), names=["output", "parameter"])


def samples_frame(
    method: str,
    parameters: Sequence[UncertainParameter],
    outputs: Sequence[str],
    design: np.ndarray,
    tornado: np.ndarray,
    values: np.ndarray,
) -> pd.DataFrame:
    """The design and tornado points with their outputs, one row per model evaluation."""
    varied = ["centre"] + [f"{p.path}={end}" for p in parameters for end in ("low", "high")]
    frame = pd.DataFrame(
        {
            "design": [method] * len(design) + ["tornado"] * len(tornado),
            "varied": [""] * len(design) + varied,
        }
    )
    points = np.vstack([design, tornado])
    for index, parameter in enumerate(parameters):
        frame[parameter.path] = points[:, index]
    for index, output in enumerate(outputs):
        frame[output] = values[:, index]
    return frame

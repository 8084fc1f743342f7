"""The briefing's charts: one style, labelled axes with units, a caption and alt text each, the data
behind each chart kept as a table, and fonts that cover every character drawn.

Charts are drawn on :class:`matplotlib.figure.Figure` objects (not pyplot), so building a briefing
never touches global plotting state and nothing is displayed twice in a notebook.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd

from simlib.errors import InputError

#: Fonts with Chinese glyphs, in order of preference; `make system-deps` installs the first.
CJK_FONTS = (
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
)
LATIN_FONT = "DejaVu Sans"
PALETTE = ("#1f5fa8", "#d1495b", "#2e933c", "#edae49", "#66a182", "#8d6a9f", "#00798c", "#b56576")
BASELINE_COLOUR = "#555555"
HIGHLIGHT_COLOUR = "#d1495b"


class MissingFontError(InputError):
    """No installed font can draw the briefing's characters."""


@dataclass(frozen=True)
class Chart:
    """A drawn chart: PNG bytes, the table it was drawn from, a one-sentence caption, alt text."""

    name: str
    png: bytes
    data: pd.DataFrame
    caption: str
    alt: str

    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


@cache
def _font_path(family: str) -> str | None:
    from matplotlib import font_manager

    for attempt in range(2):
        try:
            return font_manager.findfont(
                font_manager.FontProperties(family=family), fallback_to_default=False
            )
        except ValueError:
            if attempt == 0:
                _add_new_system_fonts()
    return None


@cache
def _add_new_system_fonts() -> None:
    """Matplotlib caches the font list; a font installed after that (by `make system-deps`) is
    only seen once added."""
    from matplotlib import font_manager

    known = {entry.fname for entry in font_manager.fontManager.ttflist}
    for path in font_manager.findSystemFonts():
        if path not in known:
            try:
                font_manager.fontManager.addfont(path)
            except (OSError, RuntimeError, ValueError):
                continue


@cache
def _charmap(path: str) -> frozenset[int]:
    from matplotlib.ft2font import FT2Font

    return frozenset(FT2Font(path).get_charmap())


def missing_characters(text: str, fonts: Iterable[str]) -> set[str]:
    """Characters of ``text`` that none of ``fonts`` has a glyph for (spaces and controls ignored)."""
    maps = [_charmap(path) for path in (_font_path(f) for f in fonts) if path]
    return {
        c for c in set(text) if c.isprintable() and not c.isspace() and not any(ord(c) in m for m in maps)
    }


def fonts_for(language: str, text: str) -> tuple[str, ...]:
    """The font families to draw ``text`` with: DejaVu Sans, plus a CJK font for Chinese.

    Raises
    ------
    MissingFontError
        If some character of ``text`` has no glyph in them: a chart would show empty boxes.
    """
    fonts: tuple[str, ...] = (LATIN_FONT,)
    if language == "zh":
        installed = [f for f in CJK_FONTS if _font_path(f)]
        if not installed:
            raise MissingFontError(
                "no font with Chinese characters is installed, so Chinese charts would show empty boxes; "
                "install one with `make system-deps` (Debian package fonts-wqy-microhei)"
            )
        fonts = (LATIN_FONT, installed[0])
    missing = missing_characters(text, fonts)
    if missing:
        raise MissingFontError(
            f"the fonts {', '.join(fonts)} cannot draw {''.join(sorted(missing))!r}; "
            "install a font that covers them (see `make system-deps`)"
        )
    return fonts


_LABEL_OFFSETS = ((4, 3), (4, -10), (-4, 3), (-4, -10), (4, 13), (4, -20), (-4, 13), (-4, -20))


def _label_points(figure, ax, frame: pd.DataFrame, recommended: str | None, bold: dict) -> None:
    """Name every point, trying a few positions around it so that labels do not overlap."""
    from matplotlib.ticker import FuncFormatter

    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
    # Settle the layout first and freeze it, so the label boxes measured here are where they print.
    figure.draw_without_rendering()
    figure.set_layout_engine("none")
    renderer = figure.canvas.get_renderer()
    taken = []
    order = sorted(frame.index, key=lambda name: name != recommended)  # the recommended one first
    for name in order:
        row = frame.loc[name]
        for dx, dy in _LABEL_OFFSETS:
            text = ax.annotate(
                str(name),
                (row["complaints_mean"], row["revenue_mean"]),
                fontsize=6.5,
                xytext=(dx, dy),
                textcoords="offset points",
                ha="left" if dx > 0 else "right",
                **(bold if name == recommended else {"fontweight": "normal"}),
            )
            box = text.get_window_extent(renderer)
            if not any(box.overlaps(other) for other in taken):
                taken.append(box)
                break
            text.remove()
        else:
            taken.append(
                ax.annotate(
                    str(name),
                    (row["complaints_mean"], row["revenue_mean"]),
                    fontsize=6.5,
                    xytext=(4, 3),
                    textcoords="offset points",
                ).get_window_extent(renderer)
            )


#: Stroke width (points) that thickens the strokes of a font with no bold face.
FAUX_BOLD_STROKE = 0.6


class ChartBook:
    """Draws the briefing's charts in one style with one set of fonts.

    A CJK font usually has a single weight (WenQuanYi Micro Hei has): asking it for bold makes
    matplotlib warn "findfont: Failed to find font weight bold" and draw it regular. With such a
    font, titles and emphasised labels are drawn in the regular weight with a thin outline in the
    text's own colour (:meth:`bold`), which reads as bold.
    """

    def __init__(self, fonts: tuple[str, ...]):
        self.fonts = fonts
        self.cjk = any(font in CJK_FONTS for font in fonts)

    def bold(self, colour: str | None = None) -> dict:
        """Text keyword arguments for bold text: ``fontweight``, or with a CJK font an outline in
        ``colour`` (the text's colour; default the current ``text.color``)."""
        if not self.cjk:
            return {"fontweight": "bold"}
        import matplotlib
        from matplotlib import patheffects

        colour = colour or matplotlib.rcParams["text.color"]

        return {
            "fontweight": "normal",
            "path_effects": [patheffects.withStroke(linewidth=FAUX_BOLD_STROKE, foreground=colour)],
        }

    def title(self, ax, text: str) -> None:
        """Set ``ax``'s title, bold (an outlined regular weight with a CJK font)."""
        heading = ax.set_title(text)
        if self.cjk:
            heading.set_path_effects(self.bold(heading.get_color())["path_effects"])

    def figure(self, width: float = 7.6, height: float = 3.9):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        figure = Figure(figsize=(width, height), layout="constrained", dpi=110)
        FigureCanvasAgg(figure)  # a renderer, to measure labels before placing them
        return figure

    def style(self):
        """A matplotlib rc context with the book's fonts and styling (for charts drawn elsewhere)."""
        import matplotlib

        return matplotlib.rc_context(
            {
                "font.family": list(self.fonts),
                "font.size": 9,
                "axes.titlesize": 10,
                "axes.titleweight": "normal" if self.cjk else "bold",  # see bold()
                "axes.spines.top": False,
                "axes.spines.right": False,
                "axes.grid": True,
                "grid.alpha": 0.25,
                "axes.prop_cycle": matplotlib.cycler(color=PALETTE),
                "axes.unicode_minus": True,
                "legend.fontsize": 8,
                "legend.frameon": False,
            }
        )

    def _png(self, figure) -> bytes:
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=150)
        return buffer.getvalue()

    def frontier(self, frame: pd.DataFrame, recommended: str | None, labels: dict[str, str]) -> bytes:
        """Paired differences of net revenue against complaint rate, with 90% interval bars; the
        frontier joined; the recommended policy highlighted. ``frame`` as from ``frontier_table``."""
        with self.style():
            figure = self.figure()
            ax = figure.subplots()
            for name, row in frame.iterrows():
                colour = HIGHLIGHT_COLOUR if name == recommended else PALETTE[0]
                ax.errorbar(
                    row["complaints_mean"],
                    row["revenue_mean"],
                    xerr=[
                        [row["complaints_mean"] - row["complaints_low"]],
                        [row["complaints_high"] - row["complaints_mean"]],
                    ],
                    yerr=[
                        [row["revenue_mean"] - row["revenue_low"]],
                        [row["revenue_high"] - row["revenue_mean"]],
                    ],
                    fmt="o",
                    color=colour,
                    alpha=0.85,
                    capsize=2,
                    markersize=6 if name == recommended else 4,
                )
            front = frame[frame["on_frontier"]].sort_values("complaints_mean")
            ax.plot(
                front["complaints_mean"],
                front["revenue_mean"],
                "--",
                color="#999999",
                linewidth=1,
                label=labels["frontier"],
            )
            ax.axhline(0.0, color=BASELINE_COLOUR, linewidth=0.8)
            ax.axvline(0.0, color=BASELINE_COLOUR, linewidth=0.8)
            ax.set_xlabel(labels["x"])
            ax.set_ylabel(labels["y"])
            self.title(ax, labels["title"])
            ax.legend(loc="best")
            _label_points(figure, ax, frame, recommended, self.bold())
            return self._png(figure)

    def over_time(self, bands: dict[str, pd.DataFrame], highlight: set[str], labels: dict[str, str]) -> bytes:
        """Monthly mean with its 90% band (``mean``, ``low``, ``high`` by month) for each run; bands
        drawn for the highlighted runs only, to stay readable with many policies."""
        with self.style():
            figure = self.figure()
            ax = figure.subplots()
            for index, (name, band) in enumerate(bands.items()):
                colour = BASELINE_COLOUR if index == 0 else PALETTE[index % len(PALETTE)]
                emphasised = name in highlight
                if emphasised:
                    ax.fill_between(
                        band.index, band["low"], band["high"], color=colour, alpha=0.15, linewidth=0
                    )
                ax.plot(
                    band.index,
                    band["mean"],
                    color=colour,
                    linewidth=2.0 if emphasised else 0.9,
                    alpha=1.0 if emphasised else 0.6,
                    label=name,
                )
            ax.set_xlabel(labels["x"])
            ax.set_ylabel(labels["y"])
            self.title(ax, labels["title"])
            ax.legend(ncols=2 if len(bands) > 6 else 1, loc="best")
            return self._png(figure)

    def causes(self, churn: pd.DataFrame, complaints: pd.DataFrame, labels: dict[str, str]) -> bytes:
        """Two stacked horizontal bar panels: customers lost and complaints, by cause, per policy."""
        with self.style():
            height = 2.2 + 0.22 * len(churn)
            figure = self.figure(height=min(height, 6.0))
            axes = figure.subplots(1, 2, sharey=True)
            for ax, table, title, unit in (
                (axes[0], churn, labels["churn_title"], labels["churn_unit"]),
                (axes[1], complaints, labels["complaints_title"], labels["complaints_unit"]),
            ):
                left = np.zeros(len(table))
                for index, column in enumerate(table.columns):
                    ax.barh(
                        table.index,
                        table[column],
                        left=left,
                        color=PALETTE[index % len(PALETTE)],
                        label=column,
                    )
                    left += table[column].to_numpy()
                self.title(ax, title)
                ax.set_xlabel(unit)
                ax.invert_yaxis()
                ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncols=2, fontsize=7)
                ax.grid(axis="y", visible=False)
            return self._png(figure)

    def segments(self, table: pd.DataFrame, labels: dict[str, str]) -> bytes:
        """Grouped horizontal bars: per policy and segment, the paired difference with its 90%
        interval. ``table`` has columns policy, segment, mean, low, high."""
        with self.style():
            policies = list(dict.fromkeys(table["policy"]))
            segments = list(dict.fromkeys(table["segment"]))
            figure = self.figure(height=min(2.0 + 0.3 * len(policies) * max(len(segments), 1) / 2, 6.5))
            ax = figure.subplots()
            step = 0.8 / max(len(segments), 1)
            for index, segment in enumerate(segments):
                part = table[table["segment"] == segment].set_index("policy").reindex(policies)
                positions = np.arange(len(policies)) + index * step
                ax.barh(
                    positions,
                    part["mean"],
                    height=step,
                    xerr=[part["mean"] - part["low"], part["high"] - part["mean"]],
                    color=PALETTE[index % len(PALETTE)],
                    label=segment,
                    capsize=2,
                    error_kw={"linewidth": 0.8},
                )
            ax.set_yticks(np.arange(len(policies)) + step * (len(segments) - 1) / 2, policies)
            ax.invert_yaxis()
            ax.axvline(0.0, color=BASELINE_COLOUR, linewidth=0.8)
            ax.set_xlabel(labels["x"])
            self.title(ax, labels["title"])
            ax.legend(title=labels["legend"], loc="best")
            ax.grid(axis="y", visible=False)
            return self._png(figure)

    def winners_losers(self, table: pd.DataFrame, labels: dict[str, str]) -> bytes:
        """Diverging bars: share of customers whose bill fell (left) or rose (right) by more than
        5%, with 90% intervals. ``table`` indexed by policy with winners/losers mean, low, high."""
        with self.style():
            figure = self.figure(height=min(1.8 + 0.28 * len(table), 6.0))
            ax = figure.subplots()
            positions = np.arange(len(table))
            winners = table["winners_mean"] * 100
            losers = table["losers_mean"] * 100
            ax.barh(
                positions,
                -winners,
                color=PALETTE[2],
                label=labels["winners"],
                xerr=[
                    (table["winners_high"] - table["winners_mean"]) * 100,
                    (table["winners_mean"] - table["winners_low"]) * 100,
                ],
                capsize=2,
                error_kw={"linewidth": 0.8},
            )
            ax.barh(
                positions,
                losers,
                color=PALETTE[1],
                label=labels["losers"],
                xerr=[
                    (table["losers_mean"] - table["losers_low"]) * 100,
                    (table["losers_high"] - table["losers_mean"]) * 100,
                ],
                capsize=2,
                error_kw={"linewidth": 0.8},
            )
            ax.set_yticks(positions, table.index)
            ax.invert_yaxis()
            ax.axvline(0.0, color=BASELINE_COLOUR, linewidth=0.8)
            from matplotlib.ticker import FuncFormatter

            ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{abs(value):g}"))
            ax.set_xlabel(labels["x"])
            self.title(ax, labels["title"])
            ax.legend(loc="best")
            ax.grid(axis="y", visible=False)
            return self._png(figure)

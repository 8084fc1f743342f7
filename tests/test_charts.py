"""Chart fonts: a briefing never draws a character its fonts lack."""

from __future__ import annotations

import pytest

from simlib.report.i18n import catalogue
from simlib.style.charts import CJK_FONTS, LATIN_FONT, MissingFontError, fonts_for, missing_characters


def test_english_needs_only_the_latin_font() -> None:
    text = "".join(catalogue("en").values())
    assert fonts_for("en", text) == (LATIN_FONT,)
    assert missing_characters(text, (LATIN_FONT,)) == set()


def test_chinese_uses_an_installed_cjk_font_covering_the_whole_catalogue() -> None:
    text = "".join(catalogue("zh").values())
    fonts = fonts_for("zh", text)
    assert fonts[0] == LATIN_FONT and fonts[1] in CJK_FONTS
    assert missing_characters(text, fonts) == set()


def test_a_character_no_font_has_is_refused_not_drawn_as_a_box() -> None:
    assert missing_characters("费", (LATIN_FONT,)) == {"费"}
    with pytest.raises(MissingFontError, match="cannot draw"):
        fonts_for("en", "扣费标准")
    with pytest.raises(MissingFontError, match="cannot draw"):
        fonts_for("zh", "\U0001d11e")  # a musical symbol neither font has


def test_a_chinese_chart_has_bold_looking_titles_without_a_findfont_warning(caplog) -> None:
    """WenQuanYi Micro Hei has one weight: bold is an outline, not a request findfont cannot meet."""
    import logging

    import pandas as pd

    from simlib.style.charts import ChartBook

    text = "净收入与投诉每千名客户月投诉变化前沿"
    book = ChartBook(fonts_for("zh", text))
    assert book.cjk and book.bold()["fontweight"] == "normal" and book.bold()["path_effects"]
    assert ChartBook((LATIN_FONT,)).bold() == {"fontweight": "bold"}
    frame = pd.DataFrame(
        {f"{m}_{s}": [1.0, 2.0] for m in ("complaints", "revenue") for s in ("mean", "low", "high")}
        | {"on_frontier": [True, True]},
        index=["penalty_fee", "tiered_usage"],
    )
    labels = {
        "frontier": "前沿",
        "x": "每千名客户月投诉变化",
        "y": "净收入变化（欧元）",
        "title": "净收入与投诉",
    }
    with caplog.at_level(logging.DEBUG, logger="matplotlib.font_manager"):
        png = book.frontier(frame, "penalty_fee", labels)
    assert png.startswith(b"\x89PNG")
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert not [w for w in warnings if "findfont" in w], warnings

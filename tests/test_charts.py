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

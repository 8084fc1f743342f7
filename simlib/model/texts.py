"""Texts in several languages: a scenario's label and description, a segment's label.

A scenario file may give such a text as one string (every language) or per language::

    label: {en: "€12 fee on every failed deduction", zh: "每次扣款失败收取 12 欧元手续费"}

The value is held as a :class:`Text`: a ``str`` whose value is the English text (or the only one),
so that everything that reads ``scenario.label`` as a string keeps working, and which carries its
other languages for :func:`localized`. Serialised (``model_dump``, ``as_dict``) it is the plain
string again when it has one language, else the mapping, so a scenario round-trips.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import Field, GetCoreSchemaHandler, GetJsonSchemaHandler, ValidationError
from pydantic_core import PydanticCustomError, core_schema

from simlib.model.distributions import StrictNumbers

#: Language codes a text may be given in; the first is the fallback.
LANGUAGES = ("en", "zh")


class Text(str):
    """A text in one or more languages; as a ``str`` it is the English text (else any one given).

    Immutable and hashable like a ``str``; equal to another :class:`Text` only if every language
    is equal.
    """

    def __new__(cls, value: str | Mapping[str, str]) -> Text:
        if isinstance(value, Text):
            return value
        if isinstance(value, str):
            translations: dict[str, str] = {}
            primary = value
        else:
            translations = {str(k): str(v) for k, v in value.items()}
            if not translations:
                raise ValueError("a text needs at least one language")
            primary = translations.get(LANGUAGES[0], next(iter(translations.values())))
        self = super().__new__(cls, primary)
        object.__setattr__(self, "translations", types.MappingProxyType(translations))
        return self

    translations: Mapping[str, str]
    """The text by language code; empty when the text is the same in every language."""

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Text is immutable")

    def __reduce__(self) -> tuple[Any, ...]:
        return (Text, (self.as_data(),))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Text):
            return str(self) == str(other) and self.as_data() == other.as_data()
        return str.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = str.__hash__

    def __repr__(self) -> str:
        return f"Text({self.as_data()!r})"

    def in_language(self, language: str) -> str:
        """The text in ``language``, else in English, else in any language given."""
        return localized(self, language)

    def as_data(self) -> str | dict[str, str]:
        """Plain data as a scenario file holds it: a string, or a mapping by language."""
        return dict(self.translations) if self.translations else str(self)


def localized(text: str | Mapping[str, str], language: str) -> str:
    """``text`` in ``language``: falls back to English, then to any language given.

    Parameters
    ----------
    text : a plain string (the same in every language), a :class:`Text`, or a mapping by code.
    language : a language code such as ``"zh"``.
    """
    if isinstance(text, Text):
        text = text.translations or str(text)
    if isinstance(text, str):
        return str(text)
    for code in (language, LANGUAGES[0]):
        if text.get(code):
            return str(text[code])
    return str(next(iter(text.values()), ""))


class _Wording(StrictNumbers):
    """One language's text, checked like any text field: printable, no pictographs."""

    label: str = Field("", json_schema_extra={"unit": "text"})
    description: str = Field("", json_schema_extra={"unit": "text"})


@dataclass(frozen=True)
class InLanguages:
    """Pydantic annotation of a :class:`Text` field: ``Annotated[Text, InLanguages(200)]``.

    Accepts a string or a mapping from language codes (:data:`LANGUAGES`) to non-empty strings;
    errors name the language's key (``label.zh``). ``multiline`` allows line breaks and tabs.
    """

    max_length: int | None = None
    multiline: bool = False

    def _printable(self, value: str) -> str:
        field = "description" if self.multiline else "label"
        try:
            _Wording.model_validate({field: value})
        except ValidationError as exc:
            raise ValueError(str(exc.errors()[0]["ctx"]["error"])) from None
        return value

    def _too_long(self, value: str) -> None:
        if self.max_length is not None and len(value) > self.max_length:
            raise PydanticCustomError(
                "string_too_long",
                "String should have at most {max_length} characters",
                {"max_length": self.max_length},
            )

    def _language(self, code: Any) -> str:
        if code not in LANGUAGES:
            raise PydanticCustomError(
                "language_code", "unknown language code; use {codes}", {"codes": " or ".join(LANGUAGES)}
            )
        return code

    def _translation(self, value: str) -> str:
        self._too_long(value)
        return self._printable(value)

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        by_language = core_schema.dict_schema(
            keys_schema=core_schema.no_info_plain_validator_function(self._language),
            values_schema=core_schema.no_info_after_validator_function(
                self._translation, core_schema.str_schema(strict=True, min_length=1)
            ),
            min_length=1,
        )

        def validate(value: Any, nested: core_schema.ValidatorFunctionWrapHandler) -> Text:
            if isinstance(value, Text):
                value = value.as_data()
            if isinstance(value, str):
                self._too_long(value)
                return Text(self._printable(value))
            if isinstance(value, Mapping):
                return Text(nested(dict(value)))
            raise PydanticCustomError(
                "text_type",
                "must be text, or a mapping from language codes ({codes}) to text",
                {"codes": ", ".join(LANGUAGES)},
            )

        return core_schema.no_info_wrap_validator_function(
            validate,
            by_language,
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda value: value.as_data() if isinstance(value, Text) else value
            ),
        )

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        text: dict[str, Any] = {"type": "string"}
        if self.max_length is not None:
            text["maxLength"] = self.max_length
        return {
            "anyOf": [
                text,
                {
                    "type": "object",
                    "properties": {code: {**text, "minLength": 1} for code in LANGUAGES},
                    "additionalProperties": False,
                    "minProperties": 1,
                },
            ]
        }

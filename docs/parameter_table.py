"""Print the parameter table of docs/model.md, generated from the scenario schema.

Run from the repository root and paste the output between the markers
``<!-- parameter-table:start -->`` and ``<!-- parameter-table:end -->`` of docs/model.md::

    .venv/bin/python docs/parameter_table.py

or let the script do the pasting::

    .venv/bin/python docs/parameter_table.py --write

The table walks :class:`simlib.model.parameters.ScenarioModel` recursively. A nested section adds its name
to the key path (``behaviour.loss_aversion``); a list of sections gets a row of its own and then one
row per field of its items, with ``[]`` in the path (``population.segments[].churn_alpha``).
``{cur}`` in a unit stands for the scenario currency (``simulation.currency``). tests/test_docs.py
regenerates the table and fails when docs/model.md no longer matches the schema.
"""

from __future__ import annotations

import sys
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from simlib.model.parameters import ScenarioModel

START = "<!-- parameter-table:start -->"
END = "<!-- parameter-table:end -->"
MODEL_MD = Path(__file__).with_name("model.md")
NO_SOURCE = "—"
_HEADER = ("Key path", "Label", "Unit", "Accepts", "Default", "Source")


def _source(extra: dict[str, Any]) -> str:
    """The source, and for a judgement the range to try in `simlib sensitivity`."""
    text = str(extra.get("source", NO_SOURCE))
    if "try_range" in extra:
        low, high = extra["try_range"]
        if extra.get("try_relative"):
            text += f"; try ×{low:g} to ×{high:g} of the value in `sensitivity`"
        else:
            text += f"; try {low:g} to {high:g} in `sensitivity`"
    return text


@dataclass(frozen=True)
class Row:
    """One row of the table: a leaf parameter or a list of sections."""

    path: str
    label: str
    unit: str
    accepts: str
    default: str
    source: str

    @property
    def group(self) -> str:
        """The top-level section the parameter belongs to (``scenario`` for top-level scalars)."""
        head = self.path.split(".")[0].split("[")[0]
        return head if head in _SECTION_TITLES else "scenario"


def _is_section(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _is_distribution(annotation: Any) -> bool:
    return _is_section(annotation) and "distribution" in annotation.model_fields


def _list_item(annotation: Any) -> type[BaseModel] | None:
    """The section class of a ``tuple[Section, ...]`` field, else None."""
    if typing.get_origin(annotation) is tuple:
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        if len(args) == 1 and _is_section(args[0]) and not _is_distribution(args[0]):
            return args[0]
    return None


def _number(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return str(value)


def _range(constraints: list[Any]) -> str:
    low = high = None
    for c in constraints:
        if isinstance(c, annotated_types.Ge):
            low = ("[", c.ge)
        elif isinstance(c, annotated_types.Gt):
            low = ("(", c.gt)
        elif isinstance(c, annotated_types.Le):
            high = ("]", c.le)
        elif isinstance(c, annotated_types.Lt):
            high = (")", c.lt)
    if low and high:
        return f" in {low[0]}{_number(low[1])}, {_number(high[1])}{high[0]}"
    if low:
        return f" {'≥' if low[0] == '[' else '>'} {_number(low[1])}"
    if high:
        return f" {'≤' if high[0] == ']' else '<'} {_number(high[1])}"
    return ""


def _length(constraints: list[Any]) -> str:
    for c in constraints:
        if isinstance(c, annotated_types.MaxLen):
            return f" (≤ {c.max_length} characters)"
    return ""


def _constraints(extras: tuple[Any, ...]) -> list[Any]:
    out: list[Any] = []
    for extra in extras:
        out.extend(extra.metadata if isinstance(extra, FieldInfo) else [extra])
    return out


def accepts(annotation: Any, constraints: list[Any] | None = None) -> str:
    """What a value of this annotation may be, in words (``number in [0, 1] or distribution``)."""
    constraints = list(constraints or [])
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        base, *extras = typing.get_args(annotation)
        return accepts(base, constraints + _constraints(tuple(extras)))
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        options = [a for a in args if a is not type(None)]
        if options and all(_is_distribution(a) for a in options):
            return "distribution"
        words: list[str] = []
        for option in options:
            word = accepts(option, constraints)
            if word not in words:
                words.append(word)
        if type(None) in args:
            words.append("empty")
        return " or ".join(words)
    if origin is typing.Literal:
        return "one of " + ", ".join(f"`{v}`" for v in typing.get_args(annotation))
    if annotation is bool:
        return "true/false"
    if annotation is int:
        return "integer" + _range(constraints)
    if annotation is float:
        return "number" + _range(constraints)
    if annotation is str:
        return "text" + _length(constraints)
    if origin is tuple:
        return "list"
    if origin is dict:
        return "mapping"
    return getattr(annotation, "__name__", str(annotation))


def _item_text(item: BaseModel) -> str:
    given = item.model_dump(mode="json", exclude_defaults=True)
    if not given:
        return "{}"
    return "{" + ", ".join(f"{k}: {_value(v)}" for k, v in given.items()) + "}"


def _value(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, BaseModel) and "distribution" in type(value).model_fields:
        fields = value.model_dump()
        kind = fields.pop("distribution")
        return f"{kind}(" + ", ".join(f"{k}={_number(v)}" for k, v in fields.items()) + ")"
    if isinstance(value, BaseModel):
        return _item_text(value)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, str):
        return f'"{value}"' if value == "" else value
    return _number(value)


def _default(field: FieldInfo) -> Any:
    if field.default_factory is not None:
        return field.default_factory()  # type: ignore[call-arg]
    return field.default


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def parameter_rows(model: type[BaseModel] = ScenarioModel, prefix: str = "") -> list[Row]:
    """Every parameter of the schema, in schema order, as table rows."""
    rows: list[Row] = []
    for name, field in model.model_fields.items():
        path = f"{prefix}.{name}" if prefix else name
        if _is_section(field.annotation) and not _is_distribution(field.annotation):
            rows += parameter_rows(field.annotation, path)
            continue
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        default = _default(field)
        item = _list_item(field.annotation)
        text = _value(default)
        if item is not None and default and all(i == item() for i in default):
            text += " (each item: the defaults below)"
        rows.append(
            Row(
                path=path,
                label=field.description or "",
                unit=str(extra.get("unit", "")),
                accepts=accepts(field.annotation, list(field.metadata)),
                default=text,
                source=_source(extra),
            )
        )
        if item is not None:
            rows += parameter_rows(item, f"{path}[]")
    return rows


def _section_titles() -> dict[str, str]:
    titles = {"scenario": "Scenario identity"}
    for name, field in ScenarioModel.model_fields.items():
        section = field.annotation if _is_section(field.annotation) else _list_item(field.annotation)
        if section is not None and section.__doc__:
            titles[name] = section.__doc__.strip().splitlines()[0]
    return titles


_SECTION_TITLES: dict[str, str] = {}
_SECTION_TITLES.update(_section_titles())


def markdown_table(rows: list[Row] | None = None) -> str:
    """The Markdown text that goes between the markers: one table per top-level section."""
    rows = parameter_rows() if rows is None else rows
    groups: dict[str, list[Row]] = {}
    for row in rows:
        groups.setdefault(row.group, []).append(row)
    lines: list[str] = []
    for group, members in groups.items():
        heading = "the scenario's own fields" if group == "scenario" else f"`{group}`"
        lines += [f"#### {heading} — {_SECTION_TITLES[group]}", ""]
        lines.append("| " + " | ".join(_HEADER) + " |")
        lines.append("|" + "|".join("---" for _ in _HEADER) + "|")
        for r in members:
            cells = (f"`{r.path}`", r.label, r.unit, r.accepts, r.default, r.source)
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def table_in(document: str) -> str:
    """The text between the markers of a document (raises ValueError if they are missing)."""
    start, end = document.find(START), document.find(END)
    if start < 0 or end < start:
        raise ValueError(f"the markers {START} … {END} are missing or out of order")
    return document[start + len(START) : end].strip("\n") + "\n"


def write(path: Path = MODEL_MD) -> None:
    """Replace the table between the markers of ``path`` with a freshly generated one."""
    document = path.read_text(encoding="utf-8")
    table_in(document)  # check the markers first
    head, rest = document.split(START, 1)
    _, tail = rest.split(END, 1)
    path.write_text(f"{head}{START}\n{markdown_table()}{END}{tail}", encoding="utf-8")


def main(argv: list[str]) -> int:
    if "--write" in argv:
        write()
        print(f"updated {MODEL_MD}")
    else:
        sys.stdout.write(markdown_table())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

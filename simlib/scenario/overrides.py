"""``--set`` overrides: setting one key path in a scenario's raw mapping, and blaming bad values on
the command line (or on the parent file they were inherited from) rather than on the file."""

from __future__ import annotations

import typing
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from simlib.errors import Problem, show_value
from simlib.keypaths import covers, join_key_path, split_key_path
from simlib.model.parameters import ScenarioModel
from simlib.scenario.describe import origin_of
from simlib.scenario.schema import field_model, fields_of, item_model, unknown_key_message

#: The origin of a value given with ``--set`` or :meth:`Scenario.with_changes`.
COMMAND_LINE = "command line"


def apply_override(raw: dict, key: str, value: Any, origin: str, origins: dict[str, str]) -> list[Problem]:
    """Set one ``key.path`` in the raw mapping; list items may be named or numbered."""
    source = _source_of(origin)
    parts = split_key_path(key)
    if not parts:
        return [Problem(source, key, "empty key path")]
    if parts[0] == "extends":
        # Inheritance is resolved when the file is read; an override comes after it.
        return [
            Problem(
                source,
                key,
                "cannot be overridden: extends is read from the scenario file (write "
                "`extends: baseline.yaml` in the file instead)",
            )
        ]
    node: Any = raw
    model: Any = ScenarioModel
    walked: list[str] = []
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        if isinstance(node, list):
            index = _list_index(node, part)
            if index is None:
                names = [str(i.get("name")) for i in node if isinstance(i, dict)]
                hint = f"; items are {', '.join(names)}" if names else ""
                return [Problem(source, key, f"no list item {part!r}{hint}")]
            walked.append(f"[{index}]")
            if last:
                node[index] = value
                break
            node = node[index]
            model = item_model(model)
            continue
        fields = fields_of(model)
        if fields is not None and part not in fields and model is not dict:
            here = join_key_path(walked) or "top level"
            return [
                Problem(
                    source,
                    key,
                    unknown_key_message(part, walked, fields, here) + f" (value {show_value(value)})",
                )
            ]
        walked.append(part)
        if last:
            node[part] = value
            break
        child_model = field_model(model, part)
        if part not in node or node[part] is None:
            # A list field must start as a list, so that an item in it is reported as missing.
            node[part] = [] if typing.get_origin(child_model) in (tuple, list) else {}
        if not isinstance(node[part], dict | list):
            return [
                Problem(
                    source,
                    key,
                    f"{join_key_path(walked)} is a single value, not a section "
                    f"(got {show_value(node[part])})",
                )
            ]
        node = node[part]
        model = child_model
    dotted = join_key_path(walked)
    for existing in [k for k in origins if covers(dotted, k)]:
        del origins[existing]
    origins[dotted] = origin
    return []


def _source_of(origin: str) -> str:
    """How an error line names where a value came from: `--set` for the command line."""
    return "--set" if origin == COMMAND_LINE else origin


def blame_overrides(problems: list[Problem], origins: Mapping[str, str]) -> list[Problem]:
    """A bad value given with ``--set`` is the command line's mistake, not the file's; a bad value
    inherited from a parent file is named with that file."""
    command_line = [k for k, v in origins.items() if v == COMMAND_LINE]
    blamed = []
    for p in problems:
        origin = origin_of(p.path, origins)
        if origin == COMMAND_LINE or any(covers(p.path, k) for k in command_line):
            blamed.append(replace(p, source=_source_of(COMMAND_LINE)))
        elif origin.endswith((".yaml", ".yml")) and " and " not in origin and Path(p.source).name != origin:
            blamed.append(replace(p, source=f"{p.source} (value inherited from {origin})"))
        else:
            blamed.append(p)
    return blamed


def _list_index(items: list, part: str) -> int | None:
    if part.lstrip("-").isdigit():
        index = int(part)
        return index if 0 <= index < len(items) else None
    for index, item in enumerate(items):
        if isinstance(item, dict) and item.get("name") == part:
            return index
    return None

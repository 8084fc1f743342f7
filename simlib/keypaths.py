"""Key paths: how a parameter is named in ``--set``, sweeps, sensitivity, joint blocks and errors.

``fees.monthly_fee``, ``population.segments[premium].churn_alpha``, ``fee_changes[0].set.monthly_fee``:
dots between sections and fields, a list item by its position or (for named items) its name in
brackets. The one splitter (and joiner) every module uses; free of imports so anything may use it.
"""

from __future__ import annotations

from typing import Any


def split_key_path(key: str) -> list[str]:
    """The parts of a key path: ``"population.segments[premium].churn_alpha"`` gives
    ``["population", "segments", "premium", "churn_alpha"]`` (empty parts dropped)."""
    return [part for part in key.replace("]", "").replace("[", ".").split(".") if part]


def join_key_path(parts: list[str]) -> str:
    """The key path of walked parts: ``["fees", "usage_tiers", "[0]", "up_to"]`` gives
    ``"fees.usage_tiers[0].up_to"`` (a part already in brackets is appended without a dot)."""
    out = ""
    for part in parts:
        out += part if part.startswith("[") or not out else f".{part}"
    return out


def covers(path: str, other: str) -> bool:
    """Whether ``other`` is ``path`` itself or a key path below it (``fees`` covers
    ``fees.monthly_fee``; ``population.segments`` covers ``population.segments[0].share``)."""
    return other == path or other.startswith(path + ".") or other.startswith(path + "[")


def value_at(model: Any, key_path: str) -> Any:
    """The value at a key path in a (pydantic) scenario model, lists by position
    (``population.segments[2].share``); None when a list is shorter."""
    value: Any = model
    for part in split_key_path(key_path):
        if isinstance(value, tuple | list):
            index = int(part)
            if index >= len(value):
                return None
            value = value[index]
        else:
            value = getattr(value, part)
    return value

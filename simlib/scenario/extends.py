"""``extends`` chains: a child file holds only what it changes, merged into its parent's mapping.

Mappings merge key by key, lists of named items (segments, adjustment rules, joint blocks) by name,
a distribution replaces the parent's whole; a child's list marked ``!replace`` replaces the
parent's list. Also records which file each leaf value came from.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from simlib.errors import Problem, ScenarioError, show_value
from simlib.keypaths import covers
from simlib.scenario.describe import IDENTITY
from simlib.scenario.reading import REPLACE_TAG, ReplacedList, file_problem, parent_file, read_yaml, real_path
from simlib.scenario.uncertainty import FIELD as JOINT_FIELD

_MAX_EXTENDS_DEPTH = 16


def resolve_extends(path: Path, depth: int = 0, chain: tuple[Path, ...] = ()) -> tuple[dict, dict[str, str]]:
    """The merged raw mapping of ``path`` and its ``extends`` chain, and which file stated each leaf.

    ``depth`` and ``chain`` are the files already followed (for the depth limit and cycles).
    """
    resolved = real_path(path)
    if resolved in chain:
        names = " → ".join(p.name for p in (*chain, resolved))
        raise file_problem(path, f"circular inheritance: {names}", "extends")
    if depth > _MAX_EXTENDS_DEPTH:
        raise file_problem(path, "inheritance chain is too deep", "extends")
    data = read_yaml(path)
    parent_name = data.pop("extends", None)
    if parent_name is None:
        return data, {leaf: path.name for leaf in leaf_paths(data, "")}
    parent_path = parent_file(path, parent_name)
    base, origins = resolve_extends(parent_path, depth + 1, (*chain, resolved))
    for key in IDENTITY:  # a policy's name and wording are its own, never its parent's
        base.pop(key, None)
    origins = {k: v for k, v in origins.items() if k not in IDENTITY}
    problems = _merge_problems(base, data, "", str(path))
    if problems:
        raise ScenarioError(problems)
    merged = _merge(base, data)
    stated, replaced = _stated_paths(base, data, "")
    for covered in (*replaced, *stated):
        origins = {k: v for k, v in origins.items() if not covers(covered, k)}
    origins.update(dict.fromkeys(stated, path.name))
    return merged, origins


def _stated_paths(base: Any, change: Any, prefix: str) -> tuple[list[str], list[str]]:
    """The leaf paths a child file states, numbered as in the merged result, and the lists it replaces.

    Named items merged into the parent's list keep the parent's position, so their leaves must be
    numbered by that position, not by where the child happens to list them.
    """
    if isinstance(change, dict) and change and not _looks_like_distribution(change):
        stated: list[str] = []
        replaced: list[str] = []
        for key, value in change.items():
            child = base.get(key) if isinstance(base, dict) else None
            more = _stated_paths(child, value, f"{prefix}.{key}" if prefix else str(key))
            stated += more[0]
            replaced += more[1]
        return stated, replaced
    if isinstance(change, list) and change and all(isinstance(v, dict) for v in change):
        names = [item["name"] for item in base] if _named_items(base) else []
        merged_by_name = not isinstance(change, ReplacedList) and _named_items(change)
        if merged_by_name and {item["name"] for item in change} <= set(names):
            stated = []
            for item in change:
                index = names.index(item["name"])
                stated += _stated_paths(base[index], item, f"{prefix}[{index}]")[0]
            return stated, []
        return list(leaf_paths(change, prefix)), [prefix]
    return [prefix], []


_ITEM_WORDS = {"segments": "segment", "adjustment_rules": "rule", JOINT_FIELD: "block"}


def _merge_problems(base: Any, change: Any, prefix: str, source: str) -> list[Problem]:
    """What is wrong with a child's named lists before they merge into the parent's.

    A list of named items (segments, adjustment rules) merges into the parent's by name; every name
    must be one of the parent's, and appear once. A child that means to replace the whole list
    says so with ``!replace``. Without this rule a typo in a name silently replaced all the
    parent's items.
    """
    if _looks_like_distribution(change) or _looks_like_distribution(base):
        return []
    if isinstance(base, dict) and isinstance(change, dict):
        problems: list[Problem] = []
        for key, value in change.items():
            if key in base:
                path = f"{prefix}.{key}" if prefix else str(key)
                problems += _merge_problems(base[key], value, path, source)
        return problems
    if isinstance(change, ReplacedList) or not _named_items(base) or not isinstance(change, list):
        return []
    word = _ITEM_WORDS.get(prefix.rsplit(".", 1)[-1], "item")
    names = [item["name"] for item in base]
    hint = f"write `{prefix.rsplit('.', 1)[-1]}: {REPLACE_TAG}` to replace the parent's list whole"
    problems = []
    seen: set[Any] = set()
    for index, item in enumerate(change):
        where = f"{prefix}[{index}]"
        if not isinstance(item, dict) or "name" not in item:
            problems.append(
                Problem(source, where, f"a {word} merged into the parent's list needs a name; or {hint}")
            )
            continue
        name = item["name"]
        if name in seen:
            problems.append(
                Problem(source, f"{where}.name", f"duplicate {word} name (got {show_value(name)})")
            )
        seen.add(name)
        if name not in names:
            guess = difflib.get_close_matches(str(name), [str(n) for n in names], n=1, cutoff=0.6)
            did_you_mean = f"; did you mean {guess[0]!r}?" if guess else ""
            problems.append(
                Problem(
                    source,
                    f"{where}.name",
                    f"no {word} {show_value(name)} in the parent's list "
                    f"({', '.join(map(str, names))}){did_you_mean} To add or drop {word}s, {hint}",
                )
            )
    return problems


def _named_items(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(item, dict) and "name" in item for item in value)
    )


def _merge(base: Any, change: Any) -> Any:
    """Deep merge: mappings merge key by key; lists of named items merge by name; others replace.

    A distribution is one value: a child's distribution replaces the parent's whole (merging them
    would let a normal inherit a triangular's ``mode``, or a uniform's ``high``)."""
    if _looks_like_distribution(change) or _looks_like_distribution(base):
        return copy.deepcopy(change)
    if isinstance(base, dict) and isinstance(change, dict):
        out = dict(base)
        for key, value in change.items():
            out[key] = _merge(base[key], value) if key in base else copy.deepcopy(value)
        return out
    if isinstance(change, ReplacedList):
        return copy.deepcopy(list(change))
    if _named_items(base) and _named_items(change):
        by_name = {item["name"]: item for item in base}
        changed = {item["name"] for item in change}
        if changed <= set(by_name):
            return [
                _merge(item, next(c for c in change if c["name"] == item["name"]))
                if item["name"] in changed
                else copy.deepcopy(item)
                for item in base
            ]
    return copy.deepcopy(change)


def leaf_paths(data: Any, prefix: str) -> Iterator[str]:
    """The key path of every leaf of raw scenario data (a distribution is one leaf)."""
    if isinstance(data, dict) and data and not _looks_like_distribution(data):
        for key, value in data.items():
            yield from leaf_paths(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(data, list) and data and all(isinstance(v, dict) for v in data):
        for index, value in enumerate(data):
            yield from leaf_paths(value, f"{prefix}[{index}]")
    else:
        yield prefix


def _looks_like_distribution(data: Any) -> bool:
    return isinstance(data, dict) and "distribution" in data

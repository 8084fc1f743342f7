"""Walking the scenario schema by key path: which model class sits at a path, what keys it has, the
one-line message for a key it lacks (with the closest valid key), and the value a key path names in
a validated scenario (:func:`locate`, shared by joint blocks and sensitivity factors)."""

from __future__ import annotations

import difflib
import types
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from simlib.keypaths import join_key_path, split_key_path
from simlib.model.distributions import SCALAR_DISTRIBUTIONS
from simlib.model.parameters import ScenarioModel


def _unwrap(annotation: Any) -> Any:
    """The model class behind Optional[...] / tuple[...] / Annotated[...], or the annotation."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        models = [_unwrap(a) for a in typing.get_args(annotation) if a is not type(None)]
        classes = [m for m in models if isinstance(m, type) and issubclass(m, BaseModel)]
        return classes[0] if len(classes) == 1 and len(models) == 1 else annotation
    return annotation


def field_model(model: Any, name: str) -> Any:
    """The model class (or list type, or ``dict``) of field ``name`` of ``model``; None if it has none."""
    if isinstance(model, type) and issubclass(model, BaseModel) and name in model.model_fields:
        annotation = _unwrap(model.model_fields[name].annotation)
        if typing.get_origin(annotation) in (tuple, list):
            return annotation
        if typing.get_origin(annotation) is dict:
            return dict
        return annotation
    return None


def item_model(model: Any) -> Any:
    """The model class of the items of a list type; None if ``model`` is not one."""
    if typing.get_origin(model) in (tuple, list):
        args = [a for a in typing.get_args(model) if a is not Ellipsis]
        return _unwrap(args[0]) if args else None
    return None


def fields_of(model: Any) -> list[str] | None:
    """The keys a model class may hold (``extends`` too at the top); None for a non-model."""
    if isinstance(model, type) and issubclass(model, BaseModel):
        names = list(model.model_fields)
        return [*names, "extends"] if model is ScenarioModel else names
    return None


def model_at(loc: tuple) -> Any:
    """The model class at a pydantic location, or None where the location leaves the schema."""
    model: Any = ScenarioModel
    for part in loc:
        model = item_model(model) if isinstance(part, int) else field_model(model, part)
        if model is None:
            return None
    return model


def unknown_key_message(key: str, walked: list[str], fields: list[str], here: str) -> str:
    """The one-line message for an unknown key, with the closest valid key or the valid ones."""
    message = f"unknown key {key!r} in {here}"
    guess = difflib.get_close_matches(key, fields, n=1, cutoff=0.6)
    if guess:
        message += f"; did you mean {join_key_path([*walked, guess[0]])}?"
    else:
        message += f"; valid keys: {', '.join(f for f in fields if f != 'extends')}"
    return message


# --------------------------------------------------------------------------- validation


@dataclass(frozen=True)
class Located:
    """What a key path names in a validated model: its canonical path (list items by position), the
        value there, and the field that holds it (for a list item, the list's field; None for the empty
    path)."""

    path: str
    value: Any
    field: FieldInfo | None


def locate(model: BaseModel, key: str) -> Located | str:
    """Follow ``key`` through ``model`` (list items numbered or named), or say in one line why it
    cannot be followed.

    Stops at the value the path names, whatever it is: whether that is a single parameter is for
    the caller to judge. A distribution of one parameter is a single value, not a section.
    """
    node: Any = model
    field = None
    walked = ""
    for part in split_key_path(key):
        if isinstance(node, tuple):
            names = [getattr(item, "name", None) for item in node]
            if part.isdigit() and int(part) < len(node):
                index = int(part)
            elif part in names:
                index = names.index(part)
            else:
                listed = ", ".join(str(n) for n in names if n is not None) or "none"
                return f"no item {part!r} in {walked} (items: {listed})"
            node, walked = node[index], f"{walked}[{index}]"
            continue
        if not isinstance(node, BaseModel) or isinstance(node, SCALAR_DISTRIBUTIONS):
            return f"{walked} is a single value, not a section"
        fields = type(node).model_fields
        if part not in fields:
            guess = difflib.get_close_matches(part, list(fields), n=1, cutoff=0.6)
            hint = f"; did you mean {walked + '.' if walked else ''}{guess[0]}?" if guess else ""
            return f"unknown key {part!r} in {walked or 'the top level'}{hint}"
        field = fields[part]
        node, walked = getattr(node, part), f"{walked}.{part}" if walked else part
    return Located(walked, node, field)

"""Key paths: how a parameter is named in ``--set``, sweeps, sensitivity, joint blocks and errors.

``fees.monthly_fee``, ``population.segments[premium].churn_alpha``, ``fee_changes[0].set.monthly_fee``:
dots between sections and fields, a list item by its position or (for named items) its name in
brackets. The one splitter every module uses; free of imports so anything may use it.
"""

from __future__ import annotations


def split_key_path(key: str) -> list[str]:
    """The parts of a key path: ``"population.segments[premium].churn_alpha"`` gives
    ``["population", "segments", "premium", "churn_alpha"]`` (empty parts dropped)."""
    return [part for part in key.replace("]", "").replace("[", ".").split(".") if part]

"""Keys of the counter-based draws, in plain Python: purposes, stream keys, draw offsets.

Kept apart from the compiled :mod:`simlib.model.draws` so that loading and validating a scenario
(which draws uncertain parameters with :func:`scalar_uniform`) never imports Numba.
"""

from __future__ import annotations

import hashlib
from enum import IntEnum

import numpy as np

MONTH_STEP = 0x9E3779B97F4A7C15
"""φ: the 64-bit golden-ratio constant, the step between months (and between customer ids)."""
PURPOSE_STEP = 0xD6E8FEB86659FD93
"""ψ: the step between purposes."""
TO_UNIT = 2.0**-52


class Purpose(IntEnum):
    """What a draw is for. Values are part of the reproducibility contract: never renumber them."""

    SEGMENT = 1
    USAGE_LEVEL = 2
    WILLINGNESS_TO_PAY = 3
    BASELINE_CHURN = 4
    ATTENTION_TRAIT = 5
    COMPLAINT_PROPENSITY = 6
    LATE_PAYMENT_TRAIT = 7
    TENURE = 8
    PREPAY = 9
    USAGE_MONTHLY = 20
    PAYMENT_FAILURE = 21
    BILLING_ERROR = 22
    ATTENTION = 23
    COMPLAINT = 24
    COMPLAINT_HANDLING = 25
    CHURN = 26
    AUDIT = 27
    ARRIVAL = 28


PURPOSES = max(Purpose) + 1
"""Columns of an offset table (indexed by purpose value)."""
TRAIT_MONTH = -1
"""The month of trait draws: traits and monthly purposes are numbered apart, so never share a stream."""


def draw_offset(purpose: int, month: int = TRAIT_MONTH) -> np.uint64:
    """The offset added to a customer key for one (purpose, month): ((month + 2)·φ + purpose·ψ) mod 2⁶⁴."""
    return np.uint64(((month + 2) * MONTH_STEP + int(purpose) * PURPOSE_STEP) % 2**64)


def offset_table(first_month: int, last_month: int) -> np.ndarray:
    """Offsets for months ``first_month … last_month − 1`` (rows) and every purpose (columns);
    the last row holds the trait offsets (month −1). uint64, shape (months + 1, :data:`PURPOSES`)."""
    months = [*range(first_month, last_month), TRAIT_MONTH]
    table = np.zeros((len(months), PURPOSES), dtype=np.uint64)
    for row, month in enumerate(months):
        for purpose in Purpose:
            table[row, purpose] = draw_offset(purpose, month)
    return table


def stream_key(seed: int, replication: int) -> np.uint64:
    """The 64-bit key of one replication of one seed."""
    digest = hashlib.blake2b(f"simlib/{seed}/{replication}".encode(), digest_size=8).digest()
    return np.uint64(int.from_bytes(digest, "little"))


def scalar_uniform(*parts: object) -> float:
    """A single uniform in (0, 1) from any tuple of labels (used for per-replication parameter draws)."""
    digest = hashlib.blake2b("/".join(map(str, parts)).encode(), digest_size=8).digest()
    return ((int.from_bytes(digest, "little") >> 12) + 0.5) * TO_UNIT

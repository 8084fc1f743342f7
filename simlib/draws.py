"""Counter-based random draws: every draw is a pure function of (seed, replication, customer, month, purpose).

This is what makes runs reproducible whatever the chunk size or worker count, and what pairs a
baseline with a reform customer by customer: the same customer in the same month sees the same
uniform number for the same purpose in both runs, so any difference between them is the policy's.
The mixer is the 64-bit finaliser of MurmurHash3 (Appleby), applied to a key built from the inputs;
it passes the avalanche tests that matter for turning sequential counters into independent uniforms.
"""

from __future__ import annotations

import hashlib
from enum import IntEnum

import numpy as np

_MIX_1 = np.uint64(0xFF51AFD7ED558CCD)
_MIX_2 = np.uint64(0xC4CEB9FE1A85EC53)
_MONTH_STEP = np.uint64(0x9E3779B97F4A7C15)
_PURPOSE_STEP = np.uint64(0xD6E8FEB86659FD93)
_SHIFT_33 = np.uint64(33)
_SHIFT_12 = np.uint64(12)
_TO_UNIT = 2.0**-52


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


def _fmix64(x: np.ndarray) -> np.ndarray:
    """MurmurHash3 finaliser, in place on a uint64 array (wrap-around multiplication is intended)."""
    x ^= x >> _SHIFT_33
    x *= _MIX_1
    x ^= x >> _SHIFT_33
    x *= _MIX_2
    x ^= x >> _SHIFT_33
    return x


def stream_key(seed: int, replication: int) -> np.uint64:
    """The 64-bit key of one replication of one seed."""
    digest = hashlib.blake2b(f"simlib/{seed}/{replication}".encode(), digest_size=8).digest()
    return np.uint64(int.from_bytes(digest, "little"))


def customer_keys(key: np.uint64, customer_ids: np.ndarray) -> np.ndarray:
    """Per-customer keys, derived once when a customer enters the population."""
    with np.errstate(over="ignore"):
        mixed = _fmix64(customer_ids.astype(np.uint64) * _MONTH_STEP + key)
        return _fmix64(mixed ^ key)


def uniform(keys: np.ndarray, purpose: Purpose, month: int = -1) -> np.ndarray:
    """Uniform numbers in the open interval (0, 1), one per customer key.

    The top 52 bits of the hash, centred in their cell: the smallest draw is 2^-53 and the largest
    1 − 2^-53, both exactly representable, so inverse CDFs never see 0 or 1.

    Parameters
    ----------
    keys : uint64 array from :func:`customer_keys`.
    purpose : what the draw is for; different purposes give independent streams.
    month : simulation month (0-based, negative in the warm-up); trait draws use the default -1.
        Trait and monthly purposes are numbered apart, so they never share a stream.
    """
    offset = np.uint64(((month + 2) * int(_MONTH_STEP) + int(purpose) * int(_PURPOSE_STEP)) % 2**64)
    with np.errstate(over="ignore"):
        x = _fmix64(keys + offset)
    x >>= _SHIFT_12
    out = x.astype(np.float64)
    out += 0.5
    out *= _TO_UNIT
    return out


def scalar_uniform(*parts: object) -> float:
    """A single uniform in (0, 1) from any tuple of labels (used for per-replication parameter draws)."""
    digest = hashlib.blake2b("/".join(map(str, parts)).encode(), digest_size=8).digest()
    return ((int.from_bytes(digest, "little") >> 12) + 0.5) * _TO_UNIT

"""Counter-based random draws: every draw is a pure function of (seed, replication, customer, month, purpose).

This is what makes runs reproducible whatever the chunk size or worker count, and what pairs a
baseline with a reform customer by customer: the same customer in the same month sees the same
uniform number for the same purpose in both runs, so any difference between them is the policy's.
The mixer is the 64-bit finaliser of MurmurHash3 (Appleby), applied to a key built from the inputs;
it passes the avalanche tests that matter for turning sequential counters into independent uniforms.

The scalar functions (:func:`mix`, :func:`customer_key`, :func:`uniform_at`) are compiled and called
per customer by the engine; :func:`customer_keys` and :func:`uniform` apply the same functions to
arrays, for tests and notebooks. All arithmetic is on unsigned 64-bit integers and wraps around.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from simlib.model.keys import MONTH_STEP, TO_UNIT, TRAIT_MONTH, Purpose, draw_offset

_MIX_1 = np.uint64(0xFF51AFD7ED558CCD)
_MIX_2 = np.uint64(0xC4CEB9FE1A85EC53)
_MONTH_STEP_U64 = np.uint64(MONTH_STEP)
_SHIFT_33 = np.uint64(33)
_SHIFT_12 = np.uint64(12)
_TO_UNIT = TO_UNIT


@njit(error_model="numpy", inline="always")
def mix(x: np.uint64) -> np.uint64:
    """MurmurHash3's 64-bit finaliser (wrap-around multiplication is intended)."""
    x ^= x >> _SHIFT_33
    x *= _MIX_1
    x ^= x >> _SHIFT_33
    x *= _MIX_2
    x ^= x >> _SHIFT_33
    return x


@njit(error_model="numpy", inline="always")
def customer_key(stream: np.uint64, customer_id: np.uint64) -> np.uint64:
    """A customer's 64-bit key, derived once when it enters the population:
    mix(mix(id · φ + stream) ⊕ stream), φ the 64-bit golden-ratio constant."""
    return mix(mix(customer_id * _MONTH_STEP_U64 + stream) ^ stream)


@njit(error_model="numpy", inline="always")
def uniform_at(key: np.uint64, offset: np.uint64) -> float:
    """A uniform number in the open interval (0, 1) from a customer key and a draw offset.

    The top 52 bits of the hash, centred in their cell: the smallest draw is 2^-53 and the largest
    1 − 2^-53, both exactly representable, so inverse CDFs never see 0 or 1.
    """
    return (float(mix(key + offset) >> _SHIFT_12) + 0.5) * _TO_UNIT


@njit(cache=True, error_model="numpy")
def _keys(stream: np.uint64, customer_ids: np.ndarray) -> np.ndarray:
    out = np.empty(len(customer_ids), dtype=np.uint64)
    for i in range(len(customer_ids)):
        out[i] = customer_key(stream, customer_ids[i])
    return out


@njit(cache=True, error_model="numpy")
def _uniforms(keys: np.ndarray, offset: np.uint64) -> np.ndarray:
    out = np.empty(len(keys))
    for i in range(len(keys)):
        out[i] = uniform_at(keys[i], offset)
    return out


def customer_keys(key: np.uint64, customer_ids: np.ndarray) -> np.ndarray:
    """Per-customer keys (:func:`customer_key` over an array of ids)."""
    return _keys(np.uint64(key), np.asarray(customer_ids).astype(np.uint64))


def uniform(keys: np.ndarray, purpose: Purpose, month: int = TRAIT_MONTH) -> np.ndarray:
    """Uniform numbers in (0, 1), one per customer key (:func:`uniform_at` over an array).

    Parameters
    ----------
    keys : uint64 array from :func:`customer_keys`.
    purpose : what the draw is for; different purposes give independent streams.
    month : simulation month (0-based, negative in the warm-up); trait draws use the default −1.
    """
    return _uniforms(np.asarray(keys, dtype=np.uint64), draw_offset(purpose, month))

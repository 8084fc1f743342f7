"""Fixtures shared by the test modules."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    """A fixed-seed generator for inputs of the pure-function tests."""
    return np.random.default_rng(20261127)

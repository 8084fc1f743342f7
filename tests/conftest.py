"""Fixtures shared by the test modules."""

from __future__ import annotations

import numpy as np
import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Compile the engine once, in the main process, before any test worker starts.

    The compiled code is cached on disk; without this, every xdist worker (and every subprocess a
    test starts before the cache exists) would compile the engine itself, each for a minute or more.
    """
    if hasattr(config, "workerinput"):
        return  # an xdist worker: the controller has compiled already
    from simlib.model.engine import compile_engine

    compile_engine()


@pytest.fixture
def rng() -> np.random.Generator:
    """A fixed-seed generator for inputs of the pure-function tests."""
    return np.random.default_rng(20261127)

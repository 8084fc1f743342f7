"""Parquet files that carry their units: every table simlib writes as Parquet holds a ``simlib``
key-value metadata entry (JSON) with each column's unit, the scenario's name and simlib's version,
so a file read years later still says what its numbers measure."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

#: The schema metadata key of simlib's entry.
METADATA_KEY = b"simlib"


def write_parquet(
    frame: pd.DataFrame,
    path: str | Path,
    units: Mapping[str, str],
    scenario: str | None = None,
    **extra: Any,
) -> None:
    """Write ``frame`` (without its index) to ``path`` with the ``simlib`` metadata entry.

    Parameters
    ----------
    frame : the table; every column should have a unit.
    path : the file (write it through :func:`simlib.files.write_atomic`: a temporary file).
    units : column → unit (currency code, ``share/month``, ``count`` …).
    scenario : the scenario's name, if the table is one scenario's.
    extra : further JSON-serialisable entries (e.g. ``baseline=``).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from simlib import __version__

    table = pa.Table.from_pandas(frame, preserve_index=False)
    entry = {
        "simlib_version": __version__,
        "scenario": scenario,
        "units": {str(c): units.get(str(c), "") for c in frame.columns},
        **extra,
    }
    metadata = {**(table.schema.metadata or {}), METADATA_KEY: json.dumps(entry).encode("utf-8")}
    pq.write_table(table.replace_schema_metadata(metadata), path)


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The ``simlib`` metadata entry of a Parquet file simlib wrote (empty for any other file).

    Reads only the schema, not the data.
    """
    import pyarrow.parquet as pq

    raw = (pq.read_schema(path).metadata or {}).get(METADATA_KEY)
    return json.loads(raw) if raw else {}


def read_units(path: str | Path) -> dict[str, str]:
    """Column → unit of a Parquet file simlib wrote."""
    return dict(read_metadata(path).get("units", {}))

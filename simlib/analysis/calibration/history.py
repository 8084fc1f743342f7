"""History files: reading and checking the CSV files a calibration fits (retention, complaints, fee
change). A bad file is one line naming the file, the row as a spreadsheet shows it (header = row 1)
and the column; see :mod:`simlib.analysis.calibrate` for the formats."""

from __future__ import annotations

import csv
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simlib.errors import InputError, os_problem

CAUSES: dict[str, str] = {
    "surprise": "surprise_complaint_rate",
    "billing_error": "error_complaint_rate",
    "fee_increase": "fee_increase_complaint_rate",
    "penalty_fee": "penalty_complaint_rate",
}
"""Complaint cause in a history file → the ``behaviour`` parameter it identifies."""
MAX_HISTORY_BYTES = 64 * 2**20
"""The largest history CSV file read (64 MiB: millions of rows)."""


class Table:
    """The data rows of a CSV file as text, each with its row number as a spreadsheet shows it."""

    def __init__(self, path: Path, required: Sequence[str], optional: Sequence[str] = ()):
        self.path = path
        try:
            # A device (/dev/zero), a pipe or a huge file is refused before reading: it would never
            # end, or fill the memory.
            info = path.stat()
            if stat.S_ISREG(info.st_mode) and info.st_size > MAX_HISTORY_BYTES:
                raise InputError(
                    f"{path}: is {info.st_size / 2**20:.3g} MiB; a history file may be at most "
                    f"{MAX_HISTORY_BYTES / 2**20:.0f} MiB"
                )
            if not stat.S_ISREG(info.st_mode) and not stat.S_ISDIR(info.st_mode):
                raise InputError(
                    f"{path}: not a regular file (a device, pipe or socket cannot be a CSV file)"
                )
            with path.open(encoding="utf-8-sig", newline="") as handle:
                records = list(csv.reader(handle))
        except FileNotFoundError:
            raise InputError(f"{path}: file not found") from None
        except IsADirectoryError:
            raise InputError(f"{path}: is a folder, not a CSV file") from None
        except UnicodeDecodeError:
            raise InputError(f"{path}: not a UTF-8 text file") from None
        except csv.Error as exc:
            raise InputError(f"{path}: not a readable CSV file ({exc})") from None
        except (OSError, RuntimeError, MemoryError) as exc:
            raise InputError(f"{path}: cannot be read: {os_problem(exc)}") from None
        if not records or not any(cell.strip() for cell in records[0]):
            raise InputError(
                f"{path}: row 1, column {required[0]!r}: missing (the file is empty; expected the header "
                f"{','.join(required)})"
            )
        header = [cell.strip() for cell in records[0]]
        for name in required:
            if name not in header:
                raise InputError(
                    f"{path}: row 1, column {name!r}: missing (the header has {', '.join(header)})"
                )
        positions = {name: header.index(name) for name in (*required, *optional) if name in header}
        self.rows: list[tuple[int, dict[str, str]]] = []
        for number, record in enumerate(records[1:], start=2):
            if any(cell.strip() for cell in record):
                cells = {name: record[i].strip() if i < len(record) else "" for name, i in positions.items()}
                self.rows.append((number, cells))
        if not self.rows:
            raise InputError(f"{path}: row 2: no data rows below the header")

    def error(self, row: int, column: str, message: str) -> InputError:
        """The one-line error for a cell."""
        return InputError(f"{self.path}: row {row}, column {column!r}: {message}")

    def texts(self, column: str) -> list[str]:
        """The column as non-empty text."""
        out = []
        for row, cells in self.rows:
            if not cells[column]:
                raise self.error(row, column, "empty")
            out.append(cells[column])
        return out

    def numbers(self, column: str, whole: bool = False, blank: float | None = None) -> np.ndarray:
        """The column as numbers; ``blank`` stands for an empty cell (``None``: empty is an error)."""
        out = np.empty(len(self.rows))
        for index, (row, cells) in enumerate(self.rows):
            text = cells.get(column, "")
            if not text and blank is not None:
                out[index] = blank
                continue
            if not text:
                raise self.error(row, column, "empty")
            try:
                value = float(text)
            except ValueError:
                raise self.error(row, column, f"not a number (got {text!r})") from None
            if not np.isfinite(value):
                raise self.error(row, column, f"not a finite number (got {text!r})")
            if whole and not value.is_integer():
                raise self.error(row, column, f"must be a whole number (got {text})")
            out[index] = value
        return out

    def counts(self, column: str, blank: float | None = None) -> np.ndarray:
        """A column of non-negative whole numbers."""
        values = self.numbers(column, whole=True, blank=blank)
        self.require(values >= 0, column, "must not be negative (got {value:g})", values)
        return values

    def require(self, holds: np.ndarray, column: str, message: str, values: np.ndarray) -> None:
        """Raise for the first row where ``holds`` is false; ``{value}`` in the message is its value."""
        bad = np.flatnonzero(~np.asarray(holds, dtype=bool))
        if bad.size:
            index = int(bad[0])
            raise self.error(self.rows[index][0], column, message.format(value=values[index]))

    def row(self, index: int) -> int:
        """The spreadsheet row number of data row ``index``."""
        return self.rows[index][0]


@dataclass(frozen=True)
class RetentionHistory:
    """Cohort retention counts, sorted by cohort and period.

    Attributes
    ----------
    source : the file read.
    cohorts : cohort labels in file order.
    cohort, period, active : one entry per (cohort, period): the cohort's index in ``cohorts``,
        periods since its start, customers still active.
    """

    source: str
    cohorts: tuple[str, ...]
    cohort: np.ndarray
    period: np.ndarray
    active: np.ndarray

    @property
    def starts(self) -> np.ndarray:
        """Customers who started, per cohort."""
        return self.active[self.period == 0]

    def deaths(self) -> tuple[np.ndarray, np.ndarray]:
        """(period t ≥ 1, customers who churned in period t), over all cohorts."""
        later = self.period > 0
        return self.period[later], self.active[np.flatnonzero(later) - 1] - self.active[later]

    def censored(self) -> tuple[np.ndarray, np.ndarray]:
        """(last observed period, customers still active then), per cohort."""
        last = np.r_[self.cohort[1:] != self.cohort[:-1], True]
        return self.period[last], self.active[last]


def read_retention(path: str | Path) -> RetentionHistory:
    """Read a ``cohort,period,active`` retention file (see the module docstring).

    Raises
    ------
    InputError
        One line naming the file, the row and the column of the first problem.
    """
    path = Path(path)
    table = Table(path, ("cohort", "period", "active"))
    labels = table.texts("cohort")
    period = table.counts("period")
    active = table.counts("active")
    cohorts = tuple(dict.fromkeys(labels))
    cohort = np.asarray([cohorts.index(label) for label in labels])
    order = np.lexsort((period, cohort))
    cohort, period, active = cohort[order], period[order], active[order]
    rows = np.asarray([table.row(i) for i in order])
    same = np.r_[False, cohort[1:] == cohort[:-1]]
    for index in range(len(order)):
        where = (rows[index], "period")
        if same[index] and period[index] == period[index - 1]:
            raise table.error(
                *where,
                f"period {period[index]:g} of cohort {cohorts[cohort[index]]!r} "
                f"is also on row {rows[index - 1]}",
            )
        expected = period[index - 1] + 1 if same[index] else 0
        if period[index] != expected:
            raise table.error(
                *where,
                f"cohort {cohorts[cohort[index]]!r} has no period {expected:g}: periods must run "
                "0, 1, 2, … without gaps",
            )
        if same[index] and active[index] > active[index - 1]:
            raise table.error(
                rows[index],
                "active",
                f"{active[index]:g} customers active after period {period[index]:g} of cohort "
                f"{cohorts[cohort[index]]!r}, more than {active[index - 1]:g} after period "
                f"{period[index - 1]:g} (row {rows[index - 1]}); active must not increase",
            )
        if not same[index] and active[index] == 0:
            raise table.error(
                rows[index], "active", f"cohort {cohorts[cohort[index]]!r} starts with 0 customers"
            )
    if not np.any(period > 0):
        raise InputError(f"{path}: no cohort is observed beyond period 0: nothing to fit")
    return RetentionHistory(str(path), cohorts, cohort, period, active)


@dataclass(frozen=True)
class ComplaintHistory:
    """Monthly complaint counts by cause; one entry per row of the file (see the module docstring)."""

    source: str
    month: np.ndarray
    cause: np.ndarray
    complaints: np.ndarray
    exposed: np.ndarray
    intensity: np.ndarray
    notice_days: np.ndarray


def read_complaints(path: str | Path) -> ComplaintHistory:
    """Read a ``month,cause,complaints,exposed,intensity[,notice_days]`` file (see the module docstring).

    Raises
    ------
    InputError
        One line naming the file, the row and the column of the first problem.
    """
    path = Path(path)
    table = Table(path, ("month", "cause", "complaints", "exposed", "intensity"), ("notice_days",))
    month = table.numbers("month", whole=True)
    cause = np.asarray(table.texts("cause"))
    for index, name in enumerate(cause):
        if name not in CAUSES:
            raise table.error(
                table.row(index), "cause", f"unknown cause {name!r}; expected one of {', '.join(CAUSES)}"
            )
    complaints = table.counts("complaints")
    exposed = table.counts("exposed")
    table.require(
        complaints <= exposed, "complaints", "more complaints than customers exposed ({value:g})", complaints
    )
    intensity = table.numbers("intensity")
    table.require(intensity > 0, "intensity", "must be positive (got {value:g})", intensity)
    table.require(
        (cause != "billing_error") | (intensity == 1),
        "intensity",
        "must be 1 for billing_error (a noticed overcharge is one trigger; got {value:g})",
        intensity,
    )
    notice = table.counts("notice_days", blank=0.0)
    table.require(
        (cause == "fee_increase") | (notice == 0),
        "notice_days",
        "applies to fee_increase rows only (got {value:g})",
        notice,
    )
    seen: dict[tuple[float, str], int] = {}
    for index, key in enumerate(zip(month, cause, strict=True)):
        if key in seen:
            raise table.error(
                table.row(index), "cause", f"month {key[0]:g}, cause {key[1]!r} is also on row {seen[key]}"
            )
        seen[key] = table.row(index)
    return ComplaintHistory(str(path), month, cause, complaints, exposed, intensity, notice)


@dataclass(frozen=True)
class FeeChangeHistory:
    """Monthly churn around one rise of the subscription fee (see the module docstring).

    Attributes
    ----------
    month, active, churned : per month, in order.
    old_fee, new_fee : the subscription before and from ``change`` on (currency/month).
    change : index (0-based) of the first month at the new fee.
    notice_days : notice given for the rise (days).
    """

    source: str
    month: np.ndarray
    active: np.ndarray
    churned: np.ndarray
    old_fee: float
    new_fee: float
    change: int
    notice_days: int


def read_fee_change(path: str | Path) -> FeeChangeHistory:
    """Read a ``month,active,churned,monthly_fee[,notice_days]`` file (see the module docstring).

    Raises
    ------
    InputError
        One line naming the file, the row and the column of the first problem.
    """
    path = Path(path)
    table = Table(path, ("month", "active", "churned", "monthly_fee"), ("notice_days",))
    month = table.numbers("month", whole=True)
    steps = np.r_[1.0, np.diff(month)]
    table.require(steps == 1, "month", "months must be consecutive, one row each (got {value:g})", month)
    active = table.counts("active")
    table.require(active > 0, "active", "must be positive (got {value:g})", active)
    churned = table.counts("churned")
    table.require(
        churned <= active, "churned", "more customers churned than were active ({value:g})", churned
    )
    fee = table.numbers("monthly_fee")
    table.require(fee >= 0, "monthly_fee", "must not be negative (got {value:g})", fee)
    changes = np.flatnonzero(np.diff(fee) != 0) + 1
    if changes.size == 0:
        raise table.error(
            table.row(0), "monthly_fee", "the fee never changes: nothing identifies the response"
        )
    if changes.size > 1:
        raise table.error(
            table.row(int(changes[1])),
            "monthly_fee",
            "the fee changes a second time; give one change per file",
        )
    change = int(changes[0])
    if fee[change] <= fee[0]:
        raise table.error(
            table.row(change),
            "monthly_fee",
            f"the fee falls ({fee[0]:g} → {fee[change]:g}); a rise is needed",
        )
    notice = table.counts("notice_days", blank=0.0)
    away = np.arange(len(notice)) != change
    table.require(
        ~away | (notice == 0),
        "notice_days",
        f"belongs on the row of the first month at the new fee (row {table.row(change)}); got {{value:g}}",
        notice,
    )
    return FeeChangeHistory(
        str(path), month, active, churned, float(fee[0]), float(fee[change]), change, int(notice[change])
    )

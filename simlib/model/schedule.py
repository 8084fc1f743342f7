"""Who pays which tariff in which month: scheduled fee changes, grandfathering, notices, rule actions.

Customers are grouped by when they joined relative to the grandfathered changes; within a group
every customer has the same tariff in a given month. A :class:`FeeSchedule` is built once per
replication (and per set of adjustment-rule actions) and then only looked up month by month.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simlib.model.fees import Tariff, TariffTable, monthly_bill_cents, tariff_table
from simlib.model.parameters import ScenarioModel, fee_schedule_after

NO_EVENT = -1
"""In :attr:`FeeSchedule.event_notice`: no tariff change reaches the group that month."""


@dataclass(frozen=True)
class RuleAction:
    """An adjustment rule acting: from ``month`` on, ``parameter`` is multiplied by ``factor``."""

    rule: str
    month: int
    parameter: str
    factor: float


@dataclass(frozen=True)
class TariffEvent:
    """A change of tariff that reaches a group of customers in a month."""

    previous: Tariff
    notice_days: int


class FeeSchedule:
    """Tariff lookup by (month, join group), with the change events customers experience."""

    def __init__(self, model: ScenarioModel, months: int, actions: tuple[RuleAction, ...] = ()):
        changes = model.fee_changes
        self.group_starts = np.asarray(
            sorted({c.month for c in changes if c.grandfather_existing}), dtype=np.int64
        )
        self.groups = len(self.group_starts) + 1
        minimum_notice = model.compliance.minimum_notice_days or 0
        cache: dict[tuple, Tariff] = {}
        self._index: dict[tuple, int] = {}
        self.tariff_index = np.zeros((months, self.groups), dtype=np.int64)
        """(month, group) → row of :attr:`table`."""
        self.event_notice = np.full((months, self.groups), NO_EVENT, dtype=np.int64)
        """(month, group) → notice days of the tariff change reaching the group that month."""
        self._tariff: list[list[Tariff]] = []
        self._event: list[list[TariffEvent | None]] = []
        previous: list[tuple | None] = [None] * self.groups
        for month in range(months):
            row: list[Tariff] = []
            events: list[TariffEvent | None] = []
            for group in range(self.groups):
                joined_after = set(self.group_starts[:group].tolist())
                applied = tuple(
                    i
                    for i, c in enumerate(changes)
                    if c.month <= month and (not c.grandfather_existing or c.month in joined_after)
                )
                acting = tuple(a for a in actions if a.month <= month)
                key = (applied, acting)
                if key not in cache:
                    cache[key] = _build_tariff(model, applied, acting)
                    self._index[key] = len(self._index)
                tariff = cache[key]
                row.append(tariff)
                self.tariff_index[month, group] = self._index[key]
                event = None
                if previous[group] is not None and previous[group] != key:
                    old = cache[previous[group]]
                    new_changes = [changes[i] for i in applied if i not in previous[group][0]]
                    notice = max((c.notice_days for c in new_changes), default=minimum_notice)
                    event = TariffEvent(old, notice)
                    self.event_notice[month, group] = notice
                events.append(event)
                previous[group] = key
            self._tariff.append(row)
            self._event.append(events)
        self.table: TariffTable = tariff_table(list(cache.values()))
        """Every tariff of the schedule, packed for the compiled engine."""
        self.newcomer_index = np.asarray(
            [self.tariff_index[m, int(self.group_of(np.asarray([m]))[0])] for m in range(months)],
            dtype=np.int64,
        )
        """month → row of :attr:`table` offered to customers joining that month."""

    def group_of(self, join_month: np.ndarray) -> np.ndarray:
        """Join group of each customer: how many grandfathered changes it joined after."""
        return np.searchsorted(self.group_starts, join_month, side="right")

    def tariff(self, month: int, group: int) -> Tariff:
        return self._tariff[month][group]

    def event(self, month: int, group: int) -> TariffEvent | None:
        return self._event[month][group]

    def newcomer_tariff(self, month: int) -> Tariff:
        """The tariff a customer joining this month is offered."""
        return self._tariff[month][int(self.group_of(np.asarray([month]))[0])]


def _build_tariff(model: ScenarioModel, applied: tuple[int, ...], actions: tuple) -> Tariff:
    fees = model.fees
    for index in applied:
        fees = fee_schedule_after(fees, model.fee_changes[index].set)
    tariff = Tariff.from_fees(fees)
    for action in actions:
        tariff = tariff.scaled(action.parameter.removeprefix("fees."), action.factor)
    return tariff


def prospective_bills(model: ScenarioModel, tariff: Tariff, monthly_cap: float = np.inf) -> np.ndarray:
    """What a prospect of each segment would be charged (currency per month, one entry per segment):
    the bill at the segment's median usage without prepayment, no more than ``monthly_cap`` (an
    enforced legal cap), plus the set-up fee spread over the amortisation period."""
    amortised = tariff.setup_fee / model.population.arrivals.setup_fee_amortisation_months
    bills = []
    for segment in model.population.segments:
        usage = np.asarray([float(segment.usage_median_units)])
        bill = monthly_bill_cents(usage, tariff, False, segment.average_transaction_value)[0] / 100
        bills.append(min(bill, monthly_cap) + amortised)
    return np.asarray(bills, dtype=np.float64)

"""The briefing's sentences: :class:`~simlib.report.evidence.Evidence` put into words, in one language.

Every sentence comes from a message catalogue (:mod:`simlib.report.i18n`) filled with numbers formatted
by :class:`simlib.style.numbers.Numbers`; nothing here builds HTML. Page one answers, in this order:
what to do (:meth:`Words.headline`), what it gains and costs (:meth:`Words.effects`), how sure we are
(:meth:`Words.confidence`), the margin against every limit (:meth:`Words.limits`), who pays
(:meth:`Words.payers`) and why results that look wrong are right (:meth:`Words.whys`).
"""

from __future__ import annotations

from collections.abc import Sequence

from simlib.analysis.recommend import Check
from simlib.report.evidence import Estimate, Evidence, Surprise
from simlib.report.i18n import Messages, localized
from simlib.style.numbers import Numbers

#: Units of the metrics a briefing states, as :class:`Numbers` kinds.
KINDS = {
    "net_revenue": "money",
    "npv_net_revenue": "money",
    "gross_revenue": "money",
    "overcharges_owed": "money",
    "monthly_churn_rate": "share",
    "complaints_per_1000": "rate",
    "compliance_breaches": "count",
    "losers_share": "share",
    "winners_share": "share",
}


class Words:
    """Sentences about one batch in one language.

    Parameters
    ----------
    evidence : the batch's numbers.
    language : ``"en"`` or ``"zh"``.
    """

    def __init__(self, evidence: Evidence, language: str = "en"):
        self.evidence = evidence
        self.language = language
        self.t = Messages(language)
        self.n = Numbers(language=language, currency=evidence.currency)

    # --- names ------------------------------------------------------------------------------------

    def label(self, policy: str) -> str:
        """What a reader calls the policy: its label in this language, else its name."""
        scenario = self.evidence.policies[policy].scenario
        text = scenario.label_in(self.language)
        if policy == self.evidence.baseline_name:
            return self.t("baseline_label", label=text) if text else self.t("baseline_name")
        return text or policy

    def short(self, policy: str) -> str:
        """A policy's short name for tables and charts."""
        scenario = self.evidence.policies[policy].scenario
        if policy == self.evidence.baseline_name:
            return localized(scenario.short_label, self.language) or self.t("baseline_name")
        return scenario.short_label_in(self.language) or policy

    def segment(self, name: str) -> str:
        """A segment's label in this language (its name when it has none)."""
        for segment in self.evidence.baseline_scenario.population.segments:
            if segment.name == name:
                return segment.label_in(self.language)
        return name

    def join(self, items: Sequence[str]) -> str:
        return self.t("list_separator").join(items)

    # --- numbers ----------------------------------------------------------------------------------

    def difference(self, policy: str, metric: str, with_interval: bool = True) -> str:
        """The paired difference of ``metric`` to the baseline, e.g. ``+€140k (€126k to €149k)``."""
        value = self.evidence.policies[policy].difference[metric]
        return self.change(value, KINDS[metric], with_interval)

    def change(self, value: Estimate, kind: str, with_interval: bool = True) -> str:
        kind = "points" if kind == "share" else kind
        if with_interval:
            return self.n.estimate(value.mean, value.low, value.high, kind, signed=True)
        return self.n.estimate(value.mean, None, None, kind, signed=True)

    def parts(self, policy: str, metric: str) -> tuple[str, str]:
        """(mean, interval) of a paired difference, for a table cell that shows them on two lines."""
        value = self.evidence.policies[policy].difference[metric]
        kind = "points" if KINDS[metric] == "share" else KINDS[metric]
        return self.n.estimate_parts(value.mean, value.low, value.high, kind, signed=True)

    def level(self, policy: str, metric: str) -> str:
        value = self.evidence.policies[policy].level[metric]
        return self.n.estimate(value.mean, value.low, value.high, KINDS[metric])

    # --- page one ---------------------------------------------------------------------------------

    def headline(self) -> str:
        """What to do, in one sentence with its trade-off."""
        ev, rec = self.evidence, self.evidence.recommendation
        if rec.chosen is None:
            return self.t("headline_none", closest=self.label(rec.closest))
        if rec.keep_baseline:
            return self.t("headline_keep")
        p = rec.chosen
        return self.t(
            "headline_recommend",
            label=self.label(p),
            revenue=self.difference(p, "net_revenue"),
            months=ev.parameters["months"],
            churn=self.difference(p, "monthly_churn_rate", with_interval=False),
            complaints=self.difference(p, "complaints_per_1000", with_interval=False),
            payers=self._payers_clause(p),
        )

    def _payers_clause(self, policy: str) -> str:
        share = self.evidence.payers(policy).mean
        if share < 0.005:
            return self.t("payers_none")
        return self.t("payers_some", share=self.n.percent(share, digits=0))

    def effects(self) -> list[str]:
        """What the recommended policy gains and costs (or why nothing is recommended)."""
        ev, rec = self.evidence, self.evidence.recommendation
        months = ev.parameters["months"]
        if rec.chosen is None:
            return [self.t("effects_none", closest=self.label(rec.closest), reasons=self.broken(rec.closest))]
        if rec.keep_baseline:
            return [self.t("effects_keep", objective=self.t(f"objective_{ev.objective}"))]
        p = rec.chosen
        out = [
            self.t(
                "effects_recommend",
                months=months,
                revenue=self.difference(p, "net_revenue"),
                npv=self.difference(p, "npv_net_revenue"),
                churn=self.difference(p, "monthly_churn_rate"),
                complaints=self.difference(p, "complaints_per_1000"),
            )
        ]
        owed = ev.policies[p].difference["overcharges_owed"]
        if abs(owed.mean) >= 0.5:
            out.append(self.t("effects_owed", owed=self.change(owed, "money")))
        return out

    def confidence(self) -> list[str]:
        """How sure: probability of being the best choice, against the runner-up and the baseline,
        and the expected regret."""
        ev, rec, conf = self.evidence, self.evidence.recommendation, self.evidence.confidence
        if conf is None:
            return []
        total = conf.replications
        out = [
            self.t(
                "sure_best",
                best=round(conf.probability_best * total),
                total=total,
                share=self.n.percent(conf.probability_best, digits=0),
                options=len(rec.ranking),
                objective=self.t(f"objective_{ev.objective}"),
            )
        ]
        if rec.runner_up is not None and conf.beats_runner_up is not None:
            key = "sure_runner_up_tied" if rec.tied else "sure_runner_up"
            mean, low, high = rec.margin
            out.append(
                self.t(
                    key,
                    runner_up=self.label(rec.runner_up),
                    wins=round(conf.beats_runner_up * total),
                    total=total,
                    margin=self.n.estimate(mean, low, high, "money", signed=True),
                )
            )
        if not rec.keep_baseline and rec.runner_up != ev.baseline_name:
            out.append(self.t("sure_baseline", wins=round(conf.beats_baseline * total), total=total))
        out.append(self.t("sure_regret", regret=self.n.money(conf.expected_regret)))
        return out

    def limits(self) -> list[str]:
        """The margin against every limit, for the recommended policy (or the closest one)."""
        ev, rec = self.evidence, self.evidence.recommendation
        policy = rec.chosen or rec.closest
        checks = ev.checks(policy)
        if not checks:
            return [self.t("limits_none")]
        parts = [self.check(item) for item in checks]
        out = [self.t("limits", policy=self.label(policy), checks=self.join(parts))]
        at_risk = [self.label(p) for p in ev.policies if rec.at_risk(p) and p == policy]
        if at_risk:
            out.append(self.t("limits_at_risk"))
        return out

    def check(self, item: Check) -> str:
        """One limit: value against limit, e.g. ``monthly churn 2.203% against a 2.200% limit``."""
        if item.constraint == "compliance":
            return self.t(
                "check_compliance_ok" if item.met else "check_compliance_broken",
                value=self.n.count(item.value),
            )
        kind = "share" if item.constraint == "churn" else "rate"
        return self.t(f"check_{item.constraint}", margin=self.n.margin(item.value, item.limit, kind))

    def broken(self, policy: str) -> str:
        """The limits ``policy`` breaks, as a list."""
        return self.join([self.check(item) for item in self.evidence.recommendation.broken(policy)])

    def payers(self) -> list[str]:
        """Who wins and who loses under the recommended policy: bills up or down by more than 5%."""
        ev, rec = self.evidence, self.evidence.recommendation
        policy = rec.chosen if rec.chosen and not rec.keep_baseline else None
        if policy is None:
            return []
        up, down = ev.payers(policy), ev.gainers(policy)
        by_segment = ev.payers_by_segment(policy)
        segments = self.join(
            [
                self.t("payers_segment", segment=self.segment(name), share=self.n.percent(share, digits=0))
                for name, share in by_segment.sort_values(ascending=False).items()
            ]
        )
        if up.mean < 0.005 and down.mean < 0.005:
            return [self.t("payers_nobody")]
        return [
            self.t(
                "payers",
                up=self.n.percent(up.mean, digits=0),
                down=self.n.percent(down.mean, digits=0),
                segments=segments,
            )
        ]

    def whys(self) -> list[tuple[str, str]]:
        """(policy label, one-line why) for every result a manager would find surprising."""
        return [(self.short(s.policy), self.why(s)) for s in self.evidence.surprises()]

    def why(self, surprise: Surprise) -> str:
        """The reason for one surprising result, from the paired decomposition."""
        ev = self.evidence
        parts = ev.decomposition(surprise.policy)
        policy = ev.policies[surprise.policy]
        money = self.join(
            [
                self.t("why_item", item=self.t(f"money_{kind}"), value=self.change(value, "money", False))
                for kind, value in parts.largest("revenue", 3)
            ]
        )
        if surprise.kind == "no_behaviour_change":
            return self.t(
                "why_no_behaviour_change",
                net=self.difference(surprise.policy, "net_revenue", False),
                items=money,
            )
        if surprise.kind == "costs_outweigh":
            return self.t(
                "why_costs_outweigh",
                gross=self.change(policy.difference["gross_revenue"], "money", False),
                net=self.difference(surprise.policy, "net_revenue", False),
                items=money,
            )
        part = "complaints" if surprise.kind == "complaints_rise" else "churn"
        causes = self.join(
            [
                self.t("why_item", item=self.t(f"cause_{cause}"), value=self.change(value, "count", False))
                for cause, value in parts.largest(part, 2)
            ]
        )
        metric = "complaints_per_1000" if part == "complaints" else "monthly_churn_rate"
        return self.t(
            f"why_{surprise.kind}", change=self.difference(surprise.policy, metric, False), causes=causes
        )

    def notes(self) -> list[str]:
        """What the reader must know besides: failed runs, how the numbers were made."""
        ev = self.evidence
        out = []
        if ev.failed:
            out.append(self.t("note_failed", policies=self.join([r["scenario"] for r in ev.failed])))
        out.append(
            self.t(
                "note_method",
                replications=ev.parameters["replications"],
                coverage=self.n.percent(ev.coverage, digits=0),
            )
        )
        return out

    def constraints(self) -> str:
        """The limits the manager set, in one sentence."""
        c = self.evidence.constraints
        parts = []
        if c.max_complaints_per_1000 is not None:
            parts.append(self.t("constraint_complaints", limit=self.n.rate(c.max_complaints_per_1000)))
        if c.max_monthly_churn is not None:
            parts.append(self.t("constraint_churn", limit=self.n.percent(c.max_monthly_churn)))
        if not c.allow_compliance_breaches:
            parts.append(self.t("constraint_compliance"))
        if not parts:
            return self.t("constraints_none")
        return self.t("constraints", list=self.join(parts))


__all__ = ["KINDS", "Words"]

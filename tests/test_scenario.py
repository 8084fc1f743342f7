"""Scenario files: inheritance, provenance, overrides, immutability, draws, and every loader error."""

from __future__ import annotations

import copy
import json
import pickle
from pathlib import Path

import pytest
from pydantic import ValidationError

import simlib
from simlib.errors import Problem, ScenarioError, show_value
from simlib.model.parameters import ScenarioModel
from simlib.scenario.describe import DEFAULT, Parameter, diff
from simlib.scenario.overrides import COMMAND_LINE
from simlib.scenario.scenario import from_dict, json_schema, load, parse_assignment

FIXTURES = Path(__file__).resolve().parent / "fixtures"
INVALID = FIXTURES / "invalid"
SHIPPED = Path(__file__).resolve().parents[1] / "scenarios"
SECTIONS = (
    "simulation",
    "population",
    "fees",
    "fee_changes",
    "behaviour",
    "transparency",
    "billing",
    "audits",
    "complaint_handling",
    "education",
    "compliance",
    "adjustment_rules",
)


def parameters(scenario: simlib.Scenario) -> dict[str, Parameter]:
    return {p.path: p for p in scenario.parameters()}


def problems_of(path: Path, overrides: dict | None = None) -> list[Problem]:
    with pytest.raises(ScenarioError) as caught:
        load(path, overrides)
    assert caught.value.problems, "a ScenarioError must say what is wrong"
    # The exception text is the report: one line per problem.
    assert str(caught.value).splitlines() == [str(p) for p in caught.value.problems]
    return caught.value.problems


def only_problem(path: Path, overrides: dict | None = None) -> Problem:
    problems = problems_of(path, overrides)
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


# --------------------------------------------------------------------------- loading and inheritance


@pytest.mark.parametrize("path", sorted(SHIPPED.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_scenario_loads(path):
    scenario = load(path)
    assert scenario.name == path.stem
    assert scenario.path == path


def test_base_values_are_read_and_the_rest_defaults():
    base = load(FIXTURES / "base.yaml")
    assert base.name == "base"
    assert base.fees.monthly_fee == 25
    assert [s.name for s in base.population.segments] == ["light", "standard", "heavy"]
    assert base.population.segments[2].late_payment_scale == 0.008
    assert base.audits == ScenarioModel().audits  # not stated: schema defaults


def test_child_overrides_only_what_it_states():
    base, child = load(FIXTURES / "base.yaml"), load(FIXTURES / "child.yaml")
    assert child.name == "child"
    assert child.label == ""  # identity is not inherited
    assert child.fees.monthly_fee == 28
    assert child.fees.penalty_fee == base.fees.penalty_fee == 5
    assert child.simulation == base.simulation
    assert child.complaint_handling == base.complaint_handling


def test_named_list_items_merge_by_name_in_the_parents_order():
    child = load(FIXTURES / "child.yaml")
    light, standard, heavy = child.population.segments
    assert (light.name, standard.name, heavy.name) == ("light", "standard", "heavy")
    assert (light.share, standard.share, heavy.share) == (0.45, 0.3, 0.25)
    # Fields the child does not restate survive from the parent's item of the same name.
    assert (light.usage_median_units, heavy.usage_median_units) == (8, 70)
    assert heavy.late_payment_scale == 0.008


def test_unnamed_lists_are_replaced_whole():
    child = load(FIXTURES / "child.yaml")
    assert [(t.up_to, t.unit_price) for t in child.fees.usage_tiers] == [(30, 0.6), (None, 0.4)]


def test_extends_chains_and_resolves_relative_to_the_naming_file(monkeypatch):
    # nested/cousin.yaml extends ../base.yaml, outside its own folder: allowed by a scenarios root.
    monkeypatch.setenv("SIMLIB_SCENARIO_ROOTS", str(FIXTURES))
    grandchild = load(FIXTURES / "grandchild.yaml")
    assert grandchild.name == "grandchild"  # a file without a name is named after itself
    assert grandchild.fees.penalty_fee == 3
    assert grandchild.fees.monthly_fee == 28  # from child.yaml
    assert grandchild.population.segments[0].usage_median_units == 8  # from base.yaml
    cousin = load(FIXTURES / "nested" / "cousin.yaml")
    assert cousin.billing.automated_billing
    assert cousin.fees.monthly_fee == 25


def test_an_empty_file_is_refused_not_run_on_defaults():
    assert only_problem(FIXTURES / "empty.yaml").message.startswith("holds no settings")
    assert ScenarioModel(name="empty").name == "empty"  # the defaults remain the API's (from_dict)


# --------------------------------------------------------------------------- provenance


def test_origins_say_which_file_set_each_parameter():
    described = parameters(load(FIXTURES / "base.yaml"))
    assert described["fees.monthly_fee"].origin == "base.yaml"
    assert described["population.segments[2].late_payment_scale"].origin == "base.yaml"
    assert described["fees.setup_fee"].origin == DEFAULT
    assert described["population.segments[2].churn_beta"].origin == DEFAULT


def test_origins_through_inheritance():
    scenario = load(FIXTURES / "grandchild.yaml")
    described = parameters(scenario)
    assert described["fees.penalty_fee"].origin == "grandchild.yaml"
    assert described["transparency.itemised_bills"].origin == "grandchild.yaml"
    assert described["fees.monthly_fee"].origin == "child.yaml"
    assert described["fees.included_units"].origin == "base.yaml"
    assert described["simulation.customers"].origin == "base.yaml"
    assert described["billing.error_rate"].origin == DEFAULT
    assert scenario.origins["fees.monthly_fee"] == "child.yaml"


def test_origins_of_items_merged_by_name_follow_the_item_not_its_position_in_the_child():
    described = parameters(load(FIXTURES / "child.yaml"))
    # child.yaml lists heavy first and light second; heavy is still the third segment.
    assert described["population.segments[2].share"].origin == "child.yaml"
    assert described["population.segments[0].share"].origin == "child.yaml"
    assert described["population.segments[1].share"].origin == "base.yaml"
    assert described["population.segments[2].usage_median_units"].origin == "base.yaml"


def test_origins_of_a_replaced_list_forget_the_parents_items():
    scenario = load(FIXTURES / "child.yaml")
    described = parameters(scenario)
    assert described["fees.usage_tiers[0].unit_price"].origin == "child.yaml"
    assert described["fees.usage_tiers[1].unit_price"].origin == "child.yaml"
    assert described["fees.usage_tiers[1].up_to"].origin == DEFAULT  # not written: open-ended
    assert not any(k.startswith("fees.usage_tiers") and v == "base.yaml" for k, v in scenario.origins.items())


def test_parameters_carry_units_labels_and_sources():
    described = parameters(load(FIXTURES / "base.yaml"))
    fee = described["fees.monthly_fee"]
    assert (fee.value, fee.unit, fee.label) == (25, "EUR/month", "Subscription fee")
    assert described["population.segments[0].churn_alpha"].source.startswith("Fader & Hardie")
    pounds = parameters(load(FIXTURES / "base.yaml", {"simulation.currency": "GBP"}))
    assert pounds["fees.monthly_fee"].unit == "GBP/month"  # {cur} follows the currency


def test_origins_cannot_be_edited():
    scenario = load(FIXTURES / "base.yaml")
    with pytest.raises(TypeError):
        scenario.origins["fees.monthly_fee"] = "elsewhere"  # type: ignore[index]


# --------------------------------------------------------------------------- overrides


def test_load_with_overrides_named_and_numbered_list_items():
    scenario = load(
        FIXTURES / "base.yaml",
        {
            "population.segments.heavy.share": 0.25,
            "population.segments[0].share": 0.45,
            "fees.usage_tiers.0.unit_price": 0.7,
            "fees.monthly_fee": 27.5,
        },
    )
    assert [s.share for s in scenario.population.segments] == [0.45, 0.3, 0.25]
    assert scenario.fees.usage_tiers[0].unit_price == 0.7
    assert scenario.fees.monthly_fee == 27.5
    described = parameters(scenario)
    assert described["population.segments[2].share"].origin == COMMAND_LINE
    assert described["population.segments[0].share"].origin == COMMAND_LINE
    assert described["population.segments[1].share"].origin == "base.yaml"
    assert described["fees.usage_tiers[0].unit_price"].origin == COMMAND_LINE


def test_override_can_add_a_list():
    scenario = load(FIXTURES / "base.yaml", {"fee_changes": [{"month": 3, "set": {"monthly_fee": 30}}]})
    assert scenario.fee_changes[0].set == {"monthly_fee": 30}
    assert parameters(scenario)["fee_changes[0].month"].origin == COMMAND_LINE


def test_with_changes_returns_a_new_scenario_and_leaves_the_old_one():
    base = load(FIXTURES / "base.yaml")
    before = base.as_dict()
    reform = base.with_changes(
        {"population.segments.light.share": 0.4, "population.segments.standard.share": 0.4}
    )
    assert reform is not base
    assert [s.share for s in reform.population.segments] == [0.4, 0.4, 0.2]
    assert base.as_dict() == before
    assert reform.path == base.path
    assert parameters(reform)["population.segments[0].share"].origin == COMMAND_LINE
    assert parameters(base)["population.segments[0].share"].origin == "base.yaml"
    labelled = base.with_changes({"fees.monthly_fee": 30}, origin="reform.py")
    assert parameters(labelled)["fees.monthly_fee"].origin == "reform.py"


def test_with_changes_validates():
    base = load(FIXTURES / "base.yaml")
    with pytest.raises(ScenarioError) as caught:
        base.with_changes({"fees.monthly_fee": -1, "fees.montly_fee": 2})
    assert [str(p) for p in caught.value.problems] == [
        "--set: fees.montly_fee: unknown key 'montly_fee' in fees; did you mean fees.monthly_fee? (value 2)"
    ]
    with pytest.raises(ScenarioError, match=r"^--set: fees.monthly_fee: must be ≥ 0.0 \(got -1\)$"):
        base.with_changes({"fees.monthly_fee": -1})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("fees.monthly_fee=27.5", ("fees.monthly_fee", 27.5)),
        (" billing.automated_billing = true", ("billing.automated_billing", True)),
        ("fees.usage_tiers=[{unit_price: 0.4}]", ("fees.usage_tiers", [{"unit_price": 0.4}])),
        ("label=a=b", ("label", "a=b")),
        ("label=[unclosed", ("label", "[unclosed")),  # not YAML: kept as text
        ("fees.bill_cap=", ("fees.bill_cap", None)),
    ],
)
def test_parse_assignment(text, expected):
    assert parse_assignment(text) == expected


def test_scenario_is_immutable():
    scenario = load(FIXTURES / "base.yaml")
    with pytest.raises(AttributeError, match="immutable"):
        scenario.fees = None
    with pytest.raises(AttributeError, match="immutable"):
        scenario.name = "other"
    with pytest.raises(AttributeError, match="immutable"):
        del scenario.fees
    with pytest.raises(ValidationError, match="frozen"):
        scenario.fees.monthly_fee = 1.0
    with pytest.raises(ValidationError, match="frozen"):
        scenario.population.segments[0].share = 0.1
    assert scenario.fees.monthly_fee == 25


def test_copies_and_pickles_are_scenarios_with_their_provenance():
    scenario = load(FIXTURES / "child.yaml")
    for twin in (copy.copy(scenario), copy.deepcopy(scenario), pickle.loads(pickle.dumps(scenario))):
        assert type(twin) is simlib.Scenario
        assert twin == scenario
        assert dict(twin.origins) == dict(scenario.origins)
        assert twin.path == scenario.path
        with pytest.raises(AttributeError, match="immutable"):
            twin.fees = None


def test_equality_and_hash_follow_the_parameters():
    base = load(FIXTURES / "base.yaml")
    assert base == load(FIXTURES / "base.yaml")
    assert hash(base) == hash(load(FIXTURES / "base.yaml"))
    assert base != base.with_changes({"fees.monthly_fee": 26})


# --------------------------------------------------------------------------- realise


def test_realise_is_deterministic_and_differs_between_replications():
    scenario = load(FIXTURES / "uncertain.yaml")
    first, again, other = scenario.realise(0), scenario.realise(0), scenario.realise(1)
    assert first == again
    for name in ("loss_aversion", "price_sensitivity", "reference_tolerance", "complaint_churn_effect"):
        assert isinstance(getattr(first.behaviour, name), float)
        assert getattr(first.behaviour, name) != getattr(other.behaviour, name), name
    assert scenario.realise(0, seed=8) != first  # the seed is part of the draw
    assert scenario.realise(0, seed=scenario.simulation.seed) == first
    # Fixed numbers are left alone.
    assert first.fees == scenario.fees
    assert first.behaviour.resolution_relief == scenario.behaviour.resolution_relief


def test_realised_draws_lie_within_each_distributions_support():
    scenario = load(FIXTURES / "uncertain.yaml")
    draws = [scenario.realise(r).behaviour for r in range(40)]
    assert all(1.5 <= d.loss_aversion <= 3.0 for d in draws)
    assert all(0.2 <= d.price_sensitivity <= 1.0 for d in draws)
    assert all(0.0 <= d.reference_tolerance <= 0.3 for d in draws)
    assert all(d.complaint_churn_effect > 0 for d in draws)
    assert all(0 < d.grievance_memory < 1 for d in draws)
    # Forty draws spread over the range rather than sitting on one value.
    spread = [d.loss_aversion for d in draws]
    assert max(spread) - min(spread) > 0.75


def test_realise_pairs_draws_across_scenarios_sharing_a_distribution():
    scenario = load(FIXTURES / "uncertain.yaml")
    reform = scenario.with_changes({"fees.monthly_fee": 30, "name": "reform"})
    for replication in range(3):
        assert reform.realise(replication).behaviour == scenario.realise(replication).behaviour


def test_distributions_that_can_leave_the_parameters_range_are_rejected_when_loading():
    check_lines(
        "distribution_too_wide.yaml",
        [
            (
                "behaviour.grievance_memory",
                "the distribution can draw -0.1292 but the value must be ≥ 0; truncate it with low and high "
                "(got normal(mean=0.7, sd=0.1, low=None, high=None))",
            ),
            (
                "behaviour.grievance_memory",
                "the distribution can draw 1.521 but the value must be ≤ 1; truncate it with low and high "
                "(got normal(mean=0.7, sd=0.1, low=None, high=None))",
            ),
            (
                "behaviour.loss_aversion",
                "the distribution can draw -2.146 but the value must be > 0; truncate it with low and high "
                "(got normal(mean=2.0, sd=0.5, low=None, high=None))",
            ),
            (
                "behaviour.resolution_relief",
                "the distribution can draw 1.2 but the value must be ≤ 1; narrow it "
                "(got beta(a=2.0, b=2.0, low=0.2, high=1.2))",
            ),
        ],
    )
    # Truncated to the range, the same normal is fine.
    truncated = {"distribution": "normal", "mean": 0.7, "sd": 0.1, "low": 0, "high": 1}
    assert load(FIXTURES / "base.yaml", {"behaviour.grievance_memory": truncated})


def test_realise_reports_a_draw_outside_the_parameters_range():
    # Only a scenario built around the loader can hold such a distribution; realise still says so.
    wide = {"distribution": "normal", "mean": 0.5, "sd": 10}
    model = ScenarioModel(name="unchecked", behaviour={"grievance_memory": wide})
    unchecked = simlib.Scenario(model, {}, None)
    failures = []
    for replication in range(5):
        try:
            unchecked.realise(replication)
        except ScenarioError as exc:
            failures.append(str(exc))
    assert failures
    assert all(
        f.startswith("unchecked (replication draw): behaviour.grievance_memory: must be") for f in failures
    )


# --------------------------------------------------------------------------- fingerprint, diff, schema


def test_fingerprint_is_stable_and_ignores_identity_and_key_order():
    base = load(FIXTURES / "base.yaml")
    fingerprint = base.fingerprint()
    assert len(fingerprint) == 16 and int(fingerprint, 16) >= 0
    assert load(FIXTURES / "base.yaml").fingerprint() == fingerprint
    assert load(FIXTURES / "reordered.yaml").fingerprint() == fingerprint
    assert base.with_changes({"name": "x", "label": "y", "description": "z"}).fingerprint() == fingerprint
    assert from_dict(base.as_dict()).fingerprint() == fingerprint


def test_fingerprint_changes_with_any_parameter():
    base = load(FIXTURES / "base.yaml")
    changed = {
        base.with_changes({key: value}).fingerprint()
        for key, value in [
            ("fees.monthly_fee", 25.01),
            ("simulation.seed", 8),
            ("population.segments.heavy.churn_beta", 29),
            ("behaviour.loss_aversion", {"distribution": "uniform", "low": 2, "high": 2.5}),
        ]
    }
    assert len(changed) == 4
    assert base.fingerprint() not in changed


def test_diff_lists_only_changed_parameters_with_units():
    base, child = load(FIXTURES / "base.yaml"), load(FIXTURES / "child.yaml")
    pairs = {p.path: (p, q) for p, q in diff(base, child)}
    fee_base, fee_child = pairs["fees.monthly_fee"]
    assert (fee_base.value, fee_child.value, fee_base.unit) == (25, 28, "EUR/month")
    assert pairs["population.segments[2].share"][1].value == 0.25
    assert "population.segments[1].share" not in pairs  # unchanged
    assert "name" not in pairs  # identity is not a parameter
    assert pairs["fees.usage_tiers[0].up_to"][0].value is None
    assert pairs["fees.usage_tiers[0].up_to"][1].value == 30
    # A band only the child has: the base side is a stand-in marked absent.
    absent, present = pairs["fees.usage_tiers[1].unit_price"]
    assert (absent.value, absent.origin, present.value) == (None, "absent", 0.4)
    assert set(pairs) == {
        "fees.monthly_fee",
        "fees.usage_tiers[0].up_to",
        "fees.usage_tiers[0].unit_price",
        "fees.usage_tiers[1].up_to",
        "fees.usage_tiers[1].unit_price",
        "population.segments[0].share",
        "population.segments[2].share",
    }


def test_diff_the_other_way_and_of_equal_scenarios():
    base, child = load(FIXTURES / "base.yaml"), load(FIXTURES / "child.yaml")
    pairs = {p.path: (p, q) for p, q in diff(child, base)}
    assert pairs["fees.usage_tiers[1].unit_price"][1] is None
    assert diff(base, load(FIXTURES / "reordered.yaml")) == []


def test_json_schema_describes_scenario_files():
    schema = json_schema()
    json.dumps(schema)  # serialisable as it is
    assert schema["type"] == "object"
    assert set(SECTIONS) | {"extends", "name", "label", "description"} <= set(schema["properties"])
    assert schema["properties"]["extends"]["type"] == "string"
    assert schema["additionalProperties"] is False
    fees = schema["$defs"]["Fees"]["properties"]["monthly_fee"]
    assert (fees["unit"], fees["default"], fees["minimum"]) == ("{cur}/month", 25.0, 0)


def schema_refs(node: object) -> list[str]:
    if isinstance(node, dict):
        return [r for k, v in node.items() for r in ([v] if k == "$ref" else schema_refs(v))]
    if isinstance(node, list):
        return [r for v in node for r in schema_refs(v)]
    return []


def test_json_schema_refs_resolve_and_cover_the_keys_of_shipped_files():
    import yaml

    schema = json_schema()
    definitions = schema["$defs"]
    refs = schema_refs(schema)
    assert refs and all(r.startswith("#/$defs/") and r.removeprefix("#/$defs/") in definitions for r in refs)
    for path in [*SHIPPED.glob("*.yaml"), FIXTURES / "child.yaml"]:
        for key, value in yaml.safe_load(path.read_text()).items():
            assert key in schema["properties"], (path.name, key)
            ref = schema["properties"][key].get("$ref")
            if ref and isinstance(value, dict):
                section = definitions[ref.removeprefix("#/$defs/")]
                assert section["additionalProperties"] is False
                assert set(value) <= set(section["properties"]), (path.name, key)


# --------------------------------------------------------------------------- error messages


def test_error_lines_name_file_path_and_value():
    problem = only_problem(INVALID / "typo_key.yaml")
    assert problem.source == str(INVALID / "typo_key.yaml")
    assert problem.path == "fees.montly_fee"
    assert str(problem) == (
        f"{INVALID / 'typo_key.yaml'}: fees.montly_fee: unknown key 'montly_fee' in fees; "
        "did you mean fees.monthly_fee? (value 30)"
    )


# (fixture, key path, words of the message, the bad value as shown)
ONE_PROBLEM = [
    (
        "unknown_key.yaml",
        "fees.zzzqqq",
        "unknown key 'zzzqqq' in fees; valid keys: monthly_fee, included_units",
        "1",
    ),
    # A top-level key's value is never quoted: the file may not be a scenario at all.
    ("unknown_section.yaml", "behavior", "unknown key 'behavior' in top level; did you mean behaviour?", ""),
    (
        "nested_typo.yaml",
        "population.segments[0].shares",
        "did you mean population.segments[0].share?",
        "1",
    ),
    ("top_level_list.yaml", "", "expected a mapping of keys at the top", "got a list"),
    ("missing_parent.yaml", "extends", "parent scenario 'no_such_parent.yaml' not found", "no_such_parent"),
    ("loop_a.yaml", "extends", "circular inheritance: loop_a.yaml → loop_b.yaml → loop_a.yaml", "loop_a"),
    ("extends_not_text.yaml", "extends", "must be a file name", "5"),
    ("segment_shares.yaml", "population.segments", "segment shares must sum to 1", "1.1"),
    ("duplicate_segments.yaml", "population.segments[1].name", "duplicate segment name", "'light'"),
    ("empty_segments.yaml", "population.segments", "must have at least 1 item(s)", "[]"),
    (
        "tiers_not_ascending.yaml",
        "fees.usage_tiers[1].up_to",
        "band bounds must ascend",
        "20.0 is not above 50.0",
    ),
    ("open_band_not_last.yaml", "fees.usage_tiers[0].up_to", "only the last band may be open-ended", "empty"),
    ("last_band_bounded.yaml", "fees.usage_tiers[1].up_to", "the last band must be open-ended", "20.0"),
    ("no_bands.yaml", "fees.usage_tiers", "must have at least 1 item(s)", "[]"),
    ("bill_cap_below_minimum.yaml", "fees.bill_cap", "is below fees.minimum_charge 10.0", "5.0"),
    ("fee_changes_order.yaml", "fee_changes", "changes must be in month order", "[8, 3]"),
    (
        "notice_below_minimum.yaml",
        "fee_changes[0].notice_days",
        "below the legal minimum notice of 30 days (compliance.minimum_notice_days)",
        "14",
    ),
    ("change_beyond_horizon.yaml", "fee_changes[0].month", "must fall inside the 12-month horizon", "12"),
    ("duplicate_rules.yaml", "adjustment_rules[1].name", "duplicate rule name", "'halve penalty'"),
]


@pytest.mark.parametrize(("fixture", "key", "words", "value"), ONE_PROBLEM, ids=[c[0] for c in ONE_PROBLEM])
def test_each_invalid_file_gets_one_precise_line(fixture, key, words, value):
    problem = only_problem(INVALID / fixture)
    line = str(problem)
    assert problem.source == str(INVALID / fixture)
    assert problem.path == key
    assert line.startswith(f"{INVALID / fixture}: {key + ': ' if key else ''}")
    assert words in line
    assert value in line


def check_lines(fixture: str, expected: list[tuple[str, str]]) -> None:
    """Every (key path, message) is reported, each once, from this one file, and nothing else."""
    problems = problems_of(INVALID / fixture)
    assert all(p.source == str(INVALID / fixture) for p in problems)
    assert sorted((p.path, p.message) for p in problems) == sorted(expected)


def test_bad_types_are_all_reported_together():
    check_lines(
        "bad_types.yaml",
        [
            ("name", "input should be a valid string (got 5)"),
            ("simulation.customers", "must be a whole number (got 'many')"),
            ("simulation.months", "must be a whole number (got 2.5)"),
            ("fees.monthly_fee", "must be a number (got 'cheap')"),
            ("fees.tier_mode", "must be one of 'graduated' or 'volume' (got 'stepwise')"),
            ("transparency.itemised_bills", "must be true or false (got 'maybe')"),
            (
                "behaviour.complaint_churn_effect",
                "expected a number or a distribution such as {distribution: uniform, low: 0.1, high: 0.3} "
                "(got 'lots')",
            ),
            ("education", "must be a mapping of keys (got 3)"),
            ("fee_changes", "must be a list (got 3)"),
        ],
    )


def test_out_of_range_values():
    check_lines(
        "out_of_range.yaml",
        [
            ("name", "string should have at least 1 character (got '')"),
            ("label", f"string should have at most 200 characters (got {show_value('x' * 220)})"),
            ("simulation.months", "must be ≥ 1 (got 0)"),
            ("fees.included_units", "must be ≥ 0.0 (got -3)"),
            ("behaviour.grievance_memory", "must be ≤ 1.0 (got 1.5)"),
            ("population.arrivals.market_reference_price", "must be > 0.0 (got 0)"),
            ("fee_changes[0].month", "must be ≥ 1 (got 0)"),
        ],
    )


def test_invalid_distributions():
    check_lines(
        "bad_distributions.yaml",
        [
            (
                "behaviour.loss_aversion",
                "unknown distribution; use uniform, triangular, normal, lognormal or beta "
                "(got {'distribution': 'weird', 'low': 1, 'high': 2})",
            ),
            (
                "behaviour.price_sensitivity",
                "low (2.0) must be below high (1.0) (got {'distribution': 'uniform', 'low': 2, 'high': 1})",
            ),
            (
                "behaviour.reference_sensitivity",
                "need low ≤ mode ≤ high, got 0.0, 2.0, 1.0 "
                f"(got {show_value({'distribution': 'triangular', 'low': 0, 'mode': 2, 'high': 1})})",
            ),
            ("behaviour.reference_tolerance.sd", "must be > 0.0 (got -1)"),
            (
                "behaviour.complaint_churn_effect.high",
                "is required (got {'distribution': 'uniform', 'low': 0.1})",
            ),
            (
                "behaviour.surprise_complaint_rate.mode",
                "unknown key 'mode' in behaviour.surprise_complaint_rate; "
                "valid keys: distribution, low, high (value 0.02)",
            ),
            (
                "behaviour.fee_increase_complaint_rate",
                "expected a number or a distribution such as {distribution: uniform, low: 0.1, high: 0.3} "
                "(got {'low': 0.01, 'high': 0.05})",
            ),
        ],
    )


def test_uniform_needs_low_strictly_below_high():
    problem = only_problem(
        FIXTURES / "base.yaml", {"behaviour.loss_aversion": {"distribution": "uniform", "low": 2, "high": 2}}
    )
    assert problem.path == "behaviour.loss_aversion"
    assert "low (2.0) must be below high (2.0)" in problem.message


def test_unknown_keys_in_fee_changes_with_and_without_suggestion():
    check_lines(
        "fee_change_unknown_key.yaml",
        [
            (
                "fee_changes[0].set.montly_fee",
                "unknown fee parameter (value 30); did you mean fee_changes[0].set.monthly_fee?",
            ),
            ("fee_changes[0].set.qqqq", "unknown fee parameter (value 1)"),
        ],
    )


def test_invalid_values_inside_fee_changes():
    check_lines(
        "fee_change_bad_value.yaml",
        [
            ("fee_changes[0].set.monthly_fee", "must be ≥ 0.0 (got -5)"),
            ("fee_changes[1].set.usage_tiers[0].up_to", "the last band must be open-ended (empty), got 5.0"),
        ],
    )


def test_legal_caps_are_enforced_where_the_fee_is_set():
    check_lines(
        "above_legal_caps.yaml",
        [
            ("fees.monthly_fee", "above the legal monthly cap of 30.0 (compliance.fee_cap) (got 35.0)"),
            ("fees.penalty_fee", "above the legal cap of 10.0 (compliance.penalty_fee_cap) (got 12.0)"),
            (
                "fee_changes[0].set.penalty_fee",
                "above the legal cap of 10.0 (compliance.penalty_fee_cap) (got 15.0)",
            ),
        ],
    )


def test_caps_are_not_errors_when_breaches_are_fined():
    scenario = load(FIXTURES / "fined_caps.yaml")
    assert scenario.compliance.enforcement == "fine"
    assert scenario.fees.penalty_fee > scenario.compliance.penalty_fee_cap


def test_problems_of_the_base_fees_are_not_repeated_for_each_fee_change():
    problems = problems_of(
        INVALID / "bill_cap_below_minimum.yaml",
        {"fee_changes": [{"month": 2, "set": {"monthly_fee": 30}}, {"month": 3, "set": {"penalty_fee": 1}}]},
    )
    assert [p.path for p in problems] == ["fees.bill_cap"]
    # A change that makes things worse is reported, under the change.
    problems = problems_of(
        INVALID / "bill_cap_below_minimum.yaml",
        {"fee_changes": [{"month": 2, "set": {"minimum_charge": 20}}]},
    )
    assert [p.path for p in problems] == ["fees.bill_cap", "fee_changes[0].set.bill_cap"]
    assert "is below fees.minimum_charge 20.0" in problems[1].message


def test_notice_is_checked_even_when_the_change_has_other_problems():
    problems = problems_of(INVALID / "notice_below_minimum.yaml", {"fee_changes[0].set": {"montly_fee": 27}})
    assert {p.path for p in problems} == {"fee_changes[0].notice_days", "fee_changes[0].set.montly_fee"}


def test_cross_field_problems_are_all_reported_together():
    check_lines(
        "several_problems.yaml",
        [
            ("population.segments", "segment shares must sum to 1 (got 1.4)"),
            ("population.segments[1].name", "duplicate segment name (got 'light')"),
            ("fees.bill_cap", "is below fees.minimum_charge 10.0 (got 5.0)"),
            ("adjustment_rules[1].name", "duplicate rule name (got 'r')"),
        ],
    )


def test_yaml_syntax_error_names_line_and_column():
    problem = only_problem(INVALID / "yaml_syntax.yaml")
    assert problem.path == ""
    assert problem.message.startswith("not valid YAML at line 4, column 8:")


def test_a_key_stated_twice_is_an_error_not_silently_the_last():
    problem = only_problem(INVALID / "duplicate_key.yaml")
    assert (
        problem.message
        == "not valid YAML at line 4, column 3: key 'monthly_fee' is stated twice (first on line 2)"
    )


def test_yaml_anchors_and_merge_keys_still_work(tmp_path):
    path = tmp_path / "anchors.yaml"
    path.write_text(
        "population:\n  segments:\n    - &light {name: light, share: 0.5, usage_median_units: 8}\n"
        "    - {<<: *light, name: heavy}\n"
    )
    light, heavy = load(path).population.segments
    assert (heavy.name, heavy.share, heavy.usage_median_units) == ("heavy", 0.5, 8)
    assert light.name == "light"


def test_bad_character_names_line_and_column(tmp_path):
    path = tmp_path / "bell.yaml"
    path.write_text("fees:\n  monthly_fee: 2\x075\n")
    problem = only_problem(path)
    assert problem.message.startswith("not valid YAML at line 2, column 17: unacceptable character #x0007")


def test_file_not_found(tmp_path):
    problem = only_problem(tmp_path / "nowhere.yaml")
    assert str(problem) == f"{tmp_path / 'nowhere.yaml'}: file not found"


def test_not_utf8(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("label: caf\xe9\n".encode("latin-1"))
    assert str(only_problem(path)) == f"{path}: not a UTF-8 text file"


def test_circular_extends_of_itself(tmp_path):
    path = tmp_path / "self.yaml"
    path.write_text("extends: self.yaml\n")
    assert only_problem(path).message == "circular inheritance: self.yaml → self.yaml"


def test_too_deep_inheritance(tmp_path):
    (tmp_path / "level0.yaml").write_text("fees: {monthly_fee: 20}\n")
    for level in range(1, 20):
        (tmp_path / f"level{level}.yaml").write_text(f"extends: level{level - 1}.yaml\n")
    assert load(tmp_path / "level10.yaml").fees.monthly_fee == 20  # long but reasonable chains work
    problem = only_problem(tmp_path / "level19.yaml")
    assert (problem.path, problem.message) == ("extends", "inheritance chain is too deep")


@pytest.mark.parametrize(
    ("overrides", "key", "message"),
    [
        (
            {"fees.montly_fee": 3},
            "fees.montly_fee",
            "unknown key 'montly_fee' in fees; did you mean fees.monthly_fee?",
        ),
        (
            {"nosuch": 1},
            "nosuch",
            "unknown key 'nosuch' in top level; valid keys: name, label, short_label, description",
        ),
        (
            {"population.segments.heavy.sharee": 0.2},
            "population.segments.heavy.sharee",
            "unknown key 'sharee' in population.segments[2]; did you mean population.segments[2].share?",
        ),
        (
            {"population.segments.huge.share": 0.1},
            "population.segments.huge.share",
            "no list item 'huge'; items are light, standard, heavy",
        ),
        ({"population.segments[7].share": 0.1}, "population.segments[7].share", "no list item '7'"),
        ({"fee_changes.0.month": 3}, "fee_changes.0.month", "no list item '0'"),
        (
            {"fees.monthly_fee.amount": 3},
            "fees.monthly_fee.amount",
            "fees.monthly_fee is a single value, not a section (got 25)",
        ),
        ({"": 3}, "", "empty key path"),
        ({"fees.monthly_fee": "abc"}, "fees.monthly_fee", "must be a number (got 'abc')"),
    ],
    ids=[
        "typo",
        "unknown-top-level",
        "typo-in-named-item",
        "unknown-named-item",
        "index-out-of-range",
        "item-of-empty-list",
        "key-below-a-value",
        "empty-path",
        "bad-value",
    ],
)
def test_override_errors_name_the_command_line(overrides, key, message):
    problem = only_problem(FIXTURES / "base.yaml", overrides)
    assert problem.source == "--set"  # the file is fine; the override is not
    assert problem.path == key
    assert message in problem.message


def test_several_override_errors_are_reported_together():
    problems = problems_of(
        FIXTURES / "base.yaml", {"fees.montly_fee": 3, "nosuch": 1, "population.segments.x.share": 1}
    )
    assert [p.path for p in problems] == ["fees.montly_fee", "nosuch", "population.segments.x.share"]


def test_set_without_equals_sign():
    with pytest.raises(ScenarioError) as caught:
        parse_assignment("fees.monthly_fee")
    assert str(caught.value) == "--set: fees.monthly_fee: expected key.path=value, e.g. fees.monthly_fee=27.5"


def test_from_dict_reports_against_the_mapping_name():
    with pytest.raises(ScenarioError) as caught:
        from_dict({"fees": {"monthly_fee": -1}}, name="reform")
    assert str(caught.value) == "<reform>: fees.monthly_fee: must be ≥ 0.0 (got -1)"
    scenario = from_dict({"fees": {"monthly_fee": 30}}, name="reform")
    assert scenario.name == "reform"
    assert parameters(scenario)["fees.monthly_fee"].origin == "mapping"


def test_show_value_keeps_error_lines_short():
    assert show_value("x") == "'x'"
    assert show_value(1.5) == "1.5"
    assert show_value(["a   b"]) == "['a b']"  # one line, whatever the value
    long = show_value("y" * 500)
    assert len(long) == 60 and long.endswith("…")


def test_field_and_cross_field_errors_are_reported_together(tmp_path):
    (tmp_path / "parent.yaml").write_text("fees:\n  minimum_charge: -1\n")
    (tmp_path / "child.yaml").write_text(
        "extends: parent.yaml\n"
        "fees:\n  montly_fee: 20\n"
        "population:\n  segments:\n    - name: a\n      share: 0.6\n    - name: b\n      share: 0.6\n"
    )
    lines = [str(p) for p in problems_of(tmp_path / "child.yaml")]
    source = str(tmp_path / "child.yaml")
    assert lines == [
        f"{source} (value inherited from parent.yaml): fees.minimum_charge: must be ≥ 0.0 (got -1)",
        f"{source}: fees.montly_fee: unknown key 'montly_fee' in fees; "
        "did you mean fees.monthly_fee? (value 20)",
        f"{source}: population.segments: segment shares must sum to 1 (got 1.2)",
    ]


def test_a_child_distribution_replaces_the_parents_whole(tmp_path: Path) -> None:
    parent = tmp_path / "parent.yaml"
    parent.write_text(
        "name: parent\nbehaviour:\n"
        "  loss_aversion: {distribution: triangular, low: 1.5, mode: 2.25, high: 3.0}\n"
        "  price_sensitivity: {distribution: uniform, low: 0.3, high: 0.8}\n"
    )
    child = tmp_path / "child.yaml"
    child.write_text(
        "extends: parent.yaml\nbehaviour:\n"
        "  loss_aversion: {distribution: normal, mean: 2.0, sd: 0.2}\n"
        "  price_sensitivity: 0.5\n"
    )
    loaded = simlib.load(child)
    loss_aversion = loaded.as_dict()["behaviour"]["loss_aversion"]
    assert {k: v for k, v in loss_aversion.items() if v is not None} == {
        "distribution": "normal",
        "mean": 2.0,
        "sd": 0.2,
    }  # no "mode" inherited from the parent's triangular
    assert loaded.behaviour.price_sensitivity == 0.5

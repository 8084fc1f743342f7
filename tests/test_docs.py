"""docs/model.md must stay in step with the scenario schema and cover every point of the seed article.

* The parameter table between the markers is exactly what docs/parameter_table.py generates now, and
  every parameter of the schema has a row with its unit and default (so a schema change without a
  doc update fails, with a message naming the parameter).
* Every parameter key path quoted in backticks anywhere in model.md exists in the schema.
* The section on the seed article has a row for each of its points, citing real parameters.

To update the table after a schema change: ``.venv/bin/python docs/parameter_table.py --write``.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import typing
from pathlib import Path
from types import ModuleType

import pytest
from pydantic import BaseModel

from simlib.model.parameters import AdjustmentRule, ScenarioModel

ROOT = Path(__file__).resolve().parents[1]
MODEL_MD = ROOT / "docs" / "model.md"
SEED_README = ROOT.parent / "shared" / "seed" / "README.md"

SEED_POINTS = {
    "1": "明确扣费标准",
    "2": "建立透明的扣费机制",
    "3": "定期审核与调整",
    "4": "客户沟通与反馈",
    "5": "使用先进的扣费管理系统",
    "6": "培训与监督",
    "7": "案例分析与经验分享",
    "8": "法律法规与合规管理",
    "9": "客户教育与宣传",
    "FAQ": "complaints are inevitable",
}
"""The seed article's points (docs/model.md section 12), by number and key phrase."""

REQUIRED_TOPICS = (
    "shifted-beta-geometric",
    "Beta$(\\alpha_s, \\beta_s + \\tau^0_i)$",
    "P(\\text{leave}) = p_i + (1 - p_i)\\,\\big(1 - e^{-H}\\big)",
    "1 - \\prod_k (1 - r_k)",
    "1 - e^{-d/D}",
    "\\frac{m\\,(1 + d)}{d + c}",
    "5th and 95th percentiles",
    "Monte Carlo standard error",
    "(seed, replication, customer, month, purpose)",
    "service pools of 4,096 seats",
    "integer cents",
    "Warm-up",
    "fixed-point iteration",
    "Winners and losers",
    "Known limitations",
)
"""Equations and concepts the brief requires docs/model.md to explain."""


def _load_generator() -> ModuleType:
    path = ROOT / "docs" / "parameter_table.py"
    spec = importlib.util.spec_from_file_location("docs_parameter_table", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    return _load_generator()


@pytest.fixture(scope="module")
def document() -> str:
    return MODEL_MD.read_text(encoding="utf-8")


def _section_class(annotation: typing.Any) -> type[BaseModel] | None:
    """The section model of a nested field or of a tuple-of-sections field, else None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return None if "distribution" in annotation.model_fields else annotation
    if typing.get_origin(annotation) is tuple:
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        if len(args) == 1:
            return _section_class(args[0])
    return None


def schema_paths(model: type[BaseModel] = ScenarioModel, prefix: str = "") -> dict[str, bool]:
    """Every key path of the schema, walked independently of the generator: path -> is a table row.

    Nested sections are paths but not rows; lists of sections are rows and their items' fields
    are rows with ``[]`` in the path.
    """
    paths: dict[str, bool] = {}
    for name, field in model.model_fields.items():
        path = f"{prefix}.{name}" if prefix else name
        section = _section_class(field.annotation)
        is_list = typing.get_origin(field.annotation) is tuple
        if section is not None and not is_list:
            paths[path] = False
            paths.update(schema_paths(section, path))
        else:
            paths[path] = True
            if section is not None:
                paths.update(schema_paths(section, f"{path}[]"))
    return paths


def _table_rows(table: str) -> dict[str, list[str]]:
    """Rows of the Markdown tables in ``table`` by key path: path -> cells after the path."""
    rows: dict[str, list[str]] = {}
    for line in table.splitlines():
        match = re.match(r"^\| `([^`]+)` \|(.*)\|\s*$", line)
        if match:
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", match.group(2))]
            rows[match.group(1)] = cells
    return rows


def test_parameter_table_matches_the_schema(generator: ModuleType, document: str) -> None:
    in_doc = generator.table_in(document)
    expected = generator.markdown_table()
    assert in_doc == expected, (
        "the parameter table in docs/model.md is out of date with simlib/model/parameters.py; "
        "regenerate it with `.venv/bin/python docs/parameter_table.py --write`"
    )


def test_every_parameter_has_a_row_with_unit_and_default(generator: ModuleType, document: str) -> None:
    rows = _table_rows(generator.table_in(document))
    expected = {r.path: r for r in generator.parameter_rows()}
    leaves = {path for path, is_row in schema_paths().items() if is_row}
    assert set(expected) == leaves, "docs/parameter_table.py does not walk the whole schema"
    missing = sorted(leaves - set(rows))
    assert not missing, f"parameters missing from the table in docs/model.md: {missing}"
    extra = sorted(set(rows) - leaves)
    assert not extra, f"rows in docs/model.md for parameters that no longer exist: {extra}"
    header = [c.strip() for c in generator._HEADER[1:]]
    unit_at, default_at = header.index("Unit"), header.index("Default")
    for path, row in expected.items():
        cells = rows[path]
        assert cells[unit_at] == row.unit.replace("|", "\\|"), f"{path}: unit in docs/model.md differs"
        assert cells[default_at] == row.default.replace("|", "\\|"), f"{path}: default differs"


def test_units_and_defaults_come_from_the_schema(generator: ModuleType) -> None:
    """Spot checks that the generator reads the schema rather than inventing text."""
    rows = {r.path: r for r in generator.parameter_rows()}
    fees = ScenarioModel.model_fields["fees"].annotation
    monthly = fees.model_fields["monthly_fee"]
    assert rows["fees.monthly_fee"].unit == monthly.json_schema_extra["unit"] == "{cur}/month"
    assert rows["fees.monthly_fee"].default == generator._value(monthly.default)
    assert rows["behaviour.loss_aversion"].source.startswith("Tversky & Kahneman")
    assert "or distribution" in rows["behaviour.loss_aversion"].accepts
    assert rows["compliance.fee_cap"].default == "empty"
    assert rows["adjustment_rules"].default == "[]"
    assert "population.segments[].churn_alpha" in rows


def _quoted_paths(text: str) -> set[str]:
    heads = "|".join(re.escape(name) for name in ScenarioModel.model_fields)
    pattern = re.compile(rf"`((?:{heads})(?:\[\])?(?:\.[a-z_0-9]+(?:\[\])?)*)`")
    return set(pattern.findall(text))


def test_parameter_paths_quoted_in_the_text_exist(document: str) -> None:
    paths = set(schema_paths())
    paths |= {p[: i + 2] for p in paths for i in range(len(p)) if p.startswith("[]", i)}
    rule_targets = set(typing.get_args(AdjustmentRule.model_fields["parameter"].annotation))
    start, end = document.find("<!-- parameter-table:start"), document.find("<!-- parameter-table:end")
    prose = document[:start] + document[end:]
    unknown = sorted(p for p in _quoted_paths(prose) if p not in paths and p not in rule_targets)
    assert not unknown, f"docs/model.md names parameters that are not in the schema: {unknown}"


def _seed_section(document: str) -> str:
    start = document.find("## 12. The seed article, point by point")
    assert start >= 0, "docs/model.md lacks the section '12. The seed article, point by point'"
    end = document.find("\n## ", start + 1)
    return document[start : end if end > 0 else len(document)]


@pytest.mark.parametrize("point", list(SEED_POINTS))
def test_every_seed_point_is_mapped(document: str, point: str) -> None:
    section = _seed_section(document)
    rows = [line for line in section.splitlines() if line.startswith(f"| {point} |")]
    assert len(rows) == 1, f"seed point {point} needs exactly one row in section 12 of docs/model.md"
    row = rows[0]
    assert SEED_POINTS[point] in row, f"seed point {point}: row should quote {SEED_POINTS[point]!r}"
    cited = _quoted_paths(row) & set(schema_paths())
    assert cited, f"seed point {point}: the row cites no parameter of the schema"


def test_seed_points_match_the_seed_readme() -> None:
    if not SEED_README.exists():
        pytest.skip(f"{SEED_README} is not available here")
    text = SEED_README.read_text(encoding="utf-8")
    found = dict(re.findall(r"^\| (\d+|FAQ) \| (\S+)", text, flags=re.MULTILINE))
    assert set(found) == set(SEED_POINTS), "the seed README's points changed: update SEED_POINTS"
    for point, phrase in SEED_POINTS.items():
        if point != "FAQ":
            assert found[point].startswith(phrase), f"seed point {point} is now {found[point]!r}"


@pytest.mark.parametrize("topic", REQUIRED_TOPICS)
def test_required_topics_are_explained(document: str, topic: str) -> None:
    assert topic in document, f"docs/model.md should explain {topic!r}"


# Phrases that say a tool or feature does not exist yet. Docs must not say that of a command that ships
# (docs/model.md §13 once said "no calibration tool ships yet" next to a working `simlib calibrate`).
_NOT_YET = re.compile(
    r"(no [^.]{0,60}\bships?\b[^.]{0,20}\byet|not (?:yet )?(?:shipped|available|implemented)|planned as|"
    r"is planned|will be added|to be added later)[^.]*",
    re.IGNORECASE,
)


def _commands() -> set[str]:
    from simlib.cli.main import main

    return set(main.commands)


@pytest.mark.parametrize("path", ["docs/model.md", "README.md"])
def test_docs_do_not_call_a_shipped_command_missing(path: str) -> None:
    text = (ROOT / path).read_text(encoding="utf-8")
    commands = _commands()
    stale = []
    for match in _NOT_YET.finditer(text):
        sentence = text[max(0, match.start() - 200) : match.end()]
        named = set(re.findall(r"`simlib (\w+)", sentence)) | set(re.findall(r"\b(\w+) tool\b", sentence))
        if named & commands:
            stale.append(match.group(0)[:120])
    assert not stale, f"{path} says a shipped command is missing: {stale}"


def test_the_drift_check_catches_the_old_sentence() -> None:
    """The sentence that was stale before issue 10 is caught."""
    old = "no calibration tool ships yet (fitting them to a firm's history is planned as `simlib calibrate`)."
    assert _NOT_YET.search(old)
    named = set(re.findall(r"`simlib (\w+)", old)) | set(re.findall(r"\b(\w+) tool\b", old))
    assert named & _commands() == {"calibrate"}

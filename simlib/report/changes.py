"""TEMPORARY SHIM (replaced by the numbers lane)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Change:
    key_path: str
    label: str
    before: str
    after: str
    sentence: str


def describe_changes(base, reform, language="en", label=None):
    from simlib.scenario.scenario import diff

    out = []
    for a, b in diff(base, reform):
        out.append(Change(a.path, a.label, str(a.value), str(b.value if b else ""), f"{a.label}: {a.value} → {b.value if b else ''}"))
    return out

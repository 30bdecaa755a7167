"""Builders for test values: rules from a few keywords, with valid defaults for the rest."""

from __future__ import annotations

from typing import Any

from bot.core.model import Evidence, Finding, Fix, Hypothesis, Kind, Triage, Verdict
from bot.rules.schema import Rule


def make_rule(**over: Any) -> Rule:
    """A valid rule; `lines=[...]` and `sequences=[...]` set what it matches."""
    rid = over.pop("id", "USR001")
    kind = over.pop("kind", "infrastructure")
    data: dict[str, Any] = {
        "id": rid,
        "name": over.pop("name", f"test-{rid.lower()}"),
        "kind": kind,
        "category": over.pop("category", "network" if kind == "infrastructure" else "test_failure"),
        "title": over.pop("title", "Test rule fired"),
        "weight": over.pop("weight", 0.9),
        "priority": over.pop("priority", 50),
        "retry": over.pop("retry", "safe" if kind == "infrastructure" else "never"),
        "match": {
            "lines": over.pop("lines", []),
            "sequences": over.pop("sequences", []),
            "exclude": over.pop("exclude", []),
            "scope": over.pop("scope", {}),
        },
        "docs": {"what": "Something failed in a test.", "why": "Because the test says so."},
        "hypotheses": over.pop(
            "hypotheses",
            [
                {
                    "text": "The only explanation",
                    "confidence": 1.0,
                    "fixes": [{"text": "Re-run it", "commands": ["true"]}],
                }
            ],
        ),
        "examples": over.pop("examples", [{"log": "x"}, {"log": "y", "matches": False}]),
    }
    data.update(over)
    return Rule.model_validate(data)


def make_triage(
    verdict: str = "infrastructure",
    category: str | None = "network",
    confidence: float = 0.95,
    retry: str = "safe",
    preview: bool = False,
    text: str = "curl: (6) Could not resolve host: example.org",
) -> Triage:
    """A triage with one finding (none when the verdict is unknown and category is None)."""
    findings: tuple[Finding, ...] = ()
    if category is not None:
        kind = Kind.CODE if verdict == "code" else Kind.INFRASTRUCTURE
        findings = (
            Finding(
                rule="INF201" if kind is Kind.INFRASTRUCTURE else "COD101",
                name="some-rule",
                kind=kind,
                category=category,
                confidence=confidence,
                title=f"{category} happened",
                step="tests",
                evidence=(Evidence(12, text, "tests"),),
                hypotheses=(Hypothesis("It is what it is", 0.9, "a log line", (Fix("Re-run", ("gh run rerun",)),)),),
                retry=retry,
                why="Because.",
                preview=preview,
            ),
        )
    return Triage(
        verdict=Verdict(verdict),
        confidence=confidence if verdict != "unknown" else 0.0,
        category=category if verdict != "unknown" else None,
        failed_step="tests",
        findings=findings,
        tail=(Evidence(11, "last line before failure"),),
    )

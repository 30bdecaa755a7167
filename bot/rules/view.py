"""Plain, validated-elsewhere views of rules: what a warm start uses instead of pydantic models.

A rule file is validated by the pydantic schema (`bot.rules.schema`) when the catalog is built;
the result is cached as JSON keyed by the rule files' contents. Rebuilding the catalog from that
cache needs no validation, and importing pydantic and building the schema's validators costs
more than classifying a small log, so a warm `ci-triage classify` reads the cache into these
frozen dataclasses. They carry the same attribute names as the schema, so the engine and the
renderers take either.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

CI_SYSTEMS = (
    "github_actions",
    "gitlab_ci",
    "jenkins",
    "travis",
    "buildkite",
    "circleci",
    "azure_pipelines",
    "plain",
)


@dataclass(frozen=True, slots=True)
class SequenceView:
    patterns: tuple[str, ...]
    window: int


@dataclass(frozen=True, slots=True)
class ScopeView:
    ci: tuple[str, ...]
    step: str | None
    tool: str | None


@dataclass(frozen=True, slots=True)
class MatchView:
    lines: tuple[str, ...]
    sequences: tuple[SequenceView, ...]
    exclude: tuple[str, ...]
    scope: ScopeView


@dataclass(frozen=True, slots=True)
class FixView:
    text: str
    commands: tuple[str, ...]
    warning: str


@dataclass(frozen=True, slots=True)
class HypothesisView:
    text: str
    confidence: float
    needs: str
    supports: tuple[str, ...]
    against: tuple[str, ...]
    fixes: tuple[FixView, ...]


@dataclass(frozen=True, slots=True)
class ExampleView:
    log: str
    matches: bool


@dataclass(frozen=True, slots=True)
class DocsView:
    what: str
    why: str
    known_problems: str
    references: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RuleView:
    id: str
    name: str
    kind: str
    category: str
    title: str
    weight: float
    priority: int
    status: str
    retry: str
    match: MatchView
    docs: DocsView
    hypotheses: tuple[HypothesisView, ...]
    examples: tuple[ExampleView, ...]


def rule_view(data: Mapping[str, Any]) -> RuleView:
    """A RuleView from `Rule.model_dump(mode="json", by_alias=True)` of an already valid rule."""
    m, d = data["match"], data["docs"]
    return RuleView(
        id=data["id"],
        name=data["name"],
        kind=data["kind"],
        category=data["category"],
        title=data["title"],
        weight=float(data["weight"]),
        priority=int(data["priority"]),
        status=data["status"],
        retry=data["retry"],
        match=MatchView(
            lines=tuple(m["lines"]),
            sequences=tuple(SequenceView(tuple(s["patterns"]), int(s["window"])) for s in m["sequences"]),
            exclude=tuple(m["exclude"]),
            scope=ScopeView(tuple(m["scope"]["ci"]), m["scope"]["step"], m["scope"]["tool"]),
        ),
        docs=DocsView(d["what"], d["why"], d["known_problems"], tuple(d["references"])),
        hypotheses=tuple(
            HypothesisView(
                h["text"],
                float(h["confidence"]),
                h["needs"],
                tuple(h["for"]),
                tuple(h["against"]),
                tuple(FixView(f["text"], tuple(f["commands"]), f["warning"]) for f in h["fixes"]),
            )
            for h in data["hypotheses"]
        ),
        examples=tuple(ExampleView(e["log"], bool(e["matches"])) for e in data["examples"]),
    )

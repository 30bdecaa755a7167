"""Values the core computes: findings, hypotheses, the triage of one job.

Frozen slotted dataclasses: the engine builds them per log and should not pay validation
cost. `Triage.to_dict()` is the stable JSON output contract documented in docs/output.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    """Whose fault a failure is."""

    INFRASTRUCTURE = "infrastructure"
    CODE = "code"


class Verdict(StrEnum):
    """The answer for one job, or for a run: a kind, or UNKNOWN when no rule fits well enough."""

    INFRASTRUCTURE = "infrastructure"
    CODE = "code"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Evidence:
    """One log line: its 1-based number in the original file and its normalised text."""

    line: int
    text: str
    step: str | None = None
    step_line: int | None = None
    """1-based line within its step's log, for forges that link by step (GitHub's #step:N:L)."""

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "text": self.text}


@dataclass(frozen=True, slots=True)
class Fix:
    """A recommended action, with the commands to run and what to beware of."""

    text: str
    commands: tuple[str, ...] = ()
    warning: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"text": self.text, "commands": list(self.commands)}
        if self.warning:
            out["warning"] = self.warning
        return out


@dataclass(frozen=True, slots=True)
class Hypothesis:
    """One explanation of a finding, with its confidence and the log lines for and against it."""

    text: str
    confidence: float
    needs: str = ""
    fixes: tuple[Fix, ...] = ()
    evidence_for: tuple[Evidence, ...] = ()
    evidence_against: tuple[Evidence, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "confidence": round(self.confidence, 2),
            "needs": self.needs,
            "evidence_for": [e.to_dict() for e in self.evidence_for],
            "evidence_against": [e.to_dict() for e in self.evidence_against],
            "fixes": [f.to_dict() for f in self.fixes],
        }


@dataclass(frozen=True, slots=True)
class Finding:
    """One failure found in the log by one rule."""

    rule: str
    name: str
    kind: Kind
    category: str
    confidence: float
    title: str
    step: str | None
    evidence: tuple[Evidence, ...]
    hypotheses: tuple[Hypothesis, ...] = ()
    retry: str = "never"
    why: str = ""
    preview: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "name": self.name,
            "kind": self.kind.value,
            "category": self.category,
            "confidence": round(self.confidence, 2),
            "title": self.title,
            "step": self.step,
            "evidence": [e.to_dict() for e in self.evidence],
            "hypotheses": [h.to_dict() for h in self.hypotheses],
        }


@dataclass(frozen=True, slots=True)
class Stats:
    """How much was read; `seconds` is filled in by the caller, which owns the clock."""

    lines: int = 0
    bytes: int = 0
    seconds: float = 0.0
    truncated_lines: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"lines": self.lines, "bytes": self.bytes, "seconds": round(self.seconds, 3)}


@dataclass(frozen=True, slots=True)
class Triage:
    """The classification of one job log: the verdict and the ranked findings behind it."""

    verdict: Verdict
    confidence: float
    category: str | None
    failed_step: str | None
    findings: tuple[Finding, ...]
    stats: Stats = field(default_factory=Stats)
    ci_system: str = "plain"
    tail: tuple[Evidence, ...] = ()
    """The last lines before the failure marker (or of the log): shown when the verdict is unknown."""
    path: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON object (docs/output.md); keys and types are a stable contract."""
        return {
            "path": self.path,
            "verdict": self.verdict.value,
            "confidence": round(self.confidence, 2),
            "category": self.category,
            "failed_step": self.failed_step,
            "ci_system": self.ci_system,
            "findings": [f.to_dict() for f in self.findings],
            "stats": self.stats.to_dict(),
        }

"""The shape of a rule file. Every rule in bot/rules/ (and in a repository's config) validates here.

A rule is data: what it matches, what it means (kind and taxonomy category), how sure it is,
and its documentation: what failed, why it has this kind, the hypotheses it raises with their
prior confidence and the evidence each needs, and the fixes with their commands. The PR
comment, `ci-triage rule ID` and docs/rules/ all render from this one object.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator, model_validator

Pattern = Annotated[str, StringConstraints(min_length=3)]
RuleId = Annotated[str, StringConstraints(pattern=r"^(INF|COD|USR)\d{3,4}$")]
RuleName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")]
from bot.rules.view import CI_SYSTEMS  # noqa: E402 - shared with the pydantic-free views

# Patterns must stay within one line and must not backtrack without bound: the engine runs
# them on untrusted text (pitfalls.md: "(.|\n)*" went quadratic on a 100 MB log).
_UNBOUNDED_NEWLINE = re.compile(r"(?<!\\)(?:\\\\)*\\n|\(\.\|\\n\)|\[\\s\\S\]|\(\?s\)")
_NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*[+*]\)[+*]")
_BACKREFERENCE = re.compile(r"\(\?P=|\\[1-9]")


class Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _trusted(info: ValidationInfo | None) -> bool:
    """True when re-loading our own cache of an already validated catalog."""
    return bool(info is not None and isinstance(info.context, dict) and info.context.get("trusted"))


def check_pattern(pattern: str) -> str:
    """Compile one pattern and refuse the shapes that can blow up on hostile input."""
    if _UNBOUNDED_NEWLINE.search(pattern):
        raise ValueError(f"pattern must match within one line: {pattern!r}")
    if _BACKREFERENCE.search(pattern):
        raise ValueError(f"backreferences cannot be prefiltered; rewrite without them: {pattern!r}")
    if _NESTED_QUANTIFIER.search(pattern):
        raise ValueError(f"nested unbounded quantifier (catastrophic backtracking): {pattern!r}")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from exc
    return pattern


class Sequence(Strict):
    """Patterns that must all match, in order, on lines within `window` lines of the first."""

    patterns: tuple[Pattern, ...] = Field(min_length=2, max_length=6)
    window: int = Field(20, ge=1, le=500)

    @field_validator("patterns")
    @classmethod
    def _compile(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        if _trusted(info):
            return value
        return tuple(check_pattern(p) for p in value)


class Scope(Strict):
    """Where a rule applies; empty means everywhere."""

    ci: tuple[Literal[CI_SYSTEMS], ...] = ()  # type: ignore[valid-type]
    """Only in logs of these CI systems."""
    step: str | None = None
    """Only on lines whose step or section name matches this regex (e.g. `prepare_executor`)."""
    tool: str | None = None
    """Only when this regex (the tool's banner or command) matches some line of the log."""

    @field_validator("step", "tool")
    @classmethod
    def _compile(cls, value: str | None, info: ValidationInfo) -> str | None:
        if _trusted(info):
            return value
        return None if value is None else check_pattern(value)


class Match(Strict):
    """What the rule looks for. At least one line pattern or one sequence."""

    lines: tuple[Pattern, ...] = ()
    """Any one of these matching one normalised line is a hit. Named groups fill `title`."""
    sequences: tuple[Sequence, ...] = ()
    exclude: tuple[Pattern, ...] = ()
    """A line matching one of these is never a hit for this rule (near misses)."""
    scope: Scope = Scope()

    @field_validator("lines", "exclude")
    @classmethod
    def _compile(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        if _trusted(info):
            return value
        return tuple(check_pattern(p) for p in value)

    @model_validator(mode="after")
    def _something(self) -> Match:
        if not self.lines and not self.sequences:
            raise ValueError("a rule needs at least one of match.lines or match.sequences")
        return self


class FixDoc(Strict):
    text: Annotated[str, StringConstraints(min_length=3)]
    commands: tuple[str, ...] = ()
    warning: str = ""


class HypothesisDoc(Strict):
    """One explanation the rule raises, its prior, and what in the log would confirm it."""

    text: Annotated[str, StringConstraints(min_length=3)]
    confidence: float = Field(ge=0.0, le=1.0)
    """Prior: how often this is the explanation when the rule fires."""
    needs: str = ""
    """The evidence this hypothesis needs, in words (shown to the reader)."""
    supports: tuple[Pattern, ...] = Field(default=(), alias="for")
    """Lines that, when present anywhere in the log, make this hypothesis more likely."""
    against: tuple[Pattern, ...] = ()
    """Lines that make it less likely."""
    fixes: tuple[FixDoc, ...] = ()

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @field_validator("supports", "against")
    @classmethod
    def _compile(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        if _trusted(info):
            return value
        return tuple(check_pattern(p) for p in value)


class Example(Strict):
    log: Annotated[str, StringConstraints(min_length=1)]
    """A few verbatim log lines (timestamps and markers may be kept; they are normalised)."""
    matches: bool = True
    """False marks a near miss that this rule must NOT match."""


class Docs(Strict):
    what: Annotated[str, StringConstraints(min_length=10)]
    """What failed, in the user's terms."""
    why: Annotated[str, StringConstraints(min_length=10)]
    """Why this is infrastructure (or code): the argument for the kind."""
    known_problems: str = ""
    references: tuple[str, ...] = ()


class Rule(Strict):
    id: RuleId
    name: RuleName
    kind: Literal["infrastructure", "code"]
    category: str
    """A taxonomy id; checked against the taxonomy when the catalog loads."""
    title: Annotated[str, StringConstraints(min_length=5, max_length=200)]
    """One line for the comment; `{group}` is replaced by the named regex group of the hit."""
    weight: float = Field(ge=0.05, le=0.99)
    """Prior confidence that a hit means this failure (its measured precision)."""
    priority: int = Field(50, ge=0, le=100)
    """Breaks ties between findings of similar confidence; specific rules rank above generic ones."""
    status: Literal["preview", "stable"] = "stable"
    retry: Literal["never", "safe", "after-cleanup"] = "never"
    """Whether a plain re-run can help: `safe` (transient), `after-cleanup` (needs a clean runner)."""
    match: Match
    docs: Docs
    hypotheses: tuple[HypothesisDoc, ...] = Field(min_length=1)
    examples: tuple[Example, ...] = Field(min_length=2)

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> Rule:
        if _trusted(info):
            return self
        if self.kind == "code" and self.retry != "never":
            raise ValueError("a code rule cannot be retry-safe: re-running does not fix code")
        if not any(e.matches for e in self.examples):
            raise ValueError("a rule needs at least one example that matches")
        if all(e.matches for e in self.examples):
            raise ValueError("a rule needs at least one near miss (an example with matches = false)")
        if not any(h.fixes for h in self.hypotheses):
            raise ValueError("a rule needs at least one hypothesis with a recommended fix")
        groups: set[str] = set()
        for p in self.match.lines + tuple(q for s in self.match.sequences for q in s.patterns):
            groups.update(re.compile(p).groupindex)
        for field_name in re.findall(r"\{(\w+)\}", self.title):
            if field_name not in groups:
                raise ValueError(f"title uses {{{field_name}}} but no pattern has that named group")
        return self


class Override(Strict):
    """A repository's change to a built-in rule, in `.ci-triage.toml`."""

    disable: bool = False
    kind: Literal["infrastructure", "code"] | None = None
    category: str | None = None
    weight: float | None = Field(None, ge=0.05, le=0.99)


class RepoConfig(Strict):
    """`.ci-triage.toml` (or `.github/ci-triage.toml`): a repository's additions and overrides."""

    rules: tuple[Rule, ...] = ()
    overrides: dict[str, Override] = Field(default_factory=dict)

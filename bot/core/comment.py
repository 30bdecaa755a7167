"""The one comment per PR/MR: hidden marker, machine-readable state, one section per run.

The comment is the bot's memory between invocations: which runs it triaged at which head
commit, their verdicts, and which attempt it re-ran (so the re-run's own completion can be
reported as "passed on attempt 2" in the same section). State lives in an HTML comment the
forges do not render; sections are delimited so one run's section is replaced without
touching the others. Sections of older head commits are dropped: labels and the comment
always describe the latest push.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from bot.core.report import COMMENT_BUDGET, MARKER

FOOTER = (
    "<sub>ci-triage: maintainers can comment `/retriage` to triage again, or `/retriage rerun` "
    "to also re-run infrastructure failures within the budget.</sub>"
)
_STATE = re.compile(r"<!-- ci-triage:state (\{.*?\}) -->")
_SECTION = re.compile(r"<!-- ci-triage:run (\d+) -->\n(.*?)\n<!-- ci-triage:end \1 -->", re.S)


@dataclass(frozen=True, slots=True)
class RunState:
    run_id: int
    sha: str = ""
    attempt: int = 1
    verdict: str = "unknown"
    """infrastructure | code | unknown | passed"""
    categories: tuple[str, ...] = ()
    rerun_attempt: int = 0
    """The attempt we asked to re-run (0: never); its successor's completion is the outcome."""


@dataclass(frozen=True, slots=True)
class CommentState:
    runs: dict[int, RunState] = field(default_factory=dict)
    sections: dict[int, str] = field(default_factory=dict)


def parse_state(body: str | None) -> CommentState:
    """Read the state and sections back from our own comment; tolerate anything else."""
    if not body or MARKER not in body:
        return CommentState()
    runs: dict[int, RunState] = {}
    m = _STATE.search(body)
    if m:
        try:
            raw = json.loads(m.group(1))
            for item in raw.get("runs", []):
                rs = RunState(
                    run_id=int(item["run_id"]),
                    sha=str(item.get("sha", "")),
                    attempt=int(item.get("attempt", 1)),
                    verdict=str(item.get("verdict", "unknown")),
                    categories=tuple(str(c) for c in item.get("categories", ())),
                    rerun_attempt=int(item.get("rerun_attempt", 0)),
                )
                runs[rs.run_id] = rs
        except (ValueError, KeyError, TypeError, AttributeError):
            runs = {}
    sections = {int(s.group(1)): s.group(2) for s in _SECTION.finditer(body)}
    return CommentState({k: v for k, v in runs.items() if k in sections}, sections)


def render_body(state: CommentState, budget: int = COMMENT_BUDGET) -> str:
    """Marker, state, sections (newest run first), footer; older sections go first when too long."""
    order = sorted(state.sections, reverse=True)
    kept = list(order)
    while True:
        runs = [asdict(state.runs[r]) for r in kept if r in state.runs]
        head = f"{MARKER}\n<!-- ci-triage:state {json.dumps({'runs': runs}, separators=(',', ':'))} -->\n"
        parts = [f"<!-- ci-triage:run {r} -->\n{state.sections[r]}\n<!-- ci-triage:end {r} -->" for r in kept]
        omitted = len(order) - len(kept)
        note = f"\n_{omitted} older section(s) omitted to stay within the size limit._\n" if omitted else ""
        body = head + "\n\n".join(parts) + note + "\n\n" + FOOTER + "\n"
        if len(body) <= budget or len(kept) <= 1:
            return body if len(body) <= budget else body[: budget - 80] + "\n\n_(truncated to the size limit)_\n"
        kept.pop()


def splice(
    state: CommentState,
    run: RunState,
    sections: str | Sequence[str],
    *,
    head_sha: str = "",
    budget: int = COMMENT_BUDGET,
) -> tuple[str, CommentState]:
    """Replace (or add) `run`'s section and return the new body and state.

    `sections` may be the same section rendered at decreasing detail; the most detailed
    one that fits the budget beside the other sections is used.
    """
    options = [sections] if isinstance(sections, str) else list(sections)
    runs = {k: v for k, v in state.runs.items() if not head_sha or not v.sha or v.sha == head_sha}
    runs[run.run_id] = run
    others = {k: v for k, v in state.sections.items() if k in runs and k != run.run_id}
    body, new = "", state
    for section in options:
        new = CommentState(runs, {**others, run.run_id: section})
        body = render_body(new, budget)
        if f"<!-- ci-triage:run {run.run_id} -->" in body and "truncated to the size limit" not in body:
            break
    return body, new

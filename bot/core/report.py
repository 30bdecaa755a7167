"""Render triage results: terminal text, the PR/MR comment in Markdown, and rule pages.

Everything taken from a log, a job, a step or a branch goes through `bot.core.markdown`
(untrusted text) and was redacted when the evidence was built (`bot.core.engine`). The
comment carries a hidden marker so the forge adapters can find and edit it in place, and is
kept under the size budget by dropping detail level by level, never by failing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.core.markdown import code_block, code_span, inline, prose
from bot.core.model import Evidence, Finding, Hypothesis, Triage, Verdict
from bot.rules import RuleView

MARKER = "<!-- ci-triage:v1 -->"
COMMENT_BUDGET = 60_000
"""GitHub refuses bodies over 65,536 characters; GitLab notes allow more. One budget serves both."""


@dataclass(frozen=True, slots=True)
class JobReport:
    """One failed job as the comment shows it."""

    name: str
    triage: Triage
    url: str = ""
    """Link to the job log; evidence links to `url + anchor`, formatted with `line` (in the whole
    log) and `step_line` (within its step, when known; else the whole-log line)."""
    anchor: str = "#L{line}"
    note: str = ""
    """What the bot could not do for this job (log expired, download truncated, ...), plain text."""
    allow_failure: bool = False


@dataclass(frozen=True, slots=True)
class RunReport:
    """One workflow run or pipeline: its failed jobs and what the bot did about them."""

    title: str
    url: str = ""
    jobs: tuple[JobReport, ...] = ()
    status: str = ""
    """Re-run status: Markdown composed by bot.core.plan, with every untrusted part escaped there."""
    notes: tuple[str, ...] = field(default=())


# --------------------------------------------------------------------------------------------
# Terminal text


def render_text(triage: Triage, *, color: bool = False) -> str:
    """A readable report for the terminal; ANSI colours only when `color`."""

    def paint(text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if color else text

    tone = {"infrastructure": "33;1", "code": "31;1", "unknown": "36;1"}[triage.verdict.value]
    out = []
    head = f"{triage.path or '<stdin>'}: {paint(triage.verdict.value.upper(), tone)}"
    if triage.verdict is not Verdict.UNKNOWN:
        head += f" ({triage.category}, confidence {triage.confidence:.2f})"
    out.append(head)
    if triage.failed_step:
        out.append(f"  failed step: {_safe_terminal(triage.failed_step)}")
    if not triage.findings:
        out.append("  No rule matched. The last lines before the failure:")
        out.extend(f"  {e.line:>7} | {_safe_terminal(e.text)}" for e in triage.tail)
        return "\n".join(out) + "\n"
    for n, f in enumerate(triage.findings, 1):
        out.append("")
        out.append(
            paint(f"  {n}. [{f.rule}] {_safe_terminal(f.title)}", "1")
            + f"  ({f.kind.value}/{f.category}, {f.confidence:.2f}{', preview' if f.preview else ''})"
        )
        for e in f.evidence:
            out.append(f"     {e.line:>7} | {_safe_terminal(e.text)[:240]}")
        for h in f.hypotheses:
            out.append(f"     - {h.confidence:.2f} {_safe_terminal(h.text)}")
            for e in h.evidence_for:
                out.append(f"         for   L{e.line}: {_safe_terminal(e.text)[:160]}")
            for e in h.evidence_against:
                out.append(f"         against L{e.line}: {_safe_terminal(e.text)[:160]}")
            for fix in h.fixes:
                out.append(f"         fix: {fix.text}")
                out.extend(f"           $ {c}" for c in fix.commands)
                if fix.warning:
                    out.append(paint(f"           ! {fix.warning}", "33"))
    return "\n".join(out) + "\n"


def _safe_terminal(text: str) -> str:
    """Log text must not drive the terminal: drop escapes and control characters."""
    return "".join(ch if ch >= " " or ch == "\t" else "?" for ch in text).replace("\x7f", "?")


# --------------------------------------------------------------------------------------------
# Markdown


def _pct(x: float) -> str:
    return f"{round(x * 100)}%"


def _verdict_phrase(t: Triage) -> str:
    if t.verdict is Verdict.INFRASTRUCTURE:
        return "infrastructure: not caused by the change"
    if t.verdict is Verdict.CODE:
        return "code: the job's own content failed"
    return "unknown: no documented pattern fits"


def _evidence_link(job: JobReport, e: Evidence) -> str:
    if not job.url:
        return f"line {e.line}"
    anchor = job.anchor.format(line=e.line, step_line=e.step_line or e.line)
    return f"[line {e.line}]({job.url}{anchor})"


def _hypothesis_md(h: Hypothesis, detail: int) -> list[str]:
    out = [f"- **{_pct(h.confidence)}** {prose(h.text, 400)}"]
    if detail >= 3:
        for e in h.evidence_for:
            out.append(f"  - for (line {e.line}): {code_span(e.text, 160)}")
        for e in h.evidence_against:
            out.append(f"  - against (line {e.line}): {code_span(e.text, 160)}")
        if h.needs and not (h.evidence_for or h.evidence_against):
            out.append(f"  - would be confirmed by: {prose(h.needs, 300)}")
    for fix in h.fixes if detail >= 2 else ():
        out.append(f"  - fix: {prose(fix.text, 300)}")
        if fix.commands:
            out.append("")
            out.append(_indent(code_block(fix.commands, "sh"), "    "))
            out.append("")
        if fix.warning:
            out.append(f"    > ⚠️ {prose(fix.warning, 300)}")
    return out


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line for line in text.split("\n"))


def _finding_md(job: JobReport, f: Finding, detail: int) -> list[str]:
    preview = " (preview rule)" if f.preview else ""
    out = [
        f"**{inline(f.title, 200)}**: {f.kind.value} / `{f.category}`, "
        f"confidence {_pct(f.confidence)}, rule `{f.rule}` {f.name}{preview}",
        "",
    ]
    lines = f.evidence if detail >= 2 else f.evidence[:1]
    out.append("Evidence (" + ", ".join(_evidence_link(job, e) for e in lines) + "):")
    out.append("")
    out.append(code_block((e.text for e in lines), "text"))
    out.append("")
    if detail >= 2 and f.why:
        out.append(f"Why {f.kind.value}: {prose(f.why, 600)}")
        out.append("")
    hyps = f.hypotheses if detail >= 2 else f.hypotheses[:1]
    if hyps:
        out.append("Hypotheses, most likely first:")
        out.append("")
        for h in hyps:
            out.extend(_hypothesis_md(h, detail))
        out.append("")
    return out


def render_job_markdown(job: JobReport, detail: int = 3) -> str:
    """The section for one job: verdict line, evidence and, folded, the hypotheses and fixes."""
    t = job.triage
    name = inline(job.name or t.path or "job", 120)
    out = [f"#### {name}: {_verdict_phrase(t)}"]
    meta = []
    if t.verdict is not Verdict.UNKNOWN:
        meta.append(f"confidence {_pct(t.confidence)}")
    if t.failed_step:
        meta.append(f"failed step {code_span(t.failed_step, 120)}")
    if job.allow_failure:
        meta.append("allowed to fail: does not decide labels or re-runs")
    if meta:
        out.append("")
        out.append(", ".join(meta))
    if job.note:
        out.append("")
        out.append(f"> {inline(job.note, 400)}")
    out.append("")
    if not t.findings:
        out.append("No documented pattern matched, so nothing was re-run. The last lines before the failure:")
        out.append("")
        out.append(code_block((e.text for e in t.tail[-10:]), "text"))
        return "\n".join(out)
    findings = t.findings if detail >= 2 else t.findings[:1]
    for i, f in enumerate(findings):
        body = _finding_md(job, f, detail)
        if i == 0 and detail >= 1:
            out.extend(body)
        else:
            out.append(f"<details><summary>Also found: {inline(f.title, 150)}</summary>")
            out.append("")
            out.extend(body)
            out.append("</details>")
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def _summary_line(run: RunReport) -> str:
    jobs = [j for j in run.jobs if not j.allow_failure] or list(run.jobs)
    n = len(jobs)
    infra = sum(j.triage.verdict is Verdict.INFRASTRUCTURE for j in jobs)
    code = sum(j.triage.verdict is Verdict.CODE for j in jobs)
    unknown = n - infra - code
    if n == 0:
        return "No failed jobs to triage."
    if infra == n:
        return (
            f"{'The failed job looks' if n == 1 else f'All {n} failed jobs look'} like infrastructure, not the change."
        )
    if code == n:
        return f"{'The failed job looks' if n == 1 else f'All {n} failed jobs look'} related to the change."
    parts = [f"{infra} infrastructure"] if infra else []
    if code:
        parts.append(f"{code} code")
    if unknown:
        parts.append(f"{unknown} unknown")
    return f"{n} failed jobs: " + ", ".join(parts) + "."


def _table(run: RunReport) -> list[str]:
    out = ["| Job | Verdict | Category | Confidence | Evidence |", "|---|---|---|---|---|"]
    for j in run.jobs:
        t = j.triage
        top = t.findings[0] if t.findings else None
        evidence = _evidence_link(j, top.evidence[0]) if top else ((j.note and "n/a") or "none")
        cat = f"`{t.category}`" if t.category else "n/a"
        conf = _pct(t.confidence) if t.verdict is not Verdict.UNKNOWN else "n/a"
        name = inline(j.name, 80) + (" (allowed to fail)" if j.allow_failure else "")
        out.append(f"| {name} | {t.verdict.value} | {cat} | {conf} | {evidence} |")
    return out


def render_run_markdown(run: RunReport, detail: int = 3) -> str:
    """One run's section: summary line, job table, per-job details and re-run status."""
    title = inline(run.title, 150)
    head = f"[{title}]({run.url})" if run.url else title
    out = [f"### CI triage: {head}", "", _summary_line(run), ""]
    out.extend(_table(run))
    out.append("")
    if run.status:
        out.append(f"**Re-run:** {run.status}")
        out.append("")
    for note in run.notes:
        out.append(f"> {inline(note, 400)}")
        out.append("")
    if detail >= 1:
        for j in run.jobs:
            out.append(f"<details><summary>{inline(j.name, 100)}: hypotheses, evidence and fixes</summary>")
            out.append("")
            out.append(render_job_markdown(j, detail))
            out.append("</details>")
            out.append("")
    return "\n".join(out)


# --------------------------------------------------------------------------------------------
# Rule pages


def render_rule_markdown(rule: RuleView) -> str:
    """The documentation page of a rule (docs/rules/ID-name.md and `ci-triage rule ID`)."""
    out = [
        f"# {rule.id} {rule.name}",
        "",
        f"- **Kind:** {rule.kind}",
        f"- **Category:** `{rule.category}`",
        f"- **Weight:** {rule.weight} (prior confidence), priority {rule.priority}, {rule.status}",
        f"- **Re-run:** {rule.retry}",
        "",
        "## What failed",
        "",
        rule.docs.what.strip(),
        "",
        f"## Why it is {rule.kind}",
        "",
        rule.docs.why.strip(),
        "",
        "## Hypotheses and fixes",
        "",
    ]
    for h in rule.hypotheses:
        out.append(f"### {round(h.confidence * 100)}%: {h.text.strip()}")
        out.append("")
        if h.needs:
            out.append(f"Evidence it needs: {h.needs.strip()}")
            out.append("")
        for n, fix in enumerate(h.fixes, 1):
            out.append(f"{n}. {fix.text.strip()}")
            if fix.commands:
                out.append("")
                out.append("   ```sh")
                out.extend(f"   {c}" for c in fix.commands)
                out.append("   ```")
            if fix.warning:
                out.append(f"   **Warning:** {fix.warning.strip()}")
            out.append("")
    out.append("## Matches")
    out.append("")
    for p in rule.match.lines:
        out.append(f"- line: `{p}`")
    for s in rule.match.sequences:
        out.append(f"- sequence within {s.window} lines: " + " → ".join(f"`{p}`" for p in s.patterns))
    for p in rule.match.exclude:
        out.append(f"- never: `{p}`")
    scope = rule.match.scope
    if scope.ci or scope.step or scope.tool:
        out.append(f"- scope: ci={list(scope.ci) or 'any'} step={scope.step or 'any'} tool={scope.tool or 'any'}")
    out.append("")
    out.append("## Examples")
    out.append("")
    for ex in rule.examples:
        out.append("Matches:" if ex.matches else "Does not match (near miss):")
        out.append("")
        out.append("```text")
        out.append(ex.log.strip("\n"))
        out.append("```")
        out.append("")
    if rule.docs.known_problems:
        out.extend(["## Known problems", "", rule.docs.known_problems.strip(), ""])
    if rule.docs.references:
        out.extend(["## References", ""])
        out.extend(f"- <{r}>" for r in rule.docs.references)
        out.append("")
    return "\n".join(out)

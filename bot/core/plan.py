"""Decide what to do about a triaged run: comment, labels, re-runs. Pure policy, values out.

The forge adapters gather facts (failed jobs, their logs, the run attempt, the existing
comment) into `RunResult`; `plan_run()` returns the actions as values; `bot.app.execute()`
carries them out in one place. Nothing here reads the clock, the environment or the network,
so every policy question is a plain function call in the tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from bot.core.comment import CommentState, RunState, splice
from bot.core.markdown import code_span, inline
from bot.core.model import Triage, Verdict
from bot.core.redact import redact
from bot.core.report import COMMENT_BUDGET, JobReport, RunReport, render_run_markdown

Trigger = Literal["triage", "retriage", "retriage-rerun"]


@dataclass(frozen=True, slots=True)
class ChangeRef:
    """A pull request (GitHub) or merge request (GitLab)."""

    number: int
    head_sha: str = ""


@dataclass(frozen=True, slots=True)
class RunRef:
    """A workflow run (GitHub) or pipeline (GitLab) at one attempt."""

    id: int
    attempt: int = 1
    title: str = ""
    url: str = ""
    head_sha: str = ""
    conclusion: str = "failure"


@dataclass(frozen=True, slots=True)
class JobRef:
    id: int
    name: str
    url: str = ""
    anchor: str = "#L{line}"


@dataclass(frozen=True, slots=True)
class JobResult:
    """A failed job and its triage, plus what the adapter could not do for it."""

    job: JobRef
    triage: Triage
    note: str = ""
    allow_failure: bool = False
    retries: int = 0
    """How often this job was already retried (GitLab); GitHub counts by the run attempt."""


@dataclass(frozen=True, slots=True)
class Policy:
    """The part of the settings the core may see: no token, no URLs."""

    rerun: Literal["never", "infrastructure"] = "infrastructure"
    max_reruns: int = 1
    min_confidence: float = 0.8
    labels: bool = True
    label_infrastructure: str = "ci: infrastructure"
    label_code: str = "ci: code"


@dataclass(frozen=True, slots=True)
class UpsertComment:
    change: ChangeRef
    body: str


@dataclass(frozen=True, slots=True)
class SetLabels:
    change: ChangeRef
    add: tuple[str, ...]
    remove: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RerunJobs:
    run: RunRef
    jobs: tuple[JobRef, ...]
    reason: str


Action = UpsertComment | SetLabels | RerunJobs


@dataclass(frozen=True, slots=True)
class Plan:
    actions: tuple[Action, ...]
    verdict: Verdict
    categories: tuple[str, ...]
    rerun: bool
    status: str
    section: str = ""


@dataclass(frozen=True, slots=True)
class RerunDecision:
    rerun: bool
    jobs: tuple[JobRef, ...]
    status: str


def deciding(jobs: Sequence[JobResult]) -> list[JobResult]:
    """Jobs that decide labels and re-runs: allowed-to-fail jobs are reported, never decide."""
    return [j for j in jobs if not j.allow_failure]


def decide_rerun(jobs: Sequence[JobResult], policy: Policy, *, reruns_used: int, trigger: Trigger) -> RerunDecision:
    """Re-run only when every deciding job is confidently infrastructure, within the budget."""
    considered = deciding(jobs)
    if not considered:
        return RerunDecision(False, (), "Nothing to re-run: no failed job decides the outcome.")
    if policy.rerun == "never":
        return RerunDecision(False, (), "Not re-run: automatic re-runs are disabled for this repository.")
    if trigger == "retriage":
        return RerunDecision(False, (), "Not re-run: `/retriage` only triages; `/retriage rerun` also re-runs.")
    for j in considered:
        t = j.triage
        name = j.job.name
        if t.verdict is Verdict.CODE:
            return RerunDecision(
                False,
                (),
                f"Not re-run: {code_span(name)} looks like a code failure; a re-run would fail the same way.",
            )
        if t.verdict is Verdict.UNKNOWN:
            return RerunDecision(
                False,
                (),
                f"Not re-run: the cause of {code_span(name)} is unknown, and we only re-run known "
                "infrastructure failures.",
            )
        top = t.findings[0]
        if top.retry == "never":
            return RerunDecision(
                False,
                (),
                f"Not re-run: {top.rule} ({top.category}) cannot be fixed by a re-run; see the fixes below.",
            )
        if top.preview:
            return RerunDecision(
                False,
                (),
                f"Not re-run: {top.rule} is a preview rule, which never triggers re-runs.",
            )
        if t.confidence < policy.min_confidence:
            return RerunDecision(
                False,
                (),
                f"Not re-run: confidence {t.confidence:.0%} for {code_span(name)} is below "
                f"the {policy.min_confidence:.0%} threshold.",
            )
    if reruns_used >= policy.max_reruns:
        return RerunDecision(
            False,
            (),
            f"Not re-run: the re-run budget is used ({reruns_used} of {policy.max_reruns}).",
        )
    names = ", ".join(code_span(j.job.name) for j in considered)
    return RerunDecision(
        True,
        tuple(j.job for j in considered),
        f"Re-running {names} (re-run {reruns_used + 1} of at most {policy.max_reruns}): "
        "every failure matched an infrastructure rule. Not your fault; the outcome will be reported here.",
    )


def run_verdict(jobs: Sequence[JobResult]) -> Verdict:
    """Code if any deciding job is code; infrastructure if all are; otherwise unknown."""
    considered = deciding(jobs)
    verdicts = {j.triage.verdict for j in considered}
    if Verdict.CODE in verdicts:
        return Verdict.CODE
    if verdicts == {Verdict.INFRASTRUCTURE}:
        return Verdict.INFRASTRUCTURE
    return Verdict.UNKNOWN


def outcome_status(previous: RunState, run: RunRef, jobs: Sequence[JobResult]) -> str:
    """The outcome of a re-run we asked for, once the re-run's own completion arrives."""
    if run.conclusion == "success":
        return f"Passed on attempt {run.attempt}: infrastructure confirmed."
    now = {j.triage.category for j in deciding(jobs) if j.triage.category}
    before = set(previous.categories)
    if now and now <= before:
        return f"Failed again the same way on attempt {run.attempt} ({', '.join(sorted(now))}); not re-run again."
    if now:
        return f"Failed again on attempt {run.attempt}, differently ({', '.join(sorted(now))})."
    return f"Failed again on attempt {run.attempt}; the new cause is unknown."


def plan_run(
    change: ChangeRef,
    run: RunRef,
    jobs: Sequence[JobResult],
    *,
    policy: Policy,
    state: CommentState,
    existing_labels: Sequence[str] = (),
    reruns_used: int = 0,
    trigger: Trigger = "triage",
    rerun_refused: str = "",
    budget: int = COMMENT_BUDGET,
    notes: Sequence[str] = (),
) -> Plan:
    """Everything to do for one triaged run, given the bot's previous comment state.

    Actions come in execution order: the re-run first, then the comment and labels. When the
    forge refuses the re-run, the caller plans again with `rerun_refused` set, so the comment
    never claims a re-run that did not happen. `notes` say in the section what the bot could
    not do (labels it could not set, ...).
    """
    previous = state.runs.get(run.id)
    if previous is not None and previous.rerun_attempt and run.attempt > previous.rerun_attempt:
        status = outcome_status(previous, run, jobs)
        decision = RerunDecision(False, (), status)
    elif run.conclusion == "success":
        # A passing run we never re-ran: nothing of ours to report.
        return Plan((), Verdict.UNKNOWN, (), False, "")
    else:
        decision = decide_rerun(jobs, policy, reruns_used=reruns_used, trigger=trigger)
        if rerun_refused and decision.rerun:
            decision = RerunDecision(
                False, (), f"Tried to re-run, but the request was refused: {inline(redact(rerun_refused), 300)}"
            )
    verdict = run_verdict(jobs) if run.conclusion != "success" else Verdict.INFRASTRUCTURE
    categories = tuple(sorted({j.triage.category for j in deciding(jobs) if j.triage.category}))
    report = RunReport(
        title=run.title or f"run {run.id}",
        url=run.url,
        jobs=tuple(JobReport(j.job.name, j.triage, j.job.url, j.job.anchor, j.note, j.allow_failure) for j in jobs),
        status=decision.status,
        notes=tuple(notes),
    )
    renderings = [render_run_markdown(report, detail) for detail in (3, 2, 1, 0)]
    run_state = RunState(
        run_id=run.id,
        sha=run.head_sha or change.head_sha,
        attempt=run.attempt,
        verdict=verdict.value if run.conclusion != "success" else "passed",
        categories=categories,
        rerun_attempt=run.attempt if decision.rerun else (previous.rerun_attempt if previous else 0),
    )
    body, new_state = splice(state, run_state, renderings, head_sha=change.head_sha, budget=budget)
    section = new_state.sections[run.id]
    actions: list[Action] = []
    if decision.rerun:
        actions.append(RerunJobs(run, decision.jobs, decision.status))
    actions.append(UpsertComment(change, body))
    if policy.labels:
        actions.extend(label_actions(change, new_state, policy, existing_labels))
    return Plan(tuple(actions), verdict, categories, decision.rerun, decision.status, section)


def label_actions(change: ChangeRef, state: CommentState, policy: Policy, existing: Sequence[str]) -> list[SetLabels]:
    """Labels that reflect the latest triage of every run at the change's head."""
    verdicts = {r.verdict for r in state.runs.values()}
    want = set()
    if "code" in verdicts:
        want.add(policy.label_code)
    if "infrastructure" in verdicts:
        want.add(policy.label_infrastructure)
    ours = {policy.label_code, policy.label_infrastructure}
    have = set(existing) & ours
    add = tuple(sorted(want - have))
    remove = tuple(sorted(have - want))
    return [SetLabels(change, add, remove)] if add or remove else []


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the executor managed; rendered into outputs and the job summary."""

    comment_url: str = ""
    reruns: int = 0
    problems: tuple[str, ...] = field(default=())

"""Re-run policy, labels and the comment plan as pure function calls."""

from __future__ import annotations

import pytest

from bot.core.comment import CommentState, RunState, parse_state
from bot.core.model import Verdict
from bot.core.plan import (
    ChangeRef,
    JobRef,
    JobResult,
    Policy,
    RerunJobs,
    RunRef,
    SetLabels,
    UpsertComment,
    decide_rerun,
    plan_run,
    run_verdict,
)
from tests.factories import make_triage

CHANGE = ChangeRef(7, "abc123")
RUN = RunRef(100, 1, "CI", "https://example.test/run/100", "abc123")
POLICY = Policy()


def job(name: str = "build", **kw: object) -> JobResult:
    allow = bool(kw.pop("allow_failure", False))
    return JobResult(
        JobRef(1 if name == "build" else 2, name, "https://example.test/job"), make_triage(**kw), allow_failure=allow
    )  # type: ignore[arg-type]


def test_confident_infrastructure_is_rerun_once() -> None:
    plan = plan_run(CHANGE, RUN, [job()], policy=POLICY, state=CommentState())
    assert [type(a) for a in plan.actions] == [RerunJobs, UpsertComment, SetLabels]
    assert plan.rerun
    assert plan.verdict is Verdict.INFRASTRUCTURE
    labels = plan.actions[2]
    assert isinstance(labels, SetLabels)
    assert labels.add == ("ci: infrastructure",)
    assert "Not your fault" in plan.status


@pytest.mark.parametrize(
    ("jobs", "kw", "reason"),
    [
        ([job(verdict="code", category="test_failure", retry="never")], {}, "looks like a code failure"),
        ([job(verdict="unknown", category=None)], {}, "unknown"),
        ([job(retry="never")], {}, "cannot be fixed by a re-run"),
        ([job(preview=True)], {}, "preview rule"),
        ([job(confidence=0.7)], {}, "below the 80% threshold"),
        ([job()], {"reruns_used": 1}, "budget is used"),
        ([job()], {"trigger": "retriage"}, "only triages"),
        ([job(allow_failure=True)], {}, "no failed job decides"),
    ],
)
def test_no_rerun(jobs: list[JobResult], kw: dict[str, object], reason: str) -> None:
    decision = decide_rerun(
        jobs,
        POLICY,
        reruns_used=int(kw.get("reruns_used", 0)),  # type: ignore[call-overload]
        trigger=kw.get("trigger", "triage"),
    )  # type: ignore[arg-type]
    assert not decision.rerun
    assert reason in decision.status


def test_rerun_disabled_and_retriage_rerun() -> None:
    assert "disabled" in decide_rerun([job()], Policy(rerun="never"), reruns_used=0, trigger="triage").status
    assert decide_rerun([job()], POLICY, reruns_used=0, trigger="retriage-rerun").rerun


def test_refused_rerun_is_said_in_the_comment() -> None:
    plan = plan_run(CHANGE, RUN, [job()], policy=POLICY, state=CommentState(), rerun_refused="403 already running")
    assert not any(isinstance(a, RerunJobs) for a in plan.actions)
    assert "refused: 403 already running" in plan.section


def test_outcome_of_our_rerun_is_reported_in_the_same_section() -> None:
    first = plan_run(CHANGE, RUN, [job()], policy=POLICY, state=CommentState())
    body = next(a.body for a in first.actions if isinstance(a, UpsertComment))
    state = parse_state(body)
    assert state.runs[100].rerun_attempt == 1
    passed = RunRef(100, 2, "CI", RUN.url, "abc123", conclusion="success")
    second = plan_run(CHANGE, passed, [], policy=POLICY, state=state, existing_labels=["ci: infrastructure"])
    assert "Passed on attempt 2: infrastructure confirmed." in second.section
    labels = [a for a in second.actions if isinstance(a, SetLabels)]
    assert labels and labels[0].remove == ("ci: infrastructure",)
    again = plan_run(CHANGE, RunRef(100, 2, "CI", head_sha="abc123"), [job()], policy=POLICY, state=state)
    assert "Failed again the same way on attempt 2 (network)" in again.section
    assert not again.rerun
    other = plan_run(
        CHANGE,
        RunRef(100, 2, "CI", head_sha="abc123"),
        [job(verdict="code", category="test_failure", retry="never")],
        policy=POLICY,
        state=state,
    )
    assert "differently (test_failure)" in other.section
    unknown = plan_run(
        CHANGE,
        RunRef(100, 2, "CI", head_sha="abc123"),
        [job(verdict="unknown", category=None)],
        policy=POLICY,
        state=state,
    )
    assert "new cause is unknown" in unknown.section


def test_success_we_never_reran_does_nothing() -> None:
    plan = plan_run(CHANGE, RunRef(5, 1, conclusion="success"), [], policy=POLICY, state=CommentState())
    assert plan.actions == ()


def test_sections_of_other_runs_are_kept_and_stale_commits_dropped() -> None:
    a = plan_run(
        CHANGE, RUN, [job(verdict="code", category="test_failure", retry="never")], policy=POLICY, state=CommentState()
    )
    body_a = next(x.body for x in a.actions if isinstance(x, UpsertComment))
    b = plan_run(
        CHANGE,
        RunRef(101, 1, "Lint", head_sha="abc123"),
        [job("lint")],
        policy=POLICY,
        state=parse_state(body_a),
        existing_labels=["ci: code"],
    )
    body_b = next(x.body for x in b.actions if isinstance(x, UpsertComment))
    assert set(parse_state(body_b).runs) == {100, 101}
    labels = next(x for x in b.actions if isinstance(x, SetLabels))
    assert labels.add == ("ci: infrastructure",)
    pushed = ChangeRef(7, "def456")
    c = plan_run(pushed, RunRef(102, 1, "CI", head_sha="def456"), [job()], policy=POLICY, state=parse_state(body_b))
    body_c = next(x.body for x in c.actions if isinstance(x, UpsertComment))
    assert set(parse_state(body_c).runs) == {102}


def test_labels_disabled_and_run_verdict() -> None:
    plan = plan_run(CHANGE, RUN, [job()], policy=Policy(labels=False), state=CommentState())
    assert not any(isinstance(a, SetLabels) for a in plan.actions)
    assert run_verdict([job(), job("t", verdict="unknown", category=None)]) is Verdict.UNKNOWN
    assert run_verdict([job(allow_failure=True)]) is Verdict.UNKNOWN


def test_state_survives_garbage() -> None:
    assert parse_state(None) == CommentState()
    assert parse_state("no marker") == CommentState()
    broken = '<!-- ci-triage:v1 -->\n<!-- ci-triage:state {"runs": [{"x": 1}]} -->'
    assert parse_state(broken).runs == {}
    assert RunState(1).verdict == "unknown"


def test_job_names_in_the_status_cannot_mention_anyone() -> None:
    hostile = JobResult(JobRef(3, "@all /merge"), make_triage(verdict="code", category="test_failure", retry="never"))
    plan = plan_run(CHANGE, RUN, [hostile], policy=POLICY, state=CommentState())
    assert "`@all /merge` looks like a code failure" in plan.status
    refused = plan_run(CHANGE, RUN, [job()], policy=POLICY, state=CommentState(), rerun_refused="@team <b>no</b>")
    assert "@team" not in refused.status and "<b>" not in refused.status


def test_a_larger_budget_keeps_detail_the_github_budget_trims() -> None:
    from bot.gitlab_job import NOTE_BUDGET

    many = [JobResult(JobRef(n, f"job {n}"), make_triage(text="x" * 250)) for n in range(80)]
    small = plan_run(CHANGE, RUN, many, policy=POLICY, state=CommentState())
    large = plan_run(CHANGE, RUN, many, policy=POLICY, state=CommentState(), budget=NOTE_BUDGET)
    body_small = next(a.body for a in small.actions if isinstance(a, UpsertComment))
    body_large = next(a.body for a in large.actions if isinstance(a, UpsertComment))
    assert len(body_small) <= 60_000 < len(body_large) <= NOTE_BUDGET
    assert "Hypotheses, most likely first" in body_large


def test_notes_say_in_the_section_what_the_bot_could_not_do() -> None:
    plan = plan_run(CHANGE, RUN, [job()], policy=POLICY, state=CommentState(), notes=("Could not set @labels",))
    assert "> Could not set @\u200blabels" in plan.section


def test_refusal_text_is_redacted_and_escaped_once() -> None:
    refused = "403 for_user token=ghp_" + "a" * 36
    plan = plan_run(CHANGE, RUN, [job()], policy=POLICY, state=CommentState(), rerun_refused=refused)
    assert "ghp_" not in plan.status
    assert "for\\_user" in plan.status and "for\\\\\\_user" not in plan.status

"""`ci-triage gitlab` end to end: the real python-gitlab against the stateful fake GitLab.

Every test runs the job's `main(env, out, err)` with the variables GitLab Runner sets and then
asserts on what the fake holds afterwards: notes, labels, retried jobs, award emoji.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

from bot import gitlab_job
from bot.core.comment import parse_state
from bot.core.markdown import ZWSP
from bot.core.report import MARKER
from tests.gitlab.conftest import MR, PIPELINE, TRIAGE_JOB, log, pipeline_with, run_job, runner_env
from tests.gitlab.fake_gitlab import JOB_TOKEN, FakeGitLab, Fault


def jobs_named(fake: FakeGitLab, name: str) -> list[dict[str, object]]:
    return sorted((j for j in fake.jobs.values() if j["name"] == name), key=lambda j: int(j["id"]))  # type: ignore[arg-type]


def plain(body: str) -> str:
    """The note as a reader sees it: without zero-width spaces and Markdown escapes."""
    return body.replace(ZWSP, "").replace("\\", "")


def outside_fences(body: str) -> str:
    """The lines GitLab scans for quick actions and references: outside exact ``` fences."""
    return re.sub(r"(?ms)^```[^\n]*\n.*?^```$", "", body)


def the_note(fake: FakeGitLab) -> str:
    ours = fake.our_notes(MR)
    assert len(ours) == 1, [n["body"][:80] for n in fake.notes[MR]]
    return str(ours[0]["body"])


# --------------------------------------------------------------------------------------------
# The main paths


def test_infrastructure_failure_is_retried_noted_and_labelled(gitlab: FakeGitLab, tmp_path: Path) -> None:
    pipeline_with(gitlab)
    gitlab.add_job(PIPELINE, "build-image", trace=log("podman-disk-full.log"))
    gitlab.add_job(PIPELINE, "lint", status="success", failure_reason=None)

    result = run_job(runner_env(gitlab, tmp_path))

    assert result.code == 0, result.err
    attempts = jobs_named(gitlab, "build-image")
    assert [j["status"] for j in attempts] == ["failed", "pending"]  # retried once
    body = the_note(gitlab)
    assert "Re-running `build-image` (re-run 1 of at most 1)" in body
    assert "INF101" in body and "disk_full" in body
    assert f"{gitlab.base}/group/app/-/jobs/{attempts[0]['id']}#L" in body  # evidence deep link
    assert gitlab.mrs[MR]["labels"] == ["ci::infrastructure"]
    assert gitlab.labels["ci::infrastructure"]["color"] == "#d93f0b"
    state = parse_state(body)
    assert state.runs[PIPELINE].rerun_attempt == 1
    assert "verdict infrastructure (disk_full)" in result.out
    assert "#note_" in result.out


def test_second_triage_edits_the_same_note_and_reports_a_pass(gitlab: FakeGitLab, tmp_path: Path) -> None:
    pipeline_with(gitlab)
    gitlab.add_job(PIPELINE, "build-image", trace=log("podman-disk-full.log"))
    assert run_job(runner_env(gitlab, tmp_path)).code == 0
    first_id = gitlab.our_notes(MR)[0]["id"]
    # The retried job passes; a maintainer retries the triage job (GitLab does not, see docs).
    jobs_named(gitlab, "build-image")[-1]["status"] = "success"
    gitlab.jobs[TRIAGE_JOB]["status"] = "success"
    gitlab.add_job(PIPELINE, "ci-triage", status="running", failure_reason=None, stage=".post", job_id=TRIAGE_JOB + 1)

    result = run_job(runner_env(gitlab, tmp_path, CI_JOB_ID=str(TRIAGE_JOB + 1)))

    assert result.code == 0, result.err
    body = the_note(gitlab)
    assert gitlab.our_notes(MR)[0]["id"] == first_id
    assert "Passed on attempt 2: infrastructure confirmed." in body
    assert len(jobs_named(gitlab, "build-image")) == 2  # no second retry
    assert gitlab.mrs[MR]["labels"] == []  # the latest triage: it passed


def test_a_retried_job_that_fails_again_the_same_way_is_not_retried_again(gitlab: FakeGitLab, tmp_path: Path) -> None:
    pipeline_with(gitlab)
    gitlab.add_job(PIPELINE, "build-image", trace=log("podman-disk-full.log"))
    assert run_job(runner_env(gitlab, tmp_path)).code == 0
    retried = jobs_named(gitlab, "build-image")[-1]
    retried.update(status="failed", failure_reason="script_failure")
    gitlab.traces[int(retried["id"])] = [log("podman-disk-full.log")]  # type: ignore[arg-type]
    gitlab.add_job(PIPELINE, "ci-triage", status="running", failure_reason=None, stage=".post", job_id=TRIAGE_JOB + 1)

    result = run_job(runner_env(gitlab, tmp_path, CI_JOB_ID=str(TRIAGE_JOB + 1)))

    assert result.code == 0, result.err
    body = the_note(gitlab)
    assert "Failed again the same way on attempt 2 (disk_full); not re-run again." in body
    assert len(jobs_named(gitlab, "build-image")) == 2
    assert gitlab.mrs[MR]["labels"] == ["ci::infrastructure"]


def test_while_a_retried_job_still_runs_nothing_is_changed(gitlab: FakeGitLab, tmp_path: Path) -> None:
    pipeline_with(gitlab)
    gitlab.add_job(PIPELINE, "build-image", trace=log("podman-disk-full.log"))
    assert run_job(runner_env(gitlab, tmp_path)).code == 0
    before = the_note(gitlab)
    result = run_job(runner_env(gitlab, tmp_path))
    assert "still running" in result.out
    assert the_note(gitlab) == before


def test_code_failure_from_failure_reason_is_labelled_and_not_retried(gitlab: FakeGitLab, tmp_path: Path) -> None:
    pipeline_with(gitlab)
    gitlab.mrs[MR]["labels"] = ["ci::infrastructure", "needs-review"]
    gitlab.add_job(PIPELINE, "deploy", failure_reason="stuck_pending_no_matching_runners", trace=None)

    result = run_job(runner_env(gitlab, tmp_path))

    assert result.code == 0, result.err
    assert len(jobs_named(gitlab, "deploy")) == 1
    body = plain(the_note(gitlab))
    assert "stuck_pending_no_matching_runners" in body
    assert "looks like a code failure" in body
    assert "The job log could not be read" in body
    assert gitlab.mrs[MR]["labels"] == ["ci::code", "needs-review"]
    assert gitlab.labels["ci::code"]["color"] == "#5843ad"


def test_unknown_failure_is_reported_not_retried_not_labelled(gitlab: FakeGitLab, tmp_path: Path) -> None:
    pipeline_with(gitlab)
    gitlab.add_job(PIPELINE, "unit", trace=log("make-check-unknown.log"))

    assert run_job(runner_env(gitlab, tmp_path)).code == 0

    body = the_note(gitlab)
    assert "No documented pattern matched" in body
    assert "mismatch: expected 3, got 4" in body
    assert "only re-run known infrastructure failures" in body
    assert len(jobs_named(gitlab, "unit")) == 1
    assert gitlab.mrs[MR]["labels"] == []


def test_unlisted_failure_reason_is_unknown_never_an_error(gitlab: FakeGitLab, tmp_path: Path) -> None:
    pipeline_with(gitlab)
    gitlab.add_job(PIPELINE, "unit", failure_reason="some_reason_from_gitlab_25", trace=log("make-check-unknown.log"))
    result = run_job(runner_env(gitlab, tmp_path))
    assert result.code == 0, result.err
    assert "unknown" in the_note(gitlab)


def test_runner_system_failure_is_retried_with_the_runner_named(gitlab: FakeGitLab, tmp_path: Path) -> None:
    pipeline_with(gitlab)
    gitlab.add_job(PIPELINE, "tests", failure_reason="runner_system_failure", trace=log("runner-system-failure.log"))

    assert run_job(runner_env(gitlab, tmp_path)).code == 0

    body = plain(the_note(gitlab))
    assert "runner system failure" in body
    assert "Ran on runner #11 (docker-runner-3), tags docker." in body
    assert [j["status"] for j in jobs_named(gitlab, "tests")] == ["failed", "pending"]


def test_failing_runner_phase_names_infrastructure_below_the_retry_threshold(
    gitlab: FakeGitLab, tmp_path: Path
) -> None:
    pipeline_with(gitlab)
    gitlab.add_job(PIPELINE, "build", trace=log("prepare-executor-hook.log"))

    assert run_job(runner_env(gitlab, tmp_path)).code == 0

    body = plain(the_note(gitlab))
    assert "runner's `prepare_executor` phase" in body
    assert "below the 80% threshold" in body
    assert len(jobs_named(gitlab, "build")) == 1
    assert gitlab.mrs[MR]["labels"] == ["ci::infrastructure"]


def test_allowed_to_fail_jobs_are_reported_but_do_not_decide(gitlab: FakeGitLab, tmp_path: Path) -> None:
    pipeline_with(gitlab)
    gitlab.add_job(
        PIPELINE,
        "flaky-e2e",
        allow_failure=True,
        failure_reason="runner_system_failure",
        trace=log("runner-system-failure.log"),
    )
    gitlab.add_job(PIPELINE, "deploy", failure_reason="invalid_bridge_trigger", trace=None)

    assert run_job(runner_env(gitlab, tmp_path)).code == 0

    body = plain(the_note(gitlab))
    assert "flaky-e2e (allowed to fail)" in body
    assert gitlab.mrs[MR]["labels"] == ["ci::code"]
    assert len(jobs_named(gitlab, "flaky-e2e")) == 1


def test_labels_follow_the_latest_triage_and_are_configurable(gitlab: FakeGitLab, tmp_path: Path) -> None:
    pipeline_with(gitlab)
    gitlab.mrs[MR]["labels"] = ["triage/code"]
    gitlab.add_job(PIPELINE, "tests", failure_reason="api_failure", trace=log("runner-system-failure.log"))
    env = runner_env(
        gitlab,
        tmp_path,
        CI_TRIAGE_LABEL_INFRASTRUCTURE="triage/infra",
        CI_TRIAGE_LABEL_CODE="triage/code",
        CI_TRIAGE_RERUN="never",
    )

    assert run_job(env).code == 0

    assert gitlab.mrs[MR]["labels"] == ["triage/infra"]
    assert "automatic re-runs are disabled" in the_note(gitlab)
    assert len(jobs_named(gitlab, "tests")) == 1


def test_labels_can_be_switched_off(gitlab: FakeGitLab, tmp_path: Path) -> None:
    pipeline_with(gitlab)
    gitlab.add_job(PIPELINE, "tests", failure_reason="api_failure", trace=log("runner-system-failure.log"))
    assert run_job(runner_env(gitlab, tmp_path, CI_TRIAGE_LABELS="false")).code == 0
    assert gitlab.mrs[MR]["labels"] == []
    assert not any(r.path.endswith("/labels") for r in gitlab.requests)


def test_budget_counts_gitlabs_own_retries(gitlab: FakeGitLab, tmp_path: Path) -> None:
    pipeline_with(gitlab)
    first = gitlab.add_job(
        PIPELINE, "tests", failure_reason="runner_system_failure", trace=log("runner-system-failure.log")
    )
    first["status"] = "failed"
    gitlab.add_job(PIPELINE, "tests", failure_reason="runner_system_failure", trace=log("runner-system-failure.log"))

    assert run_job(runner_env(gitlab, tmp_path)).code == 0

    assert "the re-run budget is used (1 of 1)" in the_note(gitlab)
    assert len(jobs_named(gitlab, "tests")) == 2


def test_mr_is_found_from_the_pipeline_ref_and_sha(gitlab: FakeGitLab, tmp_path: Path) -> None:
    pipeline_with(gitlab)
    gitlab.add_mr(18, source_branch="feature", sha="b" * 40)  # an older MR head: not this one
    gitlab.add_job(PIPELINE, "unit", trace=log("make-check-unknown.log"))
    env = runner_env(gitlab, tmp_path)
    del env["CI_MERGE_REQUEST_IID"]
    env["CI_PIPELINE_SOURCE"] = "push"

    assert run_job(env).code == 0

    assert len(gitlab.our_notes(MR)) == 1
    assert gitlab.our_notes(18) == []
    listing = [r for r in gitlab.requests if r.path.endswith("/merge_requests")]
    assert listing[0].query["source_branch"] == "feature"
    assert listing[0].query["state"] == "opened"


def test_without_a_merge_request_nothing_is_posted(gitlab: FakeGitLab, tmp_path: Path) -> None:
    gitlab.add_pipeline(PIPELINE, ref="main")
    gitlab.add_job(PIPELINE, "unit", trace=log("make-check-unknown.log"))
    env = runner_env(gitlab, tmp_path, CI_COMMIT_REF_NAME="main", CI_MERGE_REQUEST_SOURCE_BRANCH_NAME="")
    del env["CI_MERGE_REQUEST_IID"]

    result = run_job(env)

    assert result.code == 0
    assert "No open merge request" in result.out
    assert not any(r.method != "GET" for r in gitlab.requests)


def test_no_failed_jobs_means_no_note(gitlab: FakeGitLab, tmp_path: Path) -> None:
    pipeline_with(gitlab)
    result = run_job(runner_env(gitlab, tmp_path))
    assert result.code == 0
    assert "No failed jobs" in result.out
    assert gitlab.notes[MR] == []


def test_dry_run_changes_nothing(gitlab: FakeGitLab, tmp_path: Path) -> None:
    pipeline_with(gitlab)
    gitlab.add_job(PIPELINE, "build-image", trace=log("podman-disk-full.log"))
    result = run_job(runner_env(gitlab, tmp_path, CI_TRIAGE_DRY_RUN="true"))
    assert result.code == 0
    assert "dry run" in result.out and "INF101" in result.out
    assert gitlab.notes[MR] == [] and gitlab.mrs[MR]["labels"] == []
    assert len(jobs_named(gitlab, "build-image")) == 1


def test_pagination_is_followed(gitlab: FakeGitLab, tmp_path: Path) -> None:
    gitlab.max_per_page = 2
    pipeline_with(gitlab)
    for n in range(5):
        gitlab.add_job(PIPELINE, f"unit {n}", trace=log("make-check-unknown.log"))
    gitlab.add_note(MR, "looks good", author=8)
    gitlab.add_note(MR, "merged main", author=8, system=True)
    gitlab.add_note(MR, f"{MARKER} pasted by a human", author=8)

    assert run_job(runner_env(gitlab, tmp_path)).code == 0

    body = the_note(gitlab)
    assert all(f"unit {n}" in body for n in range(5))
    assert len(gitlab.notes[MR]) == 4  # the human's notes are untouched
    jobs_requests = [r for r in gitlab.requests if r.path.endswith("/jobs")]
    assert any(r.query.get("page") == "3" for r in jobs_requests)
    assert {tuple(r.query.getlist("scope[]")) for r in jobs_requests} == {("failed",), ()}
    assert any(r.query.get("include_retried") == "true" for r in jobs_requests)


def test_notes_are_listed_oldest_first_and_only_ours_is_edited(gitlab: FakeGitLab, tmp_path: Path) -> None:
    pipeline_with(gitlab)
    gitlab.add_job(PIPELINE, "unit", trace=log("make-check-unknown.log"))
    assert run_job(runner_env(gitlab, tmp_path)).code == 0
    assert run_job(runner_env(gitlab, tmp_path)).code == 0  # same triage: the note is not touched
    gitlab.add_job(PIPELINE, "unit 2", trace=log("make-check-unknown.log"))
    assert run_job(runner_env(gitlab, tmp_path)).code == 0
    assert "unit 2" in the_note(gitlab)
    lists = [r for r in gitlab.requests if r.path.endswith("/notes") and r.method == "GET"]
    assert {(r.query["sort"], r.query["order_by"]) for r in lists} == {("asc", "created_at")}
    assert len(gitlab.our_notes(MR)) == 1
    assert [r.method for r in gitlab.requests if "/notes" in r.path and r.method != "GET"] == ["POST", "PUT"]


def test_repository_config_is_read_from_the_checkout(gitlab: FakeGitLab, tmp_path: Path) -> None:
    (tmp_path / ".ci-triage.toml").write_text("[rules.INF101]\nbogus = 1\n")
    pipeline_with(gitlab)
    gitlab.add_job(PIPELINE, "unit", trace=log("make-check-unknown.log"))
    result = run_job(runner_env(gitlab, tmp_path))
    assert result.code == 2
    assert ".ci-triage.toml" in result.err
    assert gitlab.requests == []


def test_config_path_input_must_exist(gitlab: FakeGitLab, tmp_path: Path) -> None:
    result = run_job(runner_env(gitlab, tmp_path, CI_TRIAGE_CONFIG="ci/triage.toml"))
    assert result.code == 2
    assert "cannot read" in result.err


# --------------------------------------------------------------------------------------------
# Untrusted text


def test_hostile_log_text_never_becomes_a_quick_action_or_a_mention(gitlab: FakeGitLab, tmp_path: Path) -> None:
    pipeline_with(gitlab, ref="feat/merge")
    gitlab.add_job(PIPELINE, "/merge", trace=log("hostile-text.log"))
    gitlab.add_job(PIPELINE, "@all #1\n/close", failure_reason="unknown_failure", trace=None)
    env = runner_env(
        gitlab, tmp_path, CI_COMMIT_REF_NAME="feat/merge", CI_MERGE_REQUEST_SOURCE_BRANCH_NAME="feat/merge"
    )

    assert run_job(env).code == 0

    body = the_note(gitlab)
    # GitLab's extractor: a command is `/name` at a line start outside exact ``` fences.
    for line in body.split("\n"):
        assert not re.match(r"^\s*/\w", line), line
    assert "glpat-abcdefghijklmnopqrstuvwxyz0123" not in body
    assert "[REDACTED]" in body
    prose = outside_fences(body)
    assert "@all" not in prose and "#1" not in prose and "!2" not in prose
    assert "<img" not in prose
    assert f"{ZWSP}/merge" in body
    state = parse_state(body)
    assert list(state.runs) == [PIPELINE]  # the fake state line in the log did not count
    assert gitlab.mrs[MR]["labels"] == []
    assert "security::ignore" not in gitlab.labels


# --------------------------------------------------------------------------------------------
# Faults


def test_5xx_on_reads_is_retried(gitlab: FakeGitLab, tmp_path: Path) -> None:
    pipeline_with(gitlab)
    gitlab.add_job(PIPELINE, "build-image", trace=log("podman-disk-full.log"))
    gitlab.faults.append(Fault("GET", r"/pipelines/\d+/jobs$", status=502, times=2))
    gitlab.faults.append(Fault("GET", r"/trace$", status=503, times=1))

    result = run_job(runner_env(gitlab, tmp_path))

    assert result.code == 0, result.err
    assert "INF101" in the_note(gitlab)
    assert len(result.sleeps) == 3 and max(result.sleeps) <= 0.01


def test_5xx_on_note_create_is_not_retried_but_reported(gitlab: FakeGitLab, tmp_path: Path) -> None:
    pipeline_with(gitlab)
    gitlab.add_job(PIPELINE, "tests", failure_reason="runner_system_failure", trace=log("runner-system-failure.log"))
    gitlab.faults.append(Fault("POST", r"/notes$", status=500, times=1))

    result = run_job(runner_env(gitlab, tmp_path))

    assert result.code == 0
    assert "UpsertComment" in result.out and "HTTP 500" in result.out
    assert gitlab.notes[MR] == []
    assert len(jobs_named(gitlab, "tests")) == 2  # the retry ran before the comment
    assert gitlab.mrs[MR]["labels"] == ["ci::infrastructure"]
    assert run_job(runner_env(gitlab, tmp_path, CI_TRIAGE_FAIL_ON_ERROR="1")).code == 0  # nothing to do


def test_429_honours_retry_after_capped_by_configuration(gitlab: FakeGitLab, tmp_path: Path) -> None:
    pipeline_with(gitlab)
    gitlab.add_job(PIPELINE, "unit", trace=log("make-check-unknown.log"))
    gitlab.faults.append(Fault("POST", r"/notes$", status=429, headers={"Retry-After": "30"}))

    result = run_job(runner_env(gitlab, tmp_path))

    assert result.code == 0, result.err
    assert result.sleeps == [0.01]
    assert len(gitlab.our_notes(MR)) == 1


def test_429_beyond_the_budget_is_reported_and_exit_0(gitlab: FakeGitLab, tmp_path: Path) -> None:
    pipeline_with(gitlab)
    gitlab.faults.append(Fault("GET", r"/pipelines/\d+$", status=429, times=10, headers={"Retry-After": "1"}))
    result = run_job(runner_env(gitlab, tmp_path, CI_TRIAGE_HTTP_RETRIES="2"))
    assert result.code == 0
    assert "rate limit" in result.err
    assert "Traceback" not in result.err
    assert result.sleeps == [0.01, 0.01]


def test_platform_failure_fails_the_job_only_with_fail_on_error(gitlab: FakeGitLab, tmp_path: Path) -> None:
    pipeline_with(gitlab)
    gitlab.faults.append(Fault("GET", r"/pipelines/\d+$", status=500, times=10))
    env = runner_env(gitlab, tmp_path, CI_TRIAGE_HTTP_RETRIES="0", CI_TRIAGE_FAIL_ON_ERROR="true")
    result = run_job(env)
    assert result.code == 1
    assert "HTTP 500" in result.err


def test_timeouts_are_retried(gitlab: FakeGitLab, tmp_path: Path) -> None:
    pipeline_with(gitlab)
    gitlab.add_job(PIPELINE, "unit", trace=log("make-check-unknown.log"))
    gitlab.faults.append(Fault("GET", r"/pipelines/\d+$", status=0, delay=0.6))

    result = run_job(runner_env(gitlab, tmp_path, CI_TRIAGE_HTTP_TIMEOUT="0.2"))

    assert result.code == 0, result.err
    assert len(gitlab.our_notes(MR)) == 1
    assert len(result.sleeps) == 1


def test_incomplete_trace_is_read_again_once(gitlab: FakeGitLab, tmp_path: Path) -> None:
    pipeline_with(gitlab)
    full = log("podman-disk-full.log")
    partial = full[: full.index(b"STEP 5/9")]
    job = gitlab.add_job(PIPELINE, "build-image", trace=[partial, full])

    result = run_job(runner_env(gitlab, tmp_path, CI_TRIAGE_TRACE_RECHECK_DELAY="2"))

    assert result.code == 0
    assert result.sleeps == [2.0]
    assert "INF101" in the_note(gitlab)
    assert len([r for r in gitlab.requests if r.path == f"/projects/42/jobs/{job['id']}/trace"]) == 2


def test_a_trace_that_stays_truncated_is_said_to_be_incomplete(gitlab: FakeGitLab, tmp_path: Path) -> None:
    pipeline_with(gitlab)
    full = log("make-check-unknown.log")
    gitlab.add_job(PIPELINE, "unit", trace=full[: full.index(b"ERROR: Job failed")])
    assert run_job(runner_env(gitlab, tmp_path)).code == 0
    assert "it may be incomplete" in the_note(gitlab)


def test_missing_trace_triages_from_failure_reason_alone(gitlab: FakeGitLab, tmp_path: Path) -> None:
    pipeline_with(gitlab)
    gitlab.add_job(PIPELINE, "tests", failure_reason="runner_interrupted", trace=None)
    gitlab.add_job(PIPELINE, "unit", failure_reason="script_failure", trace=None)

    assert run_job(runner_env(gitlab, tmp_path)).code == 0

    body = plain(the_note(gitlab))
    assert body.count("The job log could not be read") == 2
    assert "runner_interrupted" in body
    assert len(jobs_named(gitlab, "tests")) == 1  # unknown `unit` blocks the run's re-run


def test_retry_refused_is_planned_again_without_claiming_it(gitlab: FakeGitLab, tmp_path: Path) -> None:
    pipeline_with(gitlab)
    gitlab.add_job(PIPELINE, "build-image", trace=log("podman-disk-full.log"))
    gitlab.faults.append(Fault("POST", r"/retry$", status=403))

    result = run_job(runner_env(gitlab, tmp_path))

    assert result.code == 0
    body = the_note(gitlab)
    assert "Tried to re-run, but the request was refused" in body
    assert "Re-running" not in body
    assert parse_state(body).runs[PIPELINE].rerun_attempt == 0
    assert len(jobs_named(gitlab, "build-image")) == 1


def test_a_job_token_is_a_clear_configuration_error(gitlab: FakeGitLab, tmp_path: Path) -> None:
    pipeline_with(gitlab)
    result = run_job(runner_env(gitlab, tmp_path, CI_TRIAGE_TOKEN=JOB_TOKEN))
    assert result.code == 2
    assert "configuration error" in result.err and "CI_JOB_TOKEN" in result.err
    assert "Developer role" in result.err and "`api` scope" in result.err
    assert "Traceback" not in result.err
    assert [r.auth for r in gitlab.requests] == ["job"]  # sent as JOB-TOKEN, refused, stopped
    assert gitlab.notes[MR] == []


def test_a_revoked_token_is_a_configuration_error(gitlab: FakeGitLab, tmp_path: Path) -> None:
    result = run_job(runner_env(gitlab, tmp_path, CI_TRIAGE_TOKEN="glpat-revoked-000000000000"))
    assert result.code == 2
    assert "expired, revoked or mistyped" in result.err


def test_a_token_without_the_role_is_reported(gitlab: FakeGitLab, tmp_path: Path) -> None:
    pipeline_with(gitlab)
    gitlab.members[7] = 20  # Reporter
    gitlab.add_job(PIPELINE, "tests", failure_reason="runner_system_failure", trace=log("runner-system-failure.log"))
    result = run_job(runner_env(gitlab, tmp_path))
    assert result.code == 0
    assert "Developer role" in result.out
    assert "Tried to re-run, but the request was refused" in the_note(gitlab)


@pytest.mark.parametrize(
    ("over", "needle"),
    [
        ({"CI_TRIAGE_TOKEN": ""}, "CI_TRIAGE_TOKEN is not set"),
        ({"CI_TRIAGE_TOKEN_VARIABLE": "MY_TOKEN"}, "MY_TOKEN is not set"),
        ({"CI_TRIAGE_MAX_RETRIES": "lots"}, "CI_TRIAGE_MAX_RETRIES"),
        ({"CI_PIPELINE_ID": ""}, "CI_PIPELINE_ID"),
        ({"CI_TRIAGE_RERUN": "always"}, "CI_TRIAGE_RERUN"),
    ],
)
def test_settings_errors_name_the_variable(
    gitlab: FakeGitLab, tmp_path: Path, over: dict[str, str], needle: str
) -> None:
    result = run_job(runner_env(gitlab, tmp_path, **over))
    assert result.code == 2
    assert needle in result.err


def test_token_from_another_variable(gitlab: FakeGitLab, tmp_path: Path) -> None:
    pipeline_with(gitlab)
    gitlab.add_job(PIPELINE, "unit", trace=log("make-check-unknown.log"))
    env = runner_env(gitlab, tmp_path, CI_TRIAGE_TOKEN_VARIABLE="GROUP_TRIAGE_TOKEN")
    env["GROUP_TRIAGE_TOKEN"] = env.pop("CI_TRIAGE_TOKEN")
    assert run_job(env).code == 0
    assert len(gitlab.our_notes(MR)) == 1


def test_a_bug_does_not_fail_the_pipeline(gitlab: FakeGitLab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pipeline_with(gitlab)
    gitlab.add_job(PIPELINE, "unit", trace=log("make-check-unknown.log"))

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom glpat-abcdefghijklmnopqrstuvwxyz0123")

    monkeypatch.setattr(gitlab_job, "triage_job", broken)
    result = run_job(runner_env(gitlab, tmp_path))
    assert result.code == 0
    assert "internal error (RuntimeError)" in result.err
    assert "glpat-abcdefghijklmnopqrstuvwxyz0123" not in result.err
    assert run_job(runner_env(gitlab, tmp_path, CI_TRIAGE_FAIL_ON_ERROR="yes")).code == 1


@pytest.mark.parametrize("synchronised_lists", [2, 4], ids=["read-then-write", "both-create"])
def test_two_triage_jobs_racing_for_one_mr_leave_one_note(
    gitlab: FakeGitLab, tmp_path: Path, synchronised_lists: int
) -> None:
    # A branch pipeline and a merge request pipeline for the same commit, both failing.
    pipeline_with(gitlab, PIPELINE)
    pipeline_with(gitlab, PIPELINE + 1, triage_job=TRIAGE_JOB + 1)
    gitlab.add_job(PIPELINE, "build-image", trace=log("podman-disk-full.log"))
    gitlab.add_job(PIPELINE + 1, "deploy", failure_reason="invalid_bridge_trigger", trace=None)
    barrier = threading.Barrier(2, timeout=10)
    calls = {"n": 0}

    def both_list_before_either_posts() -> None:
        calls["n"] += 1
        if calls["n"] <= synchronised_lists:
            barrier.wait()

    gitlab.on_notes_list = both_list_before_either_posts
    envs = [
        runner_env(gitlab, tmp_path),
        runner_env(gitlab, tmp_path, CI_PIPELINE_ID=str(PIPELINE + 1), CI_JOB_ID=str(TRIAGE_JOB + 1)),
    ]
    results: list[int] = []
    threads = [threading.Thread(target=lambda e=e: results.append(run_job(e).code)) for e in envs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    assert results == [0, 0]
    body = the_note(gitlab)
    assert f"<!-- ci-triage:run {PIPELINE} -->" in body
    assert f"<!-- ci-triage:run {PIPELINE + 1} -->" in body
    assert set(parse_state(body).runs) == {PIPELINE, PIPELINE + 1}
    assert gitlab.mrs[MR]["labels"] == ["ci::code", "ci::infrastructure"]


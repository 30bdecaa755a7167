"""The GitLab adapter's parts: failure_reason table, trace window, quick actions, transport."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests

from bot.core.model import Verdict
from bot.core.plan import ChangeRef, JobRef, RunRef
from bot.errors import ForgeError, RateLimited
from bot.forges.gitlab import GitLabForge, JobInfo, RetryingSession, TraceWindow, neutralise_quick_actions
from bot.gitlab_job import FAILURE_REASONS, triage_job
from bot.rules import load_taxonomy
from tests.gitlab.conftest import MR, PIPELINE, log, pipeline_with
from tests.gitlab.fake_gitlab import BOT_TOKEN, FakeGitLab, Fault

PLATFORM = Path(__file__).resolve().parents[3] / "shared" / "reference" / "platform.md"

# GitLab's failure_reason enum (app/models/concerns/enums/ci/commit_status.rb, platform.md §2.4),
# plus the two values GitLab's presenter knows that the stored enum copy does not.
ENUM = [
    "unknown_failure",
    "script_failure",
    "api_failure",
    "stuck_or_timeout_failure",
    "runner_system_failure",
    "missing_dependency_failure",
    "runner_unsupported",
    "stale_schedule",
    "job_execution_timeout",
    "archived_failure",
    "unmet_prerequisites",
    "scheduler_failure",
    "data_integrity_failure",
    "forward_deployment_failure",
    "user_blocked",
    "project_deleted",
    "ci_quota_exceeded",
    "pipeline_loop_detected",
    "no_matching_runner",
    "trace_size_exceeded",
    "builds_disabled",
    "environment_creation_failure",
    "deployment_rejected",
    "failed_outdated_deployment_job",
    "job_execution_server_timeout",
    "stuck_pending_with_matching_runners",
    "stuck_pending_no_matching_runners",
    "no_updates_running",
    "no_updates_canceling",
    "server_timeout_running",
    "server_timeout_canceling",
    "runner_configuration_error",
    "runner_external_dependency_failure",
    "runner_interrupted",
    "protected_environment_failure",
    "insufficient_bridge_permissions",
    "downstream_bridge_project_not_found",
    "invalid_bridge_trigger",
    "upstream_bridge_project_not_found",
    "insufficient_upstream_permissions",
    "bridge_pipeline_is_child_pipeline",
    "downstream_pipeline_creation_failed",
    "secrets_provider_not_found",
    "reached_max_descendant_pipelines_depth",
    "ip_restriction_failure",
    "reached_max_pipeline_hierarchy_size",
    "reached_downstream_pipeline_trigger_rate_limit",
    "duo_workflow_not_allowed",
    "job_router_failure",
    "job_token_expired",
    "id_token_burned_project_path",
    "downstream_project_trigger_resolved_to_empty",
    "secrets_manager_access_denied",
    "duo_workflow_connection_failure",
]


def test_every_failure_reason_is_mapped() -> None:
    assert sorted(FAILURE_REASONS) == sorted(ENUM)
    if PLATFORM.is_file():  # the shared reference, when present, lists the same values
        table = re.findall(r"^\| `(\w+)` \(", PLATFORM.read_text(), re.M)
        assert set(table) <= set(FAILURE_REASONS)


def test_failure_reason_categories_fit_the_taxonomy() -> None:
    taxonomy = load_taxonomy()
    for value, reason in FAILURE_REASONS.items():
        if reason.verdict is Verdict.UNKNOWN:
            assert reason.category is None and reason.retry == "never", value
            continue
        assert reason.category is not None, value
        assert taxonomy.kind(reason.category) == reason.verdict.value, value
        if reason.verdict is Verdict.CODE:
            assert reason.retry == "never", value


@pytest.mark.parametrize("value", ["runner_system_failure", "api_failure", "runner_interrupted"])
def test_retry_safe_reasons_without_a_log(value: str, catalog: object) -> None:
    triage = triage_job(JobInfo(1, "x", failure_reason=value), None, catalog)  # type: ignore[arg-type]
    assert triage.verdict is Verdict.INFRASTRUCTURE
    assert triage.findings[0].retry == "safe"
    assert triage.findings[0].evidence[0].line == 1


def test_unlisted_and_missing_reasons_are_unknown(catalog: object) -> None:
    for value in ("", "brand_new_reason_19_9"):
        triage = triage_job(JobInfo(1, "x", failure_reason=value), None, catalog)  # type: ignore[arg-type]
        assert triage.verdict is Verdict.UNKNOWN


# --------------------------------------------------------------------------------------------
# The trace window


def _section_log(body_lines: int) -> bytes:
    out = [b"Running with gitlab-runner 17.5.0"]
    out.append(b"\x1b[0Ksection_start:1:prepare_executor\r\x1b[0KPreparing")
    out += [b"pulling layer %d" % i for i in range(50)]
    out.append(b"\x1b[0Ksection_end:2:prepare_executor\r\x1b[0K")
    out.append(b"\x1b[0Ksection_start:3:step_script\r\x1b[0KExecuting step_script")
    out += [b"test line %06d ok" % i for i in range(body_lines)]
    out.append(b"FAILED: the real error")
    out.append(b"\x1b[0Ksection_end:4:step_script\r\x1b[0K")
    out.append(b"\x1b[0Ksection_start:5:upload_artifacts_on_failure\r\x1b[0KUploading artifacts")
    out += [b"uploading %d" % i for i in range(30)]
    out.append(b"\x1b[0Ksection_end:6:upload_artifacts_on_failure\r\x1b[0K")
    out.append(b"\x1b[31;1mERROR: Job failed: exit code 1")
    return b"\n".join(out) + b"\n"


def test_small_logs_are_kept_whole() -> None:
    data = _section_log(10)
    window = TraceWindow(1 << 20)
    for i in range(0, len(data), 7):
        window.feed(data[i : i + 7])
    result = window.result()
    assert result.data == data
    assert result.omitted == 0 and result.complete


def test_big_logs_keep_the_failing_section_start_and_the_tail_with_line_numbers() -> None:
    data = _section_log(20000)
    window = TraceWindow(64 * 1024)
    for i in range(0, len(data), 4096):
        window.feed(data[i : i + 4096])
    result = window.result()
    original = data.split(b"\n")
    kept = result.data.split(b"\n")
    assert len(kept) == len(original)  # every line keeps its number
    for a, b in zip(original, kept, strict=True):
        assert b in (a, b"")
    step = next(i for i, line in enumerate(original) if b"section_start:3:step_script" in line)
    assert kept[step] == original[step]  # the failing section's start
    assert kept[step - 1] == b""  # the preparation before it was dropped
    assert b"FAILED: the real error" in result.data and result.complete
    assert b"section_start:5:upload_artifacts_on_failure" in result.data  # post sections don't reset
    assert 0 < result.omitted < len(data)
    assert len(result.data) - result.data.count(b"\n") < 70 * 1024


def test_a_huge_single_line_keeps_its_end_and_the_job_end_line() -> None:
    window = TraceWindow(8192)
    window.feed(b"start\n" + b"x" * 50000)
    window.feed(b"y" * 100 + b"\nERROR: Job failed: exit code 1\n")
    result = window.result()
    assert result.data.startswith(b"start\n")
    assert result.data.count(b"\n") == 3
    assert result.complete and result.omitted > 40000


def test_an_unfinished_log_is_incomplete() -> None:
    window = TraceWindow(8192)
    window.feed(b"section_start:1:step_script\r\nmake test\nrunning")
    window.feed(b"")
    result = window.result()
    assert not result.complete
    assert result.data.endswith(b"running")


# --------------------------------------------------------------------------------------------
# Quick actions


def test_no_line_starts_a_quick_action() -> None:
    body = "ok\n/merge\n  /approve\n\t/close\r\n```\n/label ~x\n```\nsee /docs here"
    out = neutralise_quick_actions(body)
    assert "\r" not in out
    assert not any(re.match(r"^\s*/", line) for line in out.split("\n"))
    assert "see /docs here" in out


# --------------------------------------------------------------------------------------------
# Transport and adapter methods against the fake


@pytest.fixture
def forge(gitlab: FakeGitLab) -> GitLabForge:
    pipeline_with(gitlab)
    session = RetryingSession(retries=2, max_wait=0.01, sleep=lambda s: None)
    return GitLabForge.connect(gitlab.base, BOT_TOKEN, gitlab.project_id, timeout=2, session=session)


def test_retrying_session_does_not_retry_a_post_after_5xx(gitlab: FakeGitLab, forge: GitLabForge) -> None:
    job = gitlab.add_job(PIPELINE, "tests", failure_reason="api_failure")
    gitlab.faults.append(Fault("POST", r"/retry$", status=502))
    with pytest.raises(ForgeError, match="0 of 1 retries accepted"):
        forge.rerun_jobs(RunRef(PIPELINE), [JobRef(int(job["id"]), "tests")])
    assert [r.method for r in gitlab.requests if r.path.endswith("/retry")] == ["POST"]
    assert forge.rerun_jobs(RunRef(PIPELINE), [JobRef(int(job["id"]), "tests")]) == 1


def test_retrying_session_gives_up_on_connection_errors() -> None:
    waits: list[float] = []
    session = RetryingSession(retries=1, max_wait=0.01, sleep=waits.append)
    with pytest.raises(requests.ConnectionError):
        session.get("http://127.0.0.1:9/", timeout=0.5)
    assert waits == [0.01]
    with pytest.raises(requests.ConnectionError):
        session.post("http://127.0.0.1:9/", timeout=0.5)
    assert waits == [0.01]


def test_rate_limit_on_a_write_is_retried_then_raised(gitlab: FakeGitLab, forge: GitLabForge) -> None:
    gitlab.faults.append(Fault("PUT", r"/merge_requests/\d+$", status=429, times=5, headers={"Retry-After": "soon"}))
    with pytest.raises(RateLimited):
        forge.set_labels(ChangeRef(MR), ["ci::code"], [])
    assert gitlab.mrs[MR]["labels"] == []


def test_react_persists_award_emoji(gitlab: FakeGitLab, forge: GitLabForge) -> None:
    note = gitlab.add_note(MR, "/retriage", author=8)
    forge.react(ChangeRef(MR), int(note["id"]), "eyes")
    assert [a["name"] for a in gitlab.awards[int(note["id"])]] == ["eyes"]
    with pytest.raises(ForgeError, match="404"):
        forge.react(ChangeRef(MR), int(note["id"]), "eyes")  # GitLab: already awarded


def test_access_level_from_members_all(gitlab: FakeGitLab, forge: GitLabForge) -> None:
    assert forge.access_level(8) == 40
    assert forge.access_level(12345) == 0
    assert any(r.path == "/projects/42/members/all/8" for r in gitlab.requests)
    gitlab.faults.append(Fault("GET", r"/members/all/", status=500, times=3))
    with pytest.raises(ForgeError):
        forge.access_level(8)


def test_labels_are_created_with_a_colour_and_switched(gitlab: FakeGitLab, forge: GitLabForge) -> None:
    gitlab.labels["ci::code"] = {"id": 1, "name": "ci::code", "color": "#000000", "description": None}
    gitlab.mrs[MR]["labels"] = ["ci::infrastructure", "keep"]
    forge.set_labels(ChangeRef(MR), ["ci::code"], ["ci::infrastructure"])
    forge.set_labels(ChangeRef(MR), [], [])
    assert forge.labels(ChangeRef(MR)) == ["ci::code", "keep"]
    assert gitlab.labels["ci::code"]["color"] == "#000000"  # existing label left alone (409)
    put = [r for r in gitlab.requests if r.method == "PUT"]
    assert put[0].body == {"add_labels": "ci::code", "remove_labels": "ci::infrastructure"}


def test_mr_lookup_without_a_branch_or_match(gitlab: FakeGitLab, forge: GitLabForge) -> None:
    assert forge.find_merge_request(None, "", "") is None
    assert forge.find_merge_request(None, "other", "c" * 40) is None
    change = forge.find_merge_request(None, "feature", "c" * 40)  # no exact head: the open MR
    assert change == ChangeRef(MR, "a" * 40)


def test_a_broken_stream_keeps_what_arrived(gitlab: FakeGitLab, forge: GitLabForge) -> None:
    job = gitlab.add_job(PIPELINE, "unit", trace=log("make-check-unknown.log"))
    gitlab.faults.append(Fault("GET", r"/trace$", status=404, times=1))
    with pytest.raises(ForgeError, match="no log"):
        forge.trace(int(job["id"]), 1 << 20)
    assert forge.trace(int(job["id"]), 1 << 20).complete


def test_a_connection_dropped_mid_log_keeps_what_arrived(gitlab: FakeGitLab, forge: GitLabForge) -> None:
    data = b"".join(b"line %06d of a long log\n" % i for i in range(10000)) + log("make-check-unknown.log")
    job = gitlab.add_job(PIPELINE, "unit", trace=data)
    gitlab.broken_traces[int(job["id"])] = 150_000  # the connection drops in the third block
    trace = forge.trace(int(job["id"]), 1 << 20)
    assert not trace.complete
    assert trace.size == 2 * 65536 and data.startswith(trace.data)


def test_a_log_beyond_one_engine_block_is_triaged_with_its_line_numbers(catalog: object) -> None:
    head = log("podman-disk-full.log")
    at = head.index(b"STEP 5/9")
    data = head[:at] + b"".join(b"test line %07d passed\n" % n for n in range(400_000)) + head[at:]
    window = TraceWindow(4 << 20)
    for i in range(0, len(data), 65536):
        window.feed(data[i : i + 65536])
    trace = window.result()
    assert trace.omitted > 0
    triage = triage_job(JobInfo(1, "build", failure_reason="script_failure"), trace, catalog)  # type: ignore[arg-type]
    assert triage.findings[0].rule == "INF101"
    line = triage.findings[0].evidence[0].line
    assert data.split(b"\n")[line - 1].startswith(b"Error: storing blob")
    assert triage.stats.lines == data.count(b"\n")

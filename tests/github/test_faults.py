"""Faults: the bot finishes, says what it could not do, never duplicates a comment or a re-run."""

from __future__ import annotations

import threading

from tests.github.conftest import STEPS_DISK, STEPS_PYTEST, Runner, log, workflow_run_event
from tests.github.fake import FakeGitHub, Fault

COMMENTS = r"/repos/[^/]+/[^/]+/issues/\d+/comments"
RERUN = r"/repos/[^/]+/[^/]+/actions/runs/\d+/rerun-failed-jobs"


def setup_infra(github: FakeGitHub, run_id: int = 100, pull: int = 7) -> None:
    if pull not in github.pulls:
        github.add_pull(pull)
    github.add_run(run_id, pulls=(pull,))
    github.add_job(run_id, run_id * 10 + 1, "build", log=log("disk-full.log"), steps=STEPS_DISK)


def test_502_after_the_comment_was_stored_does_not_duplicate_it(github: FakeGitHub, action: Runner) -> None:
    setup_infra(github)
    github.faults.append(Fault("POST", COMMENTS, 502, after=True))
    result = action("workflow_run", workflow_run_event(100, pulls=(7,)))
    assert result.code == 0
    assert len(github.ours(7)) == 1
    assert result.outputs["comment-url"].endswith(str(github.ours(7)[0]["id"]))


def test_5xx_and_rate_limits_on_reads_are_retried(github: FakeGitHub, action: Runner) -> None:
    setup_infra(github)
    github.faults += [
        Fault("GET", r"/repos/[^/]+/[^/]+/actions/runs/100/jobs", 503, times=2),
        Fault("GET", COMMENTS, 403, headers={"Retry-After": "30"},
              body={"message": "You have exceeded a secondary rate limit."}),
        Fault("GET", r"/repos/[^/]+/[^/]+/issues/7/labels", 429, headers={"Retry-After": "30"}),
    ]
    result = action("workflow_run", workflow_run_event(100, pulls=(7,)))
    assert result.code == 0 and "::warning" not in result.stdout
    assert len(github.ours(7)) == 1 and github.reruns == [100]
    assert all(f.times == 0 for f in github.faults)


def test_rate_limited_writes_are_retried_by_hand(github: FakeGitHub, action: Runner) -> None:
    setup_infra(github)
    github.faults += [
        Fault("POST", COMMENTS, 429, headers={"Retry-After": "30"}),
        Fault("POST", r"/repos/[^/]+/[^/]+/issues/7/labels", 403, headers={"Retry-After": "5"},
              body={"message": "You have exceeded a secondary rate limit."}),
    ]
    action("workflow_run", workflow_run_event(100, pulls=(7,)))
    assert len(github.ours(7)) == 1
    assert github.issue_labels[7] == ["ci: infrastructure"]


def test_rerun_502_after_it_landed_is_not_repeated(github: FakeGitHub, action: Runner) -> None:
    setup_infra(github)
    github.faults.append(Fault("POST", RERUN, 502, after=True))
    result = action("workflow_run", workflow_run_event(100, pulls=(7,)))
    assert github.reruns == [100]
    assert "Re-running" in github.ours(7)[0]["body"]
    assert result.outputs["reruns"] == "1"


def test_a_refused_rerun_is_never_claimed(github: FakeGitHub, action: Runner) -> None:
    setup_infra(github)
    github.faults.append(Fault("POST", RERUN, 403, times=5, body={"message": "Resource not accessible by integration"}))
    result = action("workflow_run", workflow_run_event(100, pulls=(7,)))
    body = github.ours(7)[0]["body"]
    assert github.reruns == []
    assert "Tried to re-run, but the request was refused" in body and "Re-running" not in body
    assert result.outputs["reruns"] == "0"
    assert "What the bot could not do" in result.summary
    assert result.code == 0
    result = action("workflow_run", workflow_run_event(100, pulls=(7,)), **{"INPUT_FAIL-ON-ERROR": "true"})
    assert result.code == 1  # still refused, and the maintainer asked to fail on it
    assert len(github.ours(7)) == 1


def test_expired_log_and_timeouts_are_reported_in_the_comment(github: FakeGitHub, action: Runner) -> None:
    github.add_pull(7)
    github.add_run(100, pulls=(7,))
    github.add_job(100, 1001, "build", log=log("disk-full.log"), steps=STEPS_DISK)
    github.add_job(100, 1002, "tests", log=log("pytest-failure.log"), steps=STEPS_PYTEST)
    github.faults += [
        Fault("GET", r"/_blobs/1001", 410, times=1, body={"message": "expired"}),
        Fault("GET", r"/_blobs/1002", 200, times=9, delay=0.6),
    ]
    result = action("workflow_run", workflow_run_event(100, pulls=(7,)),
                    CI_TRIAGE_HTTP_TIMEOUT="0.3", CI_TRIAGE_RETRIES="1")
    body = github.ours(7)[0]["body"]
    assert "is gone (HTTP 410)" in body
    assert "timed out" in body
    assert github.reruns == []  # unknown causes are never re-run
    assert result.code == 0


def test_a_truncated_log_body_is_triaged_from_what_arrived(github: FakeGitHub, action: Runner) -> None:
    github.add_pull(7)
    github.add_run(100, pulls=(7,))
    data = log("pytest-failure.log") + b"2024-05-01T10:00:04.0000000Z cleanup\n" * 20
    github.add_job(100, 1001, "tests", log=data, steps=STEPS_PYTEST)
    github.faults.append(Fault("GET", r"/_blobs/1001", 200, times=9, truncate=True))
    action("workflow_run", workflow_run_event(100, pulls=(7,)), CI_TRIAGE_RETRIES="1")
    body = github.ours(7)[0]["body"]
    assert "download broke off" in body
    assert "| tests | code | `test_failure` |" in body


def test_labels_that_cannot_be_set_are_mentioned_in_the_comment(github: FakeGitHub, action: Runner) -> None:
    setup_infra(github)
    github.faults.append(Fault("POST", r"/repos/[^/]+/[^/]+/labels", 500, times=99))
    result = action("workflow_run", workflow_run_event(100, pulls=(7,)), **{"INPUT_FAIL-ON-ERROR": "true"})
    assert "Could not update the labels" in github.ours(7)[0]["body"]
    assert result.code == 1


def test_comments_that_cannot_be_read_skip_the_pull_request(github: FakeGitHub, action: Runner) -> None:
    setup_infra(github)
    github.faults.append(Fault("GET", COMMENTS, 500, times=99))
    result = action("workflow_run", workflow_run_event(100, pulls=(7,)))
    assert result.code == 0
    assert github.comments == {} and github.reruns == []
    assert "Skipped #\u200b7: listing the comments" in result.summary


def test_a_platform_outage_fails_soft(github: FakeGitHub, action: Runner) -> None:
    setup_infra(github)
    github.faults.append(Fault("GET", r"/repos/[^/]+/[^/]+/actions/runs/100", 500, times=99))
    result = action("workflow_run", workflow_run_event(100, pulls=(7,)))
    assert result.code == 0
    assert "The triage stopped" in result.summary
    assert result.outputs["verdict"] == "none"


def test_a_comment_created_meanwhile_is_merged_not_duplicated(github: FakeGitHub, action: Runner) -> None:
    """Another triage (of another run of the same PR) creates its comment between our read and write."""
    setup_infra(github, 100)
    setup_infra(github, 101)
    other = action.env("workflow_run", workflow_run_event(101, pulls=(7,)))
    github.hooks["create_comment"] = lambda: threading.Thread(target=action.run_env, args=(other,)).run()
    result = action("workflow_run", workflow_run_event(100, pulls=(7,)))
    assert len(github.ours(7)) == 1, result.stdout
    (comment,) = github.ours(7)
    assert "<!-- ci-triage:run 100 -->" in comment["body"] and "<!-- ci-triage:run 101 -->" in comment["body"]
    assert sorted(github.reruns) == [100, 101]


def test_two_triage_runs_racing_for_the_same_pull_request(github: FakeGitHub, action: Runner) -> None:
    for run_id in (100, 101, 102):
        setup_infra(github, run_id)
    envs = [action.env("workflow_run", workflow_run_event(r, pulls=(7,))) for r in (100, 101, 102)]
    envs.append(action.env("workflow_run", workflow_run_event(100, pulls=(7,))))  # a redelivery
    results: list[object] = []
    threads = [threading.Thread(target=lambda e=env: results.append(action.run_env(e))) for env in envs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(github.ours(7)) == 1, [r.stdout for r in results]  # type: ignore[attr-defined]
    (comment,) = github.ours(7)
    assert sorted(github.reruns) == [100, 101, 102], results
    for run_id in (100, 101, 102):
        assert f"<!-- ci-triage:run {run_id} -->" in comment["body"]

"""GitHubForge directly against the fake: the error paths the end-to-end tests do not reach."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import requests
from github import GithubException

from bot.core.plan import ChangeRef, JobRef, RunRef
from bot.errors import ForgeError, LogUnavailable, PermissionDenied, RateLimited
from bot.forges.github import GitHubForge, LogText, Run, _error, _size
from tests.github.conftest import STEPS_DISK, TOKEN, log
from tests.github.fake import REPO, FakeGitHub, Fault


@pytest.fixture
def forge(github: FakeGitHub) -> Iterator[GitHubForge]:
    with GitHubForge(
        TOKEN, REPO, api_url=github.url, max_wait=0.0, retries=2, throttle=False, timeout=5, settle=0.0
    ) as f:
        yield f


def job(github: FakeGitHub) -> object:
    github.add_run(100)
    github.add_job(100, 1001, "build", log=log("disk-full.log"), steps=STEPS_DISK)
    run = Run(100, 1, "CI", 1, "", "completed", "failure", "a" * 40, "feature", REPO, "pull_request", 1)
    return run


def test_log_download_paths(github: FakeGitHub, forge: GitHubForge) -> None:
    run = job(github)
    (j,) = forge.failed_jobs(run)  # type: ignore[arg-type]
    github.faults.append(Fault("GET", "/_blobs/1001", 503, headers={"Retry-After": "1"}))
    assert b"".join(forge.job_log(j).chunks) == log("disk-full.log").replace(b"\r", b"")
    github.faults.append(Fault("GET", "/_blobs/1001", 403, body={"message": "forbidden"}))
    with pytest.raises(PermissionDenied):
        forge.job_log(j)
    github.faults.append(Fault("GET", "/_blobs/1001", 418))
    with pytest.raises(LogUnavailable, match="HTTP 418"):
        forge.job_log(j)
    github.faults.append(Fault("GET", "/_blobs/1001", 500, times=9))
    with pytest.raises(LogUnavailable, match="could not be downloaded"):
        forge.job_log(j)
    github.logs.pop(1001)
    with pytest.raises(LogUnavailable):
        forge.job_log(j)


def test_label_and_permission_errors(github: FakeGitHub, forge: GitHubForge) -> None:
    github.add_pull(7)
    forge.set_labels(ChangeRef(7), (), ("ci: code",))  # not on the PR: fine
    github.faults.append(Fault("DELETE", r".*/labels/.*", 500, times=9))
    github.issue_labels[7].append("ci: code")
    github.labels["ci: code"] = github._create("ci: code", "b60205", "")
    with pytest.raises(ForgeError):
        forge.set_labels(ChangeRef(7), (), ("ci: code",))
    github.faults.append(Fault("GET", r".*/labels/ci.*", 500, times=9))
    with pytest.raises(ForgeError):
        forge.set_labels(ChangeRef(7), ("ci: infrastructure",), ())
    github.faults.append(Fault("GET", r".*/permission", 500, times=9))
    with pytest.raises(ForgeError):
        forge.permission("alice")
    github.faults.append(Fault("GET", r".*/contents/.*", 500, times=9))
    with pytest.raises(ForgeError):
        forge.read_file(".ci-triage.toml")


def test_rerun_already_running_is_not_repeated(github: FakeGitHub, forge: GitHubForge) -> None:
    job(github)
    github.runs[100]["status"] = "in_progress"
    assert forge.rerun_jobs(RunRef(100), (JobRef(1001, "build"),)) == 0
    assert github.reruns == []


def test_pulls_for_a_run_without_head_repository(forge: GitHubForge) -> None:
    run = Run(1, 1, "CI", 1, "", "completed", "failure", "s", "", "", "push", 1)
    assert forge.pulls_for_run(run) == []


def test_error_translation() -> None:
    limited = GithubException(403, {"message": "API rate limit exceeded"}, {})
    assert isinstance(_error(limited, "x"), RateLimited)
    assert isinstance(_error(GithubException(429, {}, {}), "x"), RateLimited)
    assert isinstance(_error(GithubException(401, {}, {}), "x"), PermissionDenied)
    assert type(_error(GithubException(500, "boom", {}), "x")) is ForgeError
    assert "ConnectionError" in str(_error(requests.ConnectionError(), "x"))
    assert "ConnectError" in str(_error(httpx.ConnectError("no"), "x"))
    assert "ValueError" in str(_error(ValueError(), "x"))
    assert _size(3 << 20) == "3.0 MiB" and _size(2048) == "2.0 KiB"
    assert LogText((), 0, 0).note == ""

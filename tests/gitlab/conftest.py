"""Fixtures for the GitLab side: the fake GitLab on a socket, runner-like env, fixture logs."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot import gitlab_job
from tests.gitlab.fake_gitlab import BOT_TOKEN, JOB_TOKEN, FakeGitLab, Served

LOGS = Path(__file__).resolve().parents[1] / "fixtures" / "gitlab" / "logs"
TRIAGE_JOB = 9999
PIPELINE = 300
MR = 17


def log(name: str) -> bytes:
    return (LOGS / name).read_bytes()


@pytest.fixture
def gitlab() -> Iterator[FakeGitLab]:
    """The fake GitLab, served; fails the test if python-gitlab broke the documented contract."""
    fake = FakeGitLab()
    with Served(fake):
        yield fake
    assert fake.violations == [], fake.violations


def pipeline_with(
    fake: FakeGitLab, pid: int = PIPELINE, *, sha: str = "a" * 40, ref: str = "feature", triage_job: int = TRIAGE_JOB
) -> None:
    """A pipeline of MR !17 whose .post triage job is running."""
    fake.add_pipeline(pid, ref=ref, sha=sha)
    if MR not in fake.mrs:
        fake.add_mr(MR, source_branch=ref, sha=sha)
    fake.add_job(
        pid, "ci-triage", status="running", failure_reason=None, stage=".post", job_id=triage_job, allow_failure=True
    )


def runner_env(fake: FakeGitLab, tmp_path: Path, **over: str) -> dict[str, str]:
    """The predefined variables GitLab Runner sets for the triage job, plus the token."""
    env = {
        "CI": "true",
        "GITLAB_CI": "true",
        "CI_SERVER_URL": fake.base,
        "CI_API_V4_URL": f"{fake.base}/api/v4",
        "CI_PROJECT_ID": str(fake.project_id),
        "CI_PROJECT_DIR": str(tmp_path),
        "CI_PIPELINE_ID": str(PIPELINE),
        "CI_PIPELINE_SOURCE": "merge_request_event",
        "CI_JOB_ID": str(TRIAGE_JOB),
        "CI_JOB_NAME": "ci-triage",
        "CI_JOB_STAGE": ".post",
        "CI_MERGE_REQUEST_IID": str(MR),
        "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "feature",
        "CI_COMMIT_REF_NAME": "feature",
        "CI_COMMIT_SHA": "a" * 40,
        "CI_JOB_TOKEN": JOB_TOKEN,
        "CI_TRIAGE_TOKEN": BOT_TOKEN,
        # Tests never wait for real: GitLab's Retry-After and the trace re-read are capped.
        "CI_TRIAGE_RETRY_MAX_WAIT": "0.01",
        "CI_TRIAGE_TRACE_RECHECK_DELAY": "0",
        "CI_TRIAGE_HTTP_TIMEOUT": "5",
    }
    env.update(over)
    return env


@dataclass
class Run:
    code: int
    out: str
    err: str
    sleeps: list[float] = field(default_factory=list)


def run_job(env: dict[str, str]) -> Run:
    """`ci-triage gitlab` in process, with a sleep that records instead of waiting."""
    out, err = io.StringIO(), io.StringIO()
    sleeps: list[float] = []
    code = gitlab_job.main(env, out, err, sleep=sleeps.append)
    return Run(code, out.getvalue(), err.getvalue(), sleeps)

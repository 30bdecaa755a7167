"""Fixtures for the GitHub side: the fake server, event payloads, and running the Action."""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from bot.github_action import main
from tests.github.fake import REPO, FakeGitHub

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "github"
TOKEN = "ghs_" + "T0k3nT0k3nT0k3nT0k3nT0k3nT0k3nT0k3n"
SHA = "a" * 40


def _schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "webhooks" / "schema.json").read_text("utf-8"))
    return data


WEBHOOK_SCHEMA = _schema()


def check_webhook(kind: str, payload: dict[str, Any]) -> None:
    """Validate a payload against @octokit/webhooks-schemas (the trimmed, vendored part)."""
    schema = {"$ref": f"#/definitions/{kind}", "definitions": WEBHOOK_SCHEMA["definitions"]}
    jsonschema.validate(payload, schema, cls=jsonschema.Draft7Validator)


def webhook_example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "webhooks" / name).read_text("utf-8"))
    return data


def workflow_run_event(
    run_id: int, *, attempt: int = 1, conclusion: str = "failure", pulls: tuple[int, ...] = (),
    head_repo: str = REPO, head_branch: str = "feature", head_sha: str = SHA,
) -> dict[str, Any]:
    """The vendored workflow_run.completed example, adjusted; validated against the schema."""
    payload = webhook_example("workflow_run.completed.json")
    run = payload["workflow_run"]
    template = run["pull_requests"][0]
    run.update(id=run_id, run_attempt=attempt, conclusion=conclusion, head_sha=head_sha, head_branch=head_branch)
    run["head_repository"]["full_name"] = head_repo
    run["head_repository"]["fork"] = head_repo != REPO
    run["pull_requests"] = []
    for n in pulls:
        pr = copy.deepcopy(template)
        pr.update(number=n, id=n)
        pr["head"]["sha"] = head_sha
        run["pull_requests"].append(pr)
    payload["repository"]["full_name"] = REPO
    check_webhook("workflow_run$completed", payload)
    return payload


def issue_comment_event(
    number: int, body: str, *, login: str = "maintainer", user_type: str = "User", action: str = "created",
    on_pull: bool = True, comment_id: int = 777,
) -> dict[str, Any]:
    payload = webhook_example("issue_comment.created.json")
    payload["action"] = action
    payload["issue"]["number"] = number
    if on_pull:
        payload["issue"]["pull_request"] = {
            "url": f"https://api.github.com/repos/{REPO}/pulls/{number}",
            "html_url": f"https://github.com/{REPO}/pull/{number}",
            "diff_url": f"https://github.com/{REPO}/pull/{number}.diff",
            "patch_url": f"https://github.com/{REPO}/pull/{number}.patch",
            "merged_at": None,
        }
    payload["comment"].update(id=comment_id, body=body)
    payload["comment"]["user"].update(login=login, type=user_type)
    if action == "created":
        check_webhook("issue_comment$created", payload)
    return payload


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str
    summary: str
    outputs: dict[str, str]


def parse_outputs(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if "<<" in line:
            name, delimiter = line.split("<<", 1)
            value = []
            for inner in lines:
                if inner == delimiter:
                    break
                value.append(inner)
            out[name] = "\n".join(value)
        elif "=" in line:
            name, value_ = line.split("=", 1)
            out[name] = value_
    return out


class Runner:
    """Runs the Action's entrypoint the way the runner does: env vars and files only."""

    def __init__(self, fake: FakeGitHub, tmp: Path) -> None:
        self.fake = fake
        self.tmp = tmp
        self.count = 0

    def env(self, event_name: str, payload: dict[str, Any], **inputs: str) -> dict[str, str]:
        self.count += 1
        folder = self.tmp / f"invocation{self.count}"
        folder.mkdir()
        event = folder / "event.json"
        event.write_text(json.dumps(payload), "utf-8")
        (folder / "summary.md").write_text("", "utf-8")
        (folder / "output.txt").write_text("", "utf-8")
        env = {
            "GITHUB_EVENT_NAME": event_name,
            "GITHUB_EVENT_PATH": str(event),
            "GITHUB_REPOSITORY": REPO,
            "GITHUB_API_URL": self.fake.url,
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_RUN_ID": "424242",
            "GITHUB_RUN_ATTEMPT": "1",
            "GITHUB_STEP_SUMMARY": str(folder / "summary.md"),
            "GITHUB_OUTPUT": str(folder / "output.txt"),
            "GITHUB_WORKSPACE": str(folder),
            "INPUT_GITHUB-TOKEN": TOKEN,
            "INPUT_RERUN": "infrastructure",
            "INPUT_MAX-RERUNS": "1",
            "INPUT_MIN-CONFIDENCE": "0.8",
            "INPUT_LABELS": "true",
            "INPUT_LABEL-INFRASTRUCTURE": "ci: infrastructure",
            "INPUT_LABEL-CODE": "ci: code",
            "INPUT_CONFIG": "",
            "INPUT_DRY-RUN": "false",
            "INPUT_FAIL-ON-ERROR": "false",
            # Test speed, by configuration: no throttling, tiny retry waits, short timeouts.
            "CI_TRIAGE_THROTTLE": "false",
            "CI_TRIAGE_MAX_RETRY_WAIT": "0.01",
            "CI_TRIAGE_COMMENT_SETTLE": "0.3",
            "CI_TRIAGE_HTTP_TIMEOUT": "10",
        }
        for key, value in inputs.items():
            env[key] = value
        return env

    def __call__(self, event_name: str, payload: dict[str, Any], **inputs: str) -> Result:
        env = self.env(event_name, payload, **inputs)
        return self.run_env(env)

    def run_env(self, env: dict[str, str]) -> Result:
        out, err = io.StringIO(), io.StringIO()
        code = main(env, out, err)
        summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text("utf-8") if env.get("GITHUB_STEP_SUMMARY") else ""
        outputs = parse_outputs(Path(env["GITHUB_OUTPUT"]).read_text("utf-8")) if env.get("GITHUB_OUTPUT") else {}
        return Result(code, out.getvalue(), err.getvalue(), summary, outputs)


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    fake = FakeGitHub()
    fake.files[".ci-triage.toml"] = (FIXTURES / "ci-triage.toml").read_text("utf-8")
    try:
        yield fake
    finally:
        fake.close()
    assert fake.violations == [], "contract violations:\n" + "\n".join(fake.violations)
    assert all("authorization" not in {k.lower() for k in h} for h in fake.blob_headers), "token sent to blob host"


@pytest.fixture
def action(github: FakeGitHub, tmp_path: Path) -> Runner:
    return Runner(github, tmp_path)


def log(name: str) -> bytes:
    return (FIXTURES / "logs" / name).read_bytes()


STEPS_DISK = [
    ("Set up job", "success", "2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z"),
    ("Build image", "failure", "2024-05-01T10:00:01Z", "2024-05-01T10:00:02Z"),
    ("Disk usage", "success", "2024-05-01T10:00:03Z", "2024-05-01T10:00:03Z"),
    ("Complete job", "success", "2024-05-01T10:00:04Z", "2024-05-01T10:00:04Z"),
]
STEPS_PYTEST = [
    ("Set up job", "success", "2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z"),
    ("Run tests", "failure", "2024-05-01T10:00:01Z", "2024-05-01T10:00:02Z"),
    ("Complete job", "success", "2024-05-01T10:00:03Z", "2024-05-01T10:00:03Z"),
]

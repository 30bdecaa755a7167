"""Hostile names and log lines: redacted and neutralised in the comment, summary and stdout."""

from __future__ import annotations

import re

from tests.github.conftest import STEPS_PYTEST, TOKEN, Runner, workflow_run_event
from tests.github.fake import FakeGitHub

HOSTILE = (
    b"2024-05-01T10:00:01.0000000Z ##[group]Run pytest\n"
    b"2024-05-01T10:00:02.0000000Z ::add-mask::x @octocat <img src=x> ```\n"
    b"2024-05-01T10:00:02.0000000Z token=ghp_abcdefghijklmnopqrstuvwxyz0123456789\n"
    b"2024-05-01T10:00:02.0000000Z FAILED tests/test_x.py::test_y - AssertionError @admins\n"
    b"2024-05-01T10:00:02.1000000Z ##[error]Process completed with exit code 1.\n"
)


def rendered(markdown: str) -> str:
    """What GitHub would interpret: code blocks and code spans are literal, so drop them."""
    markdown = re.sub(r"^```.*?^```", "", markdown, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", markdown)


def test_hostile_text_is_neutralised_everywhere(github: FakeGitHub, action: Runner) -> None:
    github.add_pull(31, head_ref="a\";curl evil|sh")
    github.add_run(900, pulls=(31,), name="CI @everyone <script>")
    github.add_job(900, 9001, "::error::injected @octocat", log=HOSTILE, steps=STEPS_PYTEST)
    result = action("workflow_run", workflow_run_event(900, pulls=(31,)))
    (comment,) = github.ours(31)
    body = comment["body"]
    for text in (rendered(body), rendered(result.summary)):
        assert "@octocat" not in text and "@everyone" not in text and "@admins" not in text
        assert "<script>" not in text and "<img" not in text
    for text in (body, result.summary):
        assert "ghp_abcdefghijklmnopqrstuvwxyz0123456789" not in text
    lines = result.stdout.splitlines()
    fenced = False
    for line in lines:
        if line.startswith("::stop-commands::"):
            token, fenced = line.split("::")[2], True
        elif fenced and line == f"::{token}::":
            fenced = False
        elif not fenced:
            assert not line.startswith("::") or line.startswith(("::warning title=ci-triage::",)), line
    assert "::error::injected" in result.stdout  # printed, but only inside a stop-commands fence
    assert TOKEN not in result.stdout + result.summary + body

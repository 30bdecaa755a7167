"""`/retriage` through issue_comment: who may, what counts as the command, what happens."""

from __future__ import annotations

import pytest

from tests.github.conftest import STEPS_DISK, STEPS_PYTEST, Runner, issue_comment_event, log
from tests.github.fake import FakeGitHub


@pytest.fixture
def failed_pr(github: FakeGitHub) -> FakeGitHub:
    github.add_pull(21)
    github.add_run(800, pulls=(21,), workflow_id=1)
    github.add_job(800, 8001, "build", log=log("disk-full.log"), steps=STEPS_DISK)
    github.add_run(801, pulls=(21,), workflow_id=2, name="Lint")
    github.add_job(801, 8011, "tests", log=log("pytest-failure.log"), steps=STEPS_PYTEST)
    github.add_run(790, pulls=(21,), workflow_id=1)  # an older run of the same workflow: superseded
    github.add_run(802, pulls=(21,), workflow_id=3, conclusion="success")
    github.add_run(803, pulls=(21,), workflow_id=4, event="workflow_run")  # our own triage workflow
    github.permissions.update(alice="write", bob="read", carol="maintain", root="admin")
    return github


def test_retriage_by_a_writer_reacts_and_updates_the_comment(failed_pr: FakeGitHub, action: Runner) -> None:
    result = action("issue_comment", issue_comment_event(21, "Flaky?\n/retriage\nthanks", login="alice"))
    assert result.code == 0
    assert failed_pr.reactions == [(777, "eyes")]
    (comment,) = failed_pr.ours(21)
    assert "<!-- ci-triage:run 800 -->" in comment["body"] and "<!-- ci-triage:run 801 -->" in comment["body"]
    assert "<!-- ci-triage:run 790 -->" not in comment["body"]
    assert "`/retriage` only triages" in comment["body"]
    assert failed_pr.reruns == []
    assert sorted(failed_pr.issue_labels[21]) == ["ci: code", "ci: infrastructure"]


def test_retriage_rerun_asks_for_a_rerun_within_the_budget(failed_pr: FakeGitHub, action: Runner) -> None:
    failed_pr.runs.pop(801)
    action("issue_comment", issue_comment_event(21, "/retriage rerun", login="carol"))
    assert failed_pr.reruns == [800]
    action("issue_comment", issue_comment_event(21, "/retriage rerun", login="root", comment_id=778))
    assert failed_pr.reruns == [800]  # attempt 2 is running: nothing failed to re-run
    assert len(failed_pr.ours(21)) == 1


@pytest.mark.parametrize(
    ("body", "login", "kind"),
    [
        ("/retriage", "bob", "User"),  # read permission
        ("/retriage", "stranger", "User"),  # not a collaborator (404)
        ("> /retriage\nquoted", "alice", "User"),
        ("please /retriage", "alice", "User"),
        ("```\n/retriage\n```", "alice", "User"),
        ("/retriage", "dependabot[bot]", "Bot"),
        ("/retriage", "github-actions[bot]", "Bot"),
    ],
)
def test_others_get_no_effect(failed_pr: FakeGitHub, action: Runner, body: str, login: str, kind: str) -> None:
    result = action("issue_comment", issue_comment_event(21, body, login=login, user_type=kind))
    assert result.code == 0
    assert failed_pr.comments == {} and failed_pr.reactions == [] and failed_pr.reruns == []


def test_edits_and_plain_issues_are_ignored(failed_pr: FakeGitHub, action: Runner) -> None:
    action("issue_comment", issue_comment_event(21, "/retriage", login="alice", action="edited"))
    action("issue_comment", issue_comment_event(21, "/retriage", login="alice", on_pull=False))
    assert failed_pr.comments == {} and failed_pr.reactions == []


def test_retriage_without_failed_runs_says_so(github: FakeGitHub, action: Runner) -> None:
    github.add_pull(22)
    github.permissions["alice"] = "admin"
    result = action("issue_comment", issue_comment_event(22, "/retriage", login="alice"))
    assert github.reactions == [(777, "eyes")]
    assert "no failed run at the head commit" in result.summary
    assert github.comments == {}

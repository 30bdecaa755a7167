"""End to end: the Action's entrypoint, run as the runner runs it, against the stateful fake.

Every test asserts on the fake's final state (comments, labels, reactions, re-runs), the job
summary and the step outputs, never on which calls were made.
"""

from __future__ import annotations

import re

from tests.github.conftest import STEPS_DISK, STEPS_PYTEST, Runner, log, workflow_run_event
from tests.github.fake import REPO, FakeGitHub

NOT_ACQUIRED = "The job was not acquired by Runner of type hosted even after multiple attempts"


def infra_run(github: FakeGitHub, run_id: int = 100, pull: int = 7, **kw: object) -> None:
    github.add_pull(pull)
    github.add_run(run_id, pulls=(pull,), **kw)  # type: ignore[arg-type]
    github.add_job(run_id, run_id * 10 + 1, "build", log=log("disk-full.log"), steps=STEPS_DISK)


def test_infra_failure_is_commented_labelled_and_rerun_once(github: FakeGitHub, action: Runner) -> None:
    infra_run(github)
    result = action("workflow_run", workflow_run_event(100, pulls=(7,)))
    assert result.code == 0, result.stdout
    (comment,) = github.ours(7)
    body = comment["body"]
    assert body.startswith("<!-- ci-triage:v1 -->")
    assert re.search(r"\| build \| infrastructure \| `disk_full` \| 9\d% \|", body)
    assert "**Re-run:** Re-running" in body and "(re-run 1 of at most 1)" in body
    # the evidence (log line 8) is the 4th line of step 2, which GitHub numbers from its Run header
    assert f"https://github.com/{REPO}/actions/runs/100/job/1001#step:2:4" in body
    assert github.reruns == [100]
    assert github.issue_labels[7] == ["ci: infrastructure"]
    assert github.labels["ci: infrastructure"]["color"] == "d93f0b"
    assert result.outputs == {
        "verdict": "infrastructure", "categories": "disk_full", "reruns": "1",
        "comment-url": f"https://github.com/{REPO}/pull/7#issuecomment-{comment['id']}",
    }
    assert "## CI triage" in result.summary and "| build | infrastructure |" in result.summary


def test_rerun_outcome_updates_the_same_section(github: FakeGitHub, action: Runner) -> None:
    infra_run(github)
    action("workflow_run", workflow_run_event(100, pulls=(7,)))
    # GitHub ran attempt 2 (the fake moved the run to queued); it passes.
    github.runs[100].update(status="completed", conclusion="success")
    result = action("workflow_run", workflow_run_event(100, attempt=2, conclusion="success", pulls=(7,)))
    assert result.code == 0
    (comment,) = github.ours(7)
    assert "Passed on attempt 2: infrastructure confirmed." in comment["body"]
    assert comment["body"].count("<!-- ci-triage:run 100 -->") == 1
    assert github.reruns == [100]
    assert github.issue_labels[7] == []  # nothing failing any more


def test_failing_again_the_same_way_is_not_rerun_again(github: FakeGitHub, action: Runner) -> None:
    infra_run(github)
    action("workflow_run", workflow_run_event(100, pulls=(7,)))
    github.runs[100].update(status="completed", conclusion="failure")
    result = action("workflow_run", workflow_run_event(100, attempt=2, pulls=(7,)))
    (comment,) = github.ours(7)
    assert "Failed again the same way on attempt 2 (disk_full)" in comment["body"]
    assert github.reruns == [100]
    assert result.outputs["reruns"] == "0"


def test_code_failure_is_labelled_and_not_rerun(github: FakeGitHub, action: Runner) -> None:
    github.add_pull(8)
    github.add_run(200, pulls=(8,))
    github.add_job(200, 2001, "tests", log=log("pytest-failure.log"), steps=STEPS_PYTEST)
    result = action("workflow_run", workflow_run_event(200, pulls=(8,)))
    (comment,) = github.ours(8)
    assert "looks like a code failure" in comment["body"]
    assert github.reruns == []
    assert github.issue_labels[8] == ["ci: code"]
    assert result.outputs["verdict"] == "code"


def test_fork_pull_request_is_found_by_head_repository_branch_and_sha(github: FakeGitHub, action: Runner) -> None:
    github.add_pull(9, head_repo="forker/octo-repo", head_ref="patch-1")
    github.add_pull(10, head_repo="forker/octo-repo", head_ref="patch-1", head_sha="c" * 40)  # stale head
    github.add_run(300, head_repo="forker/octo-repo", head_branch="patch-1")
    github.add_job(300, 3001, "tests", log=log("pytest-failure.log"), steps=STEPS_PYTEST)
    event = workflow_run_event(300, head_repo="forker/octo-repo", head_branch="patch-1")
    assert event["workflow_run"]["pull_requests"] == []
    action("workflow_run", event)
    assert len(github.ours(9)) == 1
    assert github.ours(10) == []


def test_job_that_never_got_a_runner_is_classified_from_annotations(github: FakeGitHub, action: Runner) -> None:
    github.add_pull(11)
    github.add_run(400, pulls=(11,))
    github.add_job(400, 4001, "build", conclusion="cancelled", log=None, steps=[], runner=None,
                   annotations=[("failure", NOT_ACQUIRED)])
    result = action("workflow_run", workflow_run_event(400, pulls=(11,)))
    (comment,) = github.ours(11)
    assert "never got a runner" in comment["body"]
    assert "| build | infrastructure | `runner_lost` |" in comment["body"]
    assert github.reruns == [400]
    assert result.outputs["categories"] == "runner_lost"
    assert not any("/actions/jobs/4001/logs" in path for _, path in github.requests)


def test_labels_follow_the_latest_head(github: FakeGitHub, action: Runner) -> None:
    github.add_pull(12, head_sha="d" * 40)
    github.add_run(500, pulls=(12,), head_sha="d" * 40)
    github.add_job(500, 5001, "tests", log=log("pytest-failure.log"), steps=STEPS_PYTEST)
    action("workflow_run", workflow_run_event(500, pulls=(12,), head_sha="d" * 40))
    assert github.issue_labels[12] == ["ci: code"]
    # A new push; its run fails on the infrastructure: the code label goes, the infra label comes.
    github.pulls[12]["head"]["sha"] = "f" * 40
    github.add_run(501, pulls=(12,), head_sha="f" * 40)
    github.add_job(501, 5011, "build", log=log("disk-full.log"), steps=STEPS_DISK)
    action("workflow_run", workflow_run_event(501, pulls=(12,), head_sha="f" * 40))
    assert github.issue_labels[12] == ["ci: infrastructure"]
    (comment,) = github.ours(12)
    assert "<!-- ci-triage:run 500 -->" not in comment["body"]
    # A late event for the old commit changes nothing on the PR.
    result = action("workflow_run", workflow_run_event(500, pulls=(12,), head_sha="d" * 40))
    assert "has moved on" in result.summary
    assert "<!-- ci-triage:run 500 -->" not in github.ours(12)[0]["body"]
    assert github.issue_labels[12] == ["ci: infrastructure"]


def test_a_huge_log_is_capped_keeping_the_failing_step(github: FakeGitHub, action: Runner) -> None:
    github.add_pull(15)
    github.add_run(650, pulls=(15,))
    noise = b"".join(b"2024-05-01T10:00:03.5000000Z diagnostics %06d\n" % n for n in range(20000))
    data = log("disk-full.log").replace(b"2024-05-01T10:00:04.0000000Z Post job cleanup.\n", noise)
    github.add_job(650, 6501, "build", log=data, steps=STEPS_DISK)
    action("workflow_run", workflow_run_event(650, pulls=(15,)), CI_TRIAGE_LOG_MAX_BYTES="65536")
    body = github.ours(15)[0]["body"]
    assert "| build | infrastructure | `disk_full` |" in body
    assert "skipped (the start, the failing step and the end were read)" in body
    assert "[line 8](" in body  # the evidence keeps its line number in the original log


def test_a_marker_pasted_by_someone_else_is_never_edited(github: FakeGitHub, action: Runner) -> None:
    infra_run(github)
    theirs = github.add_comment(7, "<!-- ci-triage:v1 --> copied", login="mallory")
    action("workflow_run", workflow_run_event(100, pulls=(7,)))
    assert github.comments[theirs]["body"] == "<!-- ci-triage:v1 --> copied"
    assert len(github.ours(7)) == 1


def test_huge_runs_stay_under_the_comment_limit(github: FakeGitHub, action: Runner) -> None:
    github.add_pull(13)
    github.add_run(600, pulls=(13,))
    line = b"2024-05-01T10:00:02.0000000Z Error: storing blob to file \"/var/tmp/x\": write /var/tmp/x" + b"y" * 280
    extra = line[29:] + b"\n2024-05-01T10:00:02.0000000Z Error: storing blob"
    big = log("disk-full.log").replace(b"Error: storing blob", extra)
    for n in range(30):
        github.add_job(600, 60000 + n, f"build ({n}) " + "w" * 100, log=big, steps=STEPS_DISK)
    action("workflow_run", workflow_run_event(600, pulls=(13,)))
    (comment,) = github.ours(13)
    assert 0 < len(comment["body"]) <= 65536
    assert "<!-- ci-triage:run 600 -->" in comment["body"]


def test_dry_run_changes_nothing_but_reports(github: FakeGitHub, action: Runner) -> None:
    infra_run(github)
    result = action("workflow_run", workflow_run_event(100, pulls=(7,)), **{"INPUT_DRY-RUN": "true"})
    assert github.ours(7) == [] and github.reruns == [] and github.issue_labels[7] == []
    assert "Dry run" in result.summary
    assert result.outputs["verdict"] == "infrastructure"


def test_a_run_without_pull_request_is_only_summarised(github: FakeGitHub, action: Runner) -> None:
    github.add_run(700, event="push")
    github.add_job(700, 7001, "build", log=log("disk-full.log"), steps=STEPS_DISK)
    result = action("workflow_run", workflow_run_event(700))
    assert github.comments == {} and github.reruns == []
    assert "No open pull request" in result.summary
    assert result.outputs["verdict"] == "infrastructure"


def test_rerun_never_and_budget_inputs(github: FakeGitHub, action: Runner) -> None:
    infra_run(github)
    action("workflow_run", workflow_run_event(100, pulls=(7,)), INPUT_RERUN="never")
    assert github.reruns == []
    assert "automatic re-runs are disabled" in github.ours(7)[0]["body"]
    infra_run(github, run_id=101, pull=14, attempt=2)
    action("workflow_run", workflow_run_event(101, attempt=2, pulls=(14,)))
    assert github.reruns == []
    assert "re-run budget is used (1 of 1)" in github.ours(14)[0]["body"]


def test_incomplete_or_passing_runs_are_left_alone(github: FakeGitHub, action: Runner) -> None:
    infra_run(github, status="in_progress")
    result = action("workflow_run", workflow_run_event(100, pulls=(7,)))
    assert github.comments == {} and "not completed" in result.summary
    github.runs[100].update(status="completed", conclusion="success")
    action("workflow_run", workflow_run_event(100, conclusion="success", pulls=(7,)))
    assert github.comments == {}
    github.runs[100].update(conclusion="action_required")
    result = action("workflow_run", workflow_run_event(100, pulls=(7,)))
    assert github.comments == {} and "nothing to triage" in result.summary


def test_bad_settings_exit_2_with_an_annotation(github: FakeGitHub, action: Runner) -> None:
    infra_run(github)
    result = action("workflow_run", workflow_run_event(100), **{"INPUT_MAX-RERUNS": "many", "INPUT_LABELS": "maybe"})
    assert result.code == 2
    assert "::error title=ci-triage::configuration error: INPUT_LABELS: expected true or false" in result.stdout
    result = action("workflow_run", workflow_run_event(100), **{"INPUT_MAX-RERUNS": "many"})
    assert result.code == 2 and "INPUT_MAX-RERUNS" in result.stdout
    result = action("workflow_run", workflow_run_event(100), **{"INPUT_GITHUB-TOKEN": ""})
    assert result.code == 2 and "INPUT_GITHUB-TOKEN" in result.stdout
    env = action.env("workflow_run", workflow_run_event(100))
    env["GITHUB_EVENT_PATH"] = str(action.tmp / "missing.json")
    assert action.run_env(env).code == 2
    assert github.comments == {}


def test_other_events_do_nothing(github: FakeGitHub, action: Runner) -> None:
    result = action("push", {"ref": "refs/heads/main"})
    assert result.code == 0 and "not push" in result.summary
    assert result.outputs["verdict"] == "none"
    event = workflow_run_event(100)
    event["action"] = "requested"
    result = action("workflow_run", event)
    assert result.code == 0 and github.comments == {}


def test_repository_config_problems_fall_back_to_the_builtin_rules(github: FakeGitHub, action: Runner) -> None:
    infra_run(github)
    github.files["ci/triage.toml"] = "[[rules]]\nid = 'nope'\n"
    result = action("workflow_run", workflow_run_event(100, pulls=(7,)), INPUT_CONFIG="ci/triage.toml")
    assert result.code == 0
    assert "repository config is invalid" in result.summary
    assert len(github.ours(7)) == 1  # INF101 is built in: still triaged
    result = action("workflow_run", workflow_run_event(100, pulls=(7,)), INPUT_CONFIG="absent.toml")
    assert "does not exist" in result.summary

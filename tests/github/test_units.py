"""The pieces of the GitHub side that need no server: log capping, comment merging, output."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from bot.core.comment import parse_state
from bot.core.engine import chunks
from bot.errors import ConfigError
from bot.forges.github import Job, LogKeeper, Run, Step, merge_bodies
from bot.github_action import Console, Report, Settings, metadata_text, write_outputs
from tests.github.conftest import parse_outputs


def stamped(n: int, text: str, second: int = 0) -> bytes:
    return f"2024-05-01T10:00:{second:02d}.0000000Z {text} {n}\n".encode()


def test_log_keeper_keeps_head_failing_step_and_tail_with_original_line_numbers() -> None:
    keeper = LogKeeper(max_bytes=16_000, window=("2024-05-01T10:00:30", "2024-05-01T10:00:31"))
    def text(n: int) -> str:
        return "setup" if n < 2000 else "##[group]Run make" if n == 2000 else "step"

    lines = [stamped(n, text(n), 30 if 2000 <= n < 4000 else 10) for n in range(1, 8000)]
    for i in range(0, len(lines), 7):
        keeper.feed(b"".join(lines[i : i + 7]))
    log = keeper.result()
    data = b"".join(log.chunks)
    out = data.split(b"\n")
    assert out[0] == lines[0].rstrip(b"\n")  # the head
    assert out[1999] == lines[1999].rstrip(b"\n")  # the failing step starts on its own line number
    assert out[7998] == lines[7998].rstrip(b"\n")  # the tail
    assert b"skipped here to stay within the download cap" in data
    assert len(out) - 1 == 7999
    assert log.cut_bytes > 0 and "skipped" in log.note and log.total_bytes == sum(map(len, lines))
    assert sum(len(x) for x in out if x) < 16_000 + 2_000
    assert list(chunks(log.chunks))  # the engine accepts it


def test_log_keeper_small_logs_pass_through_and_long_lines_are_cut() -> None:
    keeper = LogKeeper(max_bytes=1 << 20)
    keeper.feed(b"a\nb")
    keeper.feed(b"c" * 70_000)
    log = keeper.result(incomplete=True)
    assert b"".join(log.chunks).startswith(b"a\nbccc")
    assert log.cut_bytes > 0 and "broke off" in log.note


def test_merge_keeps_sections_written_meanwhile() -> None:
    def body(*runs: int, marker: str = "x") -> str:
        from bot.core.comment import CommentState, RunState, render_body

        return render_body(CommentState({r: RunState(r) for r in runs}, {r: f"run {r} {marker}" for r in runs}))

    base = body(1)
    mine = body(1, 2)
    theirs = body(1, 3)
    merged = parse_state(merge_bodies(base, mine, theirs))
    assert sorted(merged.sections) == [1, 2, 3]
    assert merge_bodies(base, mine, base) == mine
    assert merge_bodies(None, mine, None) == mine


def test_console_fences_untrusted_text_and_escapes_annotations() -> None:
    out = io.StringIO()
    console = Console(out, ["sekrit-token-value"])
    console.untrusted(["::error::pwned sekrit-token-value", "\x1b[31mred"])
    console.annotate("warning", "50% done\nnext")
    text = out.getvalue().splitlines()
    token = text[0].removeprefix("::stop-commands::")
    assert text[1] == "::error::pwned [REDACTED]" and text[3] == f"::{token}::"
    assert "\x1b" not in text[2]
    assert text[4] == "::warning title=ci-triage::50%25 done%0Anext"


def test_outputs_use_delimiters() -> None:
    out = io.StringIO()
    report = Report(comment_url="u\nx", reruns=2)
    path = __import__("pathlib").Path(__import__("tempfile").mkdtemp()) / "o"
    write_outputs(path, report)
    write_outputs(None, report)
    assert parse_outputs(path.read_text()) == {"verdict": "none", "categories": "", "comment-url": "u x", "reruns": "2"}
    assert out.getvalue() == ""


def test_settings_from_the_runner_environment() -> None:
    env = {"INPUT_GITHUB-TOKEN": "ghs_secretvalue", "GITHUB_REPOSITORY": "o/r", "GITHUB_EVENT_NAME": "workflow_run",
           "GITHUB_EVENT_PATH": "/e.json", "INPUT_MAX-RERUNS": "2", "INPUT_DRY-RUN": "yes", "INPUT_LABELS": ""}
    s = Settings.from_env(env)
    assert s.max_reruns == 2 and s.dry_run and s.labels and s.policy.max_reruns == 2
    assert "ghs_secretvalue" not in repr(s)
    with pytest.raises(ConfigError, match="INPUT_RERUN"):
        Settings.from_env({**env, "INPUT_RERUN": "always"})
    with pytest.raises(ConfigError, match="GITHUB_REPOSITORY"):
        Settings.from_env({**env, "GITHUB_REPOSITORY": "not a repo"})


def test_metadata_text_and_job_facts() -> None:
    job = Job(1, "build", conclusion="cancelled", labels=("ubuntu-latest",))
    assert job.never_ran and job.failed_step is None
    text = metadata_text(job, [])
    assert "none was assigned" in text and "ubuntu-latest" in text
    step = Step(2, "Build", "failure", datetime(2024, 5, 1, tzinfo=UTC))
    assert Job(2, "x", steps=(Step(1, "Set up"), step), runner_name="r").failed_step == step
    run = Run(5, 2, "CI", 9, "u", "completed", "failure", "s", "b", "o/r", "pull_request", 1)
    assert run.ref().title == "CI #9, attempt 2"

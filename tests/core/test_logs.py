"""Normalisation of each CI system's decorations, and failing-step detection."""

from __future__ import annotations

import pytest

from bot.core.logs import LineInfo, Mark, StepTracker, decode, normalise, strip_ansi


@pytest.mark.parametrize(
    ("raw", "text", "mark", "step", "system"),
    [
        (
            "\ufeff2024-01-01T00:00:00.1234567Z Current runner version: '2.3'",
            "Current runner version: '2.3'",
            Mark.NONE,
            None,
            "github_actions",
        ),
        (
            "2024-01-01T00:00:05.0000000Z ##[group]Run pytest -q",
            "Run pytest -q",
            Mark.STEP,
            "pytest -q",
            "github_actions",
        ),
        (
            "2024-01-01T00:00:05.0000000Z ##[group]Operating System",
            "Operating System",
            Mark.GROUP,
            "Operating System",
            "github_actions",
        ),
        ("2024-01-01T00:00:05.0000000Z ##[endgroup]", "", Mark.END, None, "github_actions"),
        (
            "2024-01-01T00:00:09.0000000Z ##[error]Process completed with exit code 1.",
            "Process completed with exit code 1.",
            Mark.ERROR,
            None,
            "github_actions",
        ),
        (
            "2024-01-01T00:00:09.0000000Z ##[warning]Node 16 is deprecated",
            "Node 16 is deprecated",
            Mark.NONE,
            None,
            "github_actions",
        ),
        ("::error file=a.py,line=3::boom here", "boom here", Mark.ERROR, None, None),
        ("::group::Install deps", "Install deps", Mark.GROUP, "Install deps", None),
        ("::endgroup::", "", Mark.END, None, None),
        ("::notice::hello", "hello", Mark.NONE, None, None),
        (
            '\x1b[0Ksection_start:1700000000:step_script\r\x1b[0K\x1b[32;1mExecuting "step_script"\x1b[0;m',
            'Executing "step_script"',
            Mark.STEP,
            "step_script",
            "gitlab_ci",
        ),
        (
            "\x1b[0Ksection_end:1700000000:prepare_script\r\x1b[0K\x1b[0Ksection_start:1700000001:get_sources"
            "[collapsed=true]\r\x1b[0KGetting source",
            "Getting source",
            Mark.STEP,
            "get_sources",
            "gitlab_ci",
        ),
        ("\x1b[0Ksection_end:1700000000:step_script\r\x1b[0K", "", Mark.END, None, "gitlab_ci"),
        ("Downloading 10%\rDownloading 50%\rDownloading 100%", "Downloading 100%", Mark.NONE, None, None),
        (
            "travis_fold:start:install\r\x1b[0K$ pip install -r req.txt",
            "$ pip install -r req.txt",
            Mark.STEP,
            "install",
            "travis",
        ),
        ("[Pipeline] { (Build)", "[Pipeline] { (Build)", Mark.STEP, "Build", "jenkins"),
        ("[Pipeline] sh", "[Pipeline] sh", Mark.NONE, None, "jenkins"),
        ("[2024-01-01T10:00:00.000Z] + make test", "+ make test", Mark.NONE, None, None),
        ("10:00:01 BUILD FAILURE", "BUILD FAILURE", Mark.NONE, None, None),
        (
            "_bk;t=1700000000000\x07--- :pytest: Run tests",
            "--- :pytest: Run tests",
            Mark.STEP,
            ":pytest: Run tests",
            "buildkite",
        ),
        (
            "2024-01-01T00:00:00.0000000Z ##[section]Starting: Build solution",
            "Starting: Build solution",
            Mark.STEP,
            "Build solution",
            "azure_pipelines",
        ),
        (
            "2024-01-01T00:00:00.0000000Z ##[section]Finishing: Build solution",
            "Finishing: Build solution",
            Mark.END,
            None,
            "azure_pipelines",
        ),
        (
            "2024-01-01T00:00:00.0000000Z ##[section]Async Command Start",
            "Async Command Start",
            Mark.NONE,
            None,
            "github_actions",
        ),
        ("--- not buildkite", "--- not buildkite", Mark.NONE, None, None),
    ],
)
def test_normalise(raw: str, text: str, mark: Mark, step: str | None, system: str | None) -> None:
    assert normalise(raw) == LineInfo(text, mark, step, system)


def test_ansi_and_osc_are_stripped() -> None:
    assert strip_ansi("\x1b[31;1mred\x1b[0m \x1b]8;;http://x\x07link\x1b]8;;\x07") == "red link"
    assert strip_ansi("plain") == "plain"


def test_decode_never_fails() -> None:
    assert decode(b"ok \xff\xfe bad \x00nul") == "ok \ufffd\ufffd bad nul"


def test_long_line_is_cut() -> None:
    assert len(normalise("x" * 100_000).text) == 4000


def _track(lines: list[str]) -> StepTracker:
    tracker = StepTracker()
    for n, line in enumerate(lines, 1):
        tracker.feed(normalise(line), n)
    return tracker


def test_failing_step_is_the_first_to_fail_not_the_diagnostics_after_it() -> None:
    ts = "2024-01-01T00:00:00.0000000Z "
    tracker = _track(
        [
            ts + "##[group]Run make build",
            ts + "ok",
            ts + "##[group]Run pytest",
            ts + "FAILED tests/test_a.py::test_x",
            ts + "##[error]Process completed with exit code 1.",
            ts + "##[group]Run df -h",
            ts + "##[error]Process completed with exit code 2.",
        ]
    )
    assert tracker.failed_step == "pytest"
    assert tracker.failed_line == 5
    assert tracker.system == "github_actions"


def test_gitlab_post_sections_never_fail_the_job() -> None:
    tracker = StepTracker()
    lines = [
        "\x1b[0Ksection_start:1:step_script\r\x1b[0KExecuting step script",
        "npm test",
        "\x1b[0Ksection_end:2:step_script\r\x1b[0K",
        "\x1b[0Ksection_start:3:after_script\r\x1b[0KRunning after script",
        "echo done",
        "\x1b[0Ksection_end:4:after_script\r\x1b[0K",
        "ERROR: Job failed: exit code 1",
    ]
    steps = [tracker.feed(normalise(line), n) for n, line in enumerate(lines, 1)]
    assert steps[4] == "after_script"
    assert steps[6] == "step_script"
    assert tracker.failed_step == "step_script"


def test_travis_names_the_failing_command() -> None:
    tracker = _track(["travis_fold:start:script\r$ make test", 'The command "make test" exited with 2.'])
    assert tracker.failed_step == "make test"


def test_no_failure_marker_means_no_failing_step() -> None:
    assert _track(["just text", "more"]).failed_step is None


def test_package_builder_and_buildkit_prefixes() -> None:
    assert normalise("[   15s] error: Bad exit status from /var/tmp/rpm-tmp.x (%build)").text.startswith("error:")
    assert normalise("BUILDSTDERR: error: line 12: Unknown tag").text == "error: line 12: Unknown tag"
    assert normalise("#12 0.532 npm ERR! code E503").text == "npm ERR! code E503"
    assert normalise("#7 ERROR: failed to solve").text == "ERROR: failed to solve"
    assert normalise("#0 0x4005 in main").text == "#0 0x4005 in main"


def test_retry_marker_is_remembered_until_the_failure() -> None:
    tracker = _track(
        ["x", 'The command "mvn install" failed. Retrying, 2 of 3.', "y", 'The command "mvn test" exited with 1.']
    )
    assert tracker.retry_line == 2
    assert tracker.failed_step == "mvn test"

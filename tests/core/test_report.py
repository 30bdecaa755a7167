"""Rendering: terminal text, the job and run sections, the size budget, rule pages."""

from __future__ import annotations

from bot.core.comment import CommentState, RunState, parse_state, render_body, splice
from bot.core.report import (
    JobReport,
    RunReport,
    render_job_markdown,
    render_rule_markdown,
    render_run_markdown,
    render_text,
)
from bot.rules import load_catalog
from tests.factories import make_triage


def test_text_report_colours_only_on_request_and_escapes_controls() -> None:
    t = make_triage(text="bad \x1b[2J clear")
    plain = render_text(t)
    assert "\x1b" not in plain
    assert "INFRASTRUCTURE (network, confidence 0.95)" in plain
    assert "$ gh run rerun" in plain
    assert "\x1b[33;1m" in render_text(t, color=True)
    unknown = render_text(make_triage(verdict="unknown", category=None))
    assert "No rule matched" in unknown and "last line before failure" in unknown


def test_job_markdown_links_evidence_and_neutralises_names() -> None:
    job = JobReport("@admin /merge", make_triage(text="```\n/approve"), "https://x.test/job/1", "#step:3:{line}")
    md = render_job_markdown(job)
    assert "[line 12](https://x.test/job/1#step:3:12)" in md
    assert "@admin" not in md
    assert "\n/approve" not in md
    assert "infrastructure: not caused by the change" in md


def test_unknown_job_shows_the_tail() -> None:
    md = render_job_markdown(JobReport("build", make_triage(verdict="unknown", category=None), note="log expired"))
    assert "No documented pattern matched" in md
    assert "> log expired" in md


def test_run_section_summary_table_and_status() -> None:
    run = RunReport(
        "CI",
        "https://x.test/run",
        (
            JobReport("a", make_triage()),
            JobReport("b", make_triage(verdict="code", category="test_failure", retry="never")),
            JobReport("c", make_triage(verdict="unknown", category=None), allow_failure=True),
        ),
        status="Not re-run: code.",
        notes=("could not read annotations",),
    )
    md = render_run_markdown(run)
    assert "2 failed jobs: 1 infrastructure, 1 code." in md
    assert "| a | infrastructure | `network` | 95% |" in md
    assert "(allowed to fail)" in md
    assert "**Re-run:** Not re-run: code." in md
    assert "could not read annotations" in md
    assert len(render_run_markdown(run, 0)) < len(md)


def test_comment_stays_under_the_budget_with_many_runs() -> None:
    state = CommentState()
    jobs = tuple(JobReport(f"job {n}", make_triage(text="x" * 280)) for n in range(60))
    for run_id in range(1, 30):
        sections = [render_run_markdown(RunReport(f"run {run_id}", jobs=jobs), d) for d in (3, 2, 1, 0)]
        body, state = splice(state, RunState(run_id, "sha"), sections, head_sha="sha")
        assert len(body) <= 60_000
    assert "<!-- ci-triage:run 29 -->" in body
    assert "older section(s) omitted" in body
    assert parse_state(body).runs[29].sha == "sha"


def test_a_single_oversized_section_is_truncated_not_refused() -> None:
    body = render_body(CommentState({1: RunState(1)}, {1: "y" * 70_000}))
    assert len(body) <= 60_000
    assert "truncated to the size limit" in body


def test_rule_page_renders_every_part() -> None:
    rule = load_catalog().get("INF101")
    assert rule is not None
    page = render_rule_markdown(rule)
    for part in (
        "# INF101 container-storage-full",
        "## What failed",
        "## Why it is infrastructure",
        "podman system reset",
        "**Warning:**",
        "Does not match (near miss):",
        "## References",
    ):
        assert part in page


def test_evidence_links_by_step_line_when_the_forge_wants_it() -> None:
    from bot.core.engine import classify, compile_catalog
    from tests.factories import make_rule

    rule = make_rule(lines=["Could not resolve host"])
    ts = "2024-01-01T00:00:00.0000000Z "
    log = ts + "setup\n" + ts + "##[group]Run make\n" + ts + "make: building\n" + ts + "Could not resolve host: x\n"
    triage = classify(log, compile_catalog([rule]))
    assert triage.findings[0].evidence[0].step_line == 3
    md = render_job_markdown(JobReport("build", triage, "https://x.test/job/1", "#step:4:{step_line}"))
    assert "[line 4](https://x.test/job/1#step:4:3)" in md

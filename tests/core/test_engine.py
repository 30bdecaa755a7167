"""The engine on rules made for the test: matching, location, ranking, verdict, hostile input."""

from __future__ import annotations

import pytest

from bot.core import engine
from bot.core.engine import Scanner, calibrate, chunks, classify, compile_catalog, matching_rules
from bot.core.model import Kind, Verdict
from bot.errors import CatalogError
from tests.factories import make_rule

TS = "2024-01-01T00:00:00.0000000Z "

NET = make_rule(
    id="USR001",
    lines=[r"(?i)could not resolve host: (?P<host>\S+)"],
    title="DNS failed for {host}",
    weight=0.95,
    priority=80,
)
TEST = make_rule(id="USR002", kind="code", lines=[r"^FAILED (?P<test>\S+)"], weight=0.9, title="{test} failed")
SUMMARY = make_rule(id="USR003", kind="code", lines=[r"^=+ \d+ failed"], weight=0.7, priority=30)
OOM = make_rule(
    id="USR004",
    category="oom_killed",
    sequences=[{"patterns": [r"^Killed$", r"exit code 137"], "window": 3}],
    weight=0.9,
)
SCOPED = make_rule(id="USR005", lines=[r"cache miss storm"], scope={"ci": ["gitlab_ci"], "step": "restore_cache"})
TOOLED = make_rule(id="USR006", kind="code", category="lint", lines=[r"^E\d{3} "], scope={"tool": r"^flake8 \d"})
EXCLUDED = make_rule(id="USR007", lines=[r"connection reset"], exclude=[r"expected"])
HYPO = make_rule(
    id="USR008",
    category="disk_full",
    lines=[r"(?i)no space left on device"],
    hypotheses=[
        {
            "text": "runner disk full",
            "confidence": 0.5,
            "for": [r"^/dev/\S+ .* 100% /$"],
            "fixes": [{"text": "clean", "commands": ["df -h"]}],
        },
        {"text": "container storage full", "confidence": 0.5, "against": [r"^/dev/\S+ .* 100% /$"]},
    ],
)
COMPILED = compile_catalog([NET, TEST, SUMMARY, OOM, SCOPED, TOOLED, EXCLUDED, HYPO])


def test_infrastructure_in_the_failing_step() -> None:
    log = "\n".join(
        [
            TS + "##[group]Run pip install -r requirements.txt",
            TS + "curl: (6) Could not resolve host: pypi.org",
            TS + "##[error]Process completed with exit code 6.",
        ]
    )
    t = classify(log, COMPILED)
    assert t.verdict is Verdict.INFRASTRUCTURE
    assert t.category == "network"
    assert t.failed_step == "pip install -r requirements.txt"
    f = t.findings[0]
    assert f.title == "DNS failed for pypi.org"
    assert f.evidence[0].line == 2
    assert f.confidence == pytest.approx(calibrate(0.95))


def test_wrapper_line_alone_is_never_evidence() -> None:
    wrapper = make_rule(id="USR009", kind="code", lines=[r"exit code \d+"])
    t = classify(TS + "##[error]Process completed with exit code 1.\n", compile_catalog([wrapper]))
    assert t.verdict is Verdict.UNKNOWN
    assert t.findings == ()
    assert t.tail[-1].text == "Process completed with exit code 1."


def test_evidence_after_the_failure_counts_less() -> None:
    log = "\n".join(
        [
            TS + "##[group]Run make",
            TS + "##[error]Process completed with exit code 2.",
            TS + "##[group]Run cat logs",
            TS + "curl: (6) Could not resolve host: example.org",
        ]
    )
    t = classify(log, COMPILED)
    assert t.findings[0].confidence == pytest.approx(calibrate(0.95 * 0.45))
    assert t.verdict is Verdict.UNKNOWN


def test_other_step_before_failure_is_discounted() -> None:
    log = "\n".join(
        [
            TS + "##[group]Run setup",
            TS + "curl: (6) Could not resolve host: example.org",
            TS + "##[group]Run tests",
            TS + "##[error]Process completed with exit code 2.",
        ]
    )
    assert classify(log, COMPILED).findings[0].confidence == pytest.approx(calibrate(0.95 * 0.6))


def test_two_independent_failures_are_two_findings_and_rivals_lower_confidence() -> None:
    log = "Could not resolve host: a.example\nFAILED tests/test_x.py::test_y\n"
    t = classify(log, COMPILED)
    assert {f.category for f in t.findings} == {"network", "test_failure"}
    assert t.findings[0].kind is Kind.INFRASTRUCTURE
    assert t.confidence < t.findings[0].confidence


def test_close_rivals_of_other_kind_give_unknown() -> None:
    a = make_rule(id="USR010", lines=["alpha"], weight=0.8)
    b = make_rule(id="USR011", kind="code", lines=["beta"], weight=0.8)
    assert classify("alpha\nbeta\n", compile_catalog([a, b])).verdict is Verdict.UNKNOWN


def test_same_category_findings_merge_evidence() -> None:
    log = "FAILED a::b\n===== 1 failed in 0.1s =====\n"
    t = classify(log, COMPILED)
    assert len(t.findings) == 1
    assert [e.line for e in t.findings[0].evidence] == [1, 2]
    assert t.findings[0].rule == "USR002"


def test_sequence_needs_order_and_window() -> None:
    assert "USR004" in matching_rules("Killed\nwhatever\nError: Process completed with exit code 137.\n", COMPILED)
    assert "USR004" not in matching_rules("Killed\na\nb\nc\nd\nexit code 137\n", COMPILED)
    assert "USR004" not in matching_rules("exit code 137\nKilled\n", COMPILED)
    t = classify("Killed\nError: Process completed with exit code 137.\n", COMPILED)
    assert [e.line for e in t.findings[0].evidence] == [1, 2]


def test_sequence_of_wrappers_only_is_not_evidence() -> None:
    seq = make_rule(id="USR012", sequences=[{"patterns": [r"exit code 1\b", r"exit code 2\b"]}])
    log = "Process completed with exit code 1.\nProcess completed with exit code 2.\n"
    assert matching_rules(log, compile_catalog([seq])) == set()


def test_scope_ci_and_step() -> None:
    gitlab = "\x1b[0Ksection_start:1:restore_cache\r\x1b[0KRestoring\ncache miss storm\n"
    assert "USR005" in matching_rules(gitlab, COMPILED)
    other_step = "\x1b[0Ksection_start:1:step_script\r\x1b[0KRun\ncache miss storm\n"
    assert "USR005" not in matching_rules(other_step, COMPILED)
    assert "USR005" not in matching_rules("cache miss storm\n", COMPILED)


def test_scope_tool_requires_its_banner() -> None:
    assert "USR006" not in matching_rules("E501 line too long\n", COMPILED)
    assert "USR006" in matching_rules("flake8 7.0\nE501 line too long\n", COMPILED)


def test_exclude_vetoes_the_line() -> None:
    assert "USR007" in matching_rules("read: connection reset by peer\n", COMPILED)
    assert "USR007" not in matching_rules("connection reset expected in this test\n", COMPILED)


def test_hypotheses_are_reranked_by_evidence() -> None:
    t = classify("write: no space left on device\n/dev/sda1 100G 100G 0 100% /\n", COMPILED)
    hyps = t.findings[0].hypotheses
    assert hyps[0].text == "runner disk full"
    assert hyps[0].evidence_for[0].line == 2
    assert hyps[1].evidence_against[0].line == 2
    assert hyps[0].confidence == pytest.approx(1.0 / 1.15)
    assert sum(h.confidence for h in hyps) == pytest.approx(1.0)


def test_line_numbers_survive_small_chunks_crlf_and_ansi(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [f"line {n}\r\n" for n in range(1, 500)]
    lines[300] = "\x1b[31mcurl: Could not resolve host: x.example\x1b[0m\r\n"
    data = "".join(lines).encode()
    whole = classify(data, COMPILED)
    pieces = (data[i : i + 7] for i in range(0, len(data), 7))
    small = classify(pieces, COMPILED)
    assert whole.findings[0].evidence[0].line == 301
    assert small.to_dict() == whole.to_dict()
    assert whole.stats.lines == 499


def test_empty_binary_and_unterminated_input() -> None:
    assert classify(b"", COMPILED).verdict is Verdict.UNKNOWN
    assert classify(b"", COMPILED).stats.lines == 0
    binary = bytes(range(256)) * 50
    assert classify(binary, COMPILED).verdict is Verdict.UNKNOWN
    t = classify(b"a\nCould not resolve host: h", COMPILED)
    assert t.stats.lines == 2
    assert t.findings[0].evidence[0].line == 2


def test_huge_single_line_is_cut_and_numbering_continues(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "MAX_LINE_BYTES", 1000)
    data = b"x" * 5000 + b"\nFAILED t::u\n"
    blocks = [data[i : i + 300] for i in range(0, len(data), 300)]
    t = classify(iter(blocks), COMPILED)
    assert t.findings[0].evidence[0].line == 2
    assert t.stats.truncated_lines == 1
    assert b"".join(chunks(iter(blocks)))[:1000] == b"x" * 1000


def test_ten_megabyte_line_without_newline() -> None:
    t = classify(b"y" * (10 << 20), COMPILED)
    assert t.verdict is Verdict.UNKNOWN
    assert t.stats.lines == 1


def test_secrets_in_evidence_are_redacted() -> None:
    log = "Could not resolve host: ghp_" + "a" * 36 + "\n"
    t = classify(log, COMPILED)
    assert "ghp_" not in t.findings[0].evidence[0].text
    assert "ghp_" not in t.findings[0].title


def test_matched_rules_and_scanner_api() -> None:
    scanner = Scanner(COMPILED, path="p.log", ci_system="jenkins")
    for chunk in chunks("FAILED a::b\n"):
        scanner.feed(chunk)
    assert scanner.matched_rules() == {"USR002"}
    t = scanner.finish()
    assert t.path == "p.log"
    assert t.ci_system == "jenkins"


def test_pattern_the_scanner_cannot_compile_is_refused() -> None:
    bad = make_rule(id="USR013", lines=[r"\N{BULLET} item"])
    with pytest.raises(CatalogError, match="cannot be scanned"):
        compile_catalog([bad])


def test_backreferences_are_refused_by_the_schema() -> None:
    with pytest.raises(ValueError, match="backreference"):
        make_rule(id="USR014", lines=[r"(?P<x>a+) (?P=x)"])


@pytest.mark.parametrize(
    ("pattern", "prefilter"),
    [
        (r"(?:^|error: )foo$", "(?:|error: )foo"),
        (r"[^a^]x\^", r"[^\na^]x\^"),
        ("┈+ end", "(?:┈)+ end"),
        ("[^─│]+y", r"[^\n]+y"),
        (r"a [^|]{1,300} b", r"a [^\n|]+ b"),
        (r"expected .{1,200}", "expected ."),
        (r"error: (?P<m>.+)$", "error: ."),
        (r"x \S*", "x "),
    ],
)
def test_prefilter_form_is_a_cheap_superset(pattern: str, prefilter: str) -> None:
    assert engine._prefilter_source(pattern)[0].decode() == prefilter


def test_interior_anchor_and_multibyte_quantifier_still_match_timestamped_lines() -> None:
    rules = [
        make_rule(id="USR020", kind="code", category="lint", lines=[r"(?:^|error: )bad thing$"]),
        make_rule(id="USR021", kind="code", category="lint", lines=[r"^┈{3,} summary"]),
    ]
    log = TS + "bad thing\n" + TS + "┈┈┈┈ summary\n"
    assert matching_rules(log, compile_catalog(rules)) == {"USR020", "USR021"}


def test_calibration_is_monotone_and_bounded() -> None:
    assert calibrate(0) == 0.0
    assert calibrate(1.0) == 1.0
    assert 0.5 < calibrate(0.5) < calibrate(0.8) < calibrate(0.95) < 1.0

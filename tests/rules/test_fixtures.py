"""Realistic job logs written for this project land on their expected verdict and evidence line.

Format (pytorch's, extended): the first line is `#=EXPECT=# <verdict> <category|->`; lines the
top finding may cite start with `#=MATCH=# ` (one or more, since several lines can evidence the
same failure; none for `unknown`); the top finding must cite at least one of them. The markers
are removed before classification; line numbers count the log without the EXPECT line.
`UPDATE_FIXTURES=1` does not exist on purpose: fix the rule, never bless a wrong answer.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.engine import CompiledCatalog, classify

FOLDER = Path(__file__).resolve().parents[1] / "fixtures" / "logs"
FIXTURES = sorted(FOLDER.glob("*.log"))
MATCH = "#=MATCH=# "
KNOWN_GAPS = {
    # A test that both passed and failed in one `go test -count=5` run is flaky; seeing that
    # needs the test name correlated across lines, which line and sequence patterns cannot do.
    "flaky_test--gha-go-test-count-timing-sensitive.log": "flakiness shown only by PASS and FAIL of one test",
}


def load(path: Path) -> tuple[str, str | None, bytes, set[int]]:
    raw = path.read_bytes()
    head, _, body = raw.partition(b"\n")
    fields = head.decode().split()
    assert fields[0] == "#=EXPECT=#", f"{path.name}: first line must be #=EXPECT=# <verdict> <category|->"
    verdict, category = fields[1], (fields[2] if len(fields) > 2 and fields[2] != "-" else None)
    lines = body.split(b"\n")
    match_lines = set()
    for n, line in enumerate(lines, 1):
        if line.startswith(MATCH.encode()):
            match_lines.add(n)
            lines[n - 1] = line[len(MATCH) :]
    return verdict, category, b"\n".join(lines), match_lines


def test_there_are_fixtures() -> None:
    assert len(FIXTURES) >= 1


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(p, marks=pytest.mark.xfail(reason=KNOWN_GAPS[p.name], strict=True)) if p.name in KNOWN_GAPS else p
        for p in FIXTURES
    ],
    ids=lambda p: p.name,
)
def test_fixture(path: Path, compiled: CompiledCatalog) -> None:
    verdict, category, data, match_lines = load(path)
    triage = classify(data, compiled)
    got = (triage.verdict.value, triage.category)
    assert got == (verdict, category), f"{path.name}: expected {verdict}/{category}, got {got}: " + "; ".join(
        f"{f.rule} {f.category} {f.confidence:.2f} L{f.evidence[0].line}" for f in triage.findings[:4]
    )
    if match_lines:
        cited = {e.line for e in triage.findings[0].evidence}
        assert cited & match_lines, f"{path.name}: evidence {sorted(cited)} should include one of {sorted(match_lines)}"

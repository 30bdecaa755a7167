"""Realistic job logs written for this project land on their expected verdict and evidence line.

Format (pytorch's, extended): the first line is `#=EXPECT=# <verdict> <category|->`; the line
the top finding must cite starts with `#=MATCH=# ` (it may be absent for `unknown`). The markers
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


def load(path: Path) -> tuple[str, str | None, bytes, int | None]:
    raw = path.read_bytes()
    head, _, body = raw.partition(b"\n")
    fields = head.decode().split()
    assert fields[0] == "#=EXPECT=#", f"{path.name}: first line must be #=EXPECT=# <verdict> <category|->"
    verdict, category = fields[1], (fields[2] if len(fields) > 2 and fields[2] != "-" else None)
    lines = body.split(b"\n")
    match_line = None
    for n, line in enumerate(lines, 1):
        if line.startswith(MATCH.encode()):
            match_line = n
            lines[n - 1] = line[len(MATCH) :]
    return verdict, category, b"\n".join(lines), match_line


def test_there_are_fixtures() -> None:
    assert len(FIXTURES) >= 1


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_fixture(path: Path, compiled: CompiledCatalog) -> None:
    verdict, category, data, match_line = load(path)
    triage = classify(data, compiled)
    got = (triage.verdict.value, triage.category)
    assert got == (verdict, category), f"{path.name}: expected {verdict}/{category}, got {got}: " + "; ".join(
        f"{f.rule} {f.category} {f.confidence:.2f} L{f.evidence[0].line}" for f in triage.findings[:4]
    )
    if match_line is not None:
        cited = {e.line for e in triage.findings[0].evidence}
        assert match_line in cited, f"{path.name}: evidence {sorted(cited)} should include line {match_line}"

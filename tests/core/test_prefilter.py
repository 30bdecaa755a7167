"""The prefilter is a superset: every line an exact pattern matches, Hyperscan flagged.

Checked for every pattern of the catalog against every line of the fixture logs and of the
rules' own examples. A violation would silently lose a match in big logs, where nobody looks.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from bot.core.engine import _ANSI_BYTES, _STRUCT, CompiledCatalog
from bot.core.logs import decode, normalise
from bot.rules import Catalog

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "logs"


def _flagged(compiled: CompiledCatalog, data: bytes) -> dict[int, set[int]]:
    """Line index -> pattern ids the prefilter reported on that line."""
    starts = [0] + [i + 1 for i, b in enumerate(data) if b == 0x0A]
    out: dict[int, set[int]] = defaultdict(set)

    def on_match(pid: int, start: int, end: int, flags: int, ctx: object) -> None:
        lo, hi = 0, len(starts) - 1
        while lo < hi:  # the line containing the match's last byte
            mid = (lo + hi + 1) // 2
            if starts[mid] <= max(end - 1, 0):
                lo = mid
            else:
                hi = mid - 1
        out[lo].add(pid)

    compiled.database.scan(data, match_event_handler=on_match, scratch=compiled.database.scratch.clone())
    return out


def test_every_exact_match_was_flagged(catalog: Catalog, compiled: CompiledCatalog) -> None:
    logs = [p.read_bytes().replace(b"#=MATCH=# ", b"") for p in sorted(FIXTURES.glob("*.log"))]
    logs += [ex.log.encode() for rule in catalog.rules for ex in rule.examples]
    # Structural markers (a Buildkite `--- ` header) are anchored to the raw line on purpose.
    rule_patterns = [(pid, p) for pid, p in enumerate(compiled.patterns) if any(c[0] != _STRUCT for c in p.consumers)]
    checked = 0
    for data in logs:
        data = _ANSI_BYTES.sub(b"", data)
        flagged = _flagged(compiled, data)
        for n, raw in enumerate(data.split(b"\n")):
            text = normalise(decode(raw)).text
            if not text:
                continue
            for pid, pattern in rule_patterns:
                if pattern.regex.search(text):
                    checked += 1
                    assert pid in flagged.get(n, set()), f"prefilter missed {pattern.source!r} on {text!r}"
    assert checked > 1000

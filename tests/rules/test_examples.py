"""Every example in every rule behaves as documented: matches match, near misses do not."""

from __future__ import annotations

import pytest

from bot.core.engine import CompiledCatalog, matching_rules
from bot.rules import load_catalog
from bot.rules.schema import Rule

RULES = load_catalog().rules


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_examples_behave_as_documented(rule: Rule, compiled: CompiledCatalog) -> None:
    for example in rule.examples:
        hit = rule.id in matching_rules(example.log, compiled)
        assert hit is example.matches, (
            f"{rule.id} example should {'match' if example.matches else 'not match'}:\n{example.log}"
        )

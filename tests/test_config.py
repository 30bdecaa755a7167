"""Repository configuration: additions, overrides, and errors that name file, line and key."""

from __future__ import annotations

import pytest

from bot.config import key_line, load_repo_catalog, parse_repo_config
from bot.core.engine import classify
from bot.core.model import Verdict
from bot.errors import ConfigError
from bot.rules import load_catalog

USER_RULE = """
[[rules]]
id = "USR001"
name = "flaky-license-server"
kind = "infrastructure"
category = "external_service"
title = "The license server was down"
weight = 0.9
retry = "safe"

[rules.match]
lines = ['license server .* unavailable']

[rules.docs]
what = "The build could not check out a license."
why = "The license server is outside the repository."

[[rules.hypotheses]]
text = "The license server is down"
confidence = 1.0
[[rules.hypotheses.fixes]]
text = "Re-run later"

[[rules.examples]]
log = "license server lic.example unavailable"
[[rules.examples]]
matches = false
log = "license ok"
"""


def test_repository_rule_is_added_and_used() -> None:
    catalog = load_repo_catalog(load_catalog(), USER_RULE, ".ci-triage.toml")
    t = classify("error: license server lic.example unavailable\n", catalog)
    assert t.verdict is Verdict.INFRASTRUCTURE
    assert t.findings[0].rule == "USR001"


def test_override_disables_and_relabels() -> None:
    base = load_catalog()
    disabled = load_repo_catalog(base, "[overrides.INF101]\ndisable = true\n", "c.toml")
    assert disabled.get("INF101") is None
    relabelled = load_repo_catalog(
        base, '[overrides.INF101]\nkind = "code"\ncategory = "packaging"\nweight = 0.5\n', "c.toml"
    )
    rule = relabelled.get("INF101")
    assert rule is not None and rule.kind == "code" and rule.weight == 0.5


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[overrides.INF101]\nkind = 'code'\n", "c.toml:1: overrides.INF101: kind 'code' contradicts category"),
        ("[overrides.NOPE01]\ndisable = true\n", "c.toml:1: overrides.NOPE01: no built-in rule has this id"),
        ("[overrides.INF101]\nweight = 2\n", "c.toml:2: overrides.INF101.weight: Input should be less than or equal"),
        ("oops = [\n", "c.toml: not valid TOML"),
        (
            USER_RULE.replace('category = "external_service"', 'category = "moon_phase"'),
            "c.toml:6: rules.0.category: category 'moon_phase' is not in the taxonomy",
        ),
        (USER_RULE.replace('id = "USR001"', 'id = "INF101"'), "INF101 is a built-in id"),
        (
            USER_RULE.replace("lines = ['license server .* unavailable']", "lines = ['(unclosed']"),
            "c.toml:12: rules.0.match.lines: Value error, invalid regular expression",
        ),
    ],
)
def test_errors_name_file_line_and_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_repo_catalog(load_catalog(), text, "c.toml")
    assert message in str(info.value)


def test_key_line_walks_tables_and_arrays() -> None:
    text = "a = 1\n[[rules]]\nid = 'x'\n[[rules]]\nid = 'y'\n[rules.match]\nlines = []\n"
    assert key_line(text, ["rules", 1, "id"]) == 5
    assert key_line(text, ["rules", 1, "match", "lines"]) == 7
    assert key_line(text, ["missing"]) is None
    assert parse_repo_config("", "x").rules == ()


def test_the_documented_example_is_a_valid_configuration() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "configuration.md").read_text()
    example = doc.split("```toml\n", 1)[1].split("```", 1)[0]
    catalog = load_repo_catalog(load_catalog(), example, "docs/configuration.md")
    assert catalog.get("COD301") is None
    assert catalog.get("USR001") is not None
    t = classify("error: license server lic.example.com unavailable\n", catalog)
    assert t.findings[0].rule == "USR001"

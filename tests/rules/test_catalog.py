"""The catalog loads, refuses defects with a clear message, and agrees with the shared taxonomy."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from bot.errors import CatalogError
from bot.rules import Catalog, load_taxonomy, parse_rule

INF101 = Path(__file__).resolve().parents[2] / "bot" / "rules" / "infra" / "INF101-container-storage-full.toml"
SHARED_TAXONOMY = Path(__file__).resolve().parents[3] / "shared" / "taxonomy.toml"


def test_taxonomy_copy_matches_the_shared_one() -> None:
    ours = load_taxonomy()
    assert len(ours.categories) == 27
    if not SHARED_TAXONOMY.is_file():
        pytest.skip("../shared is not beside this checkout")
    shared = tomllib.loads(SHARED_TAXONOMY.read_text())["categories"]
    assert {k: v["kind"] for k, v in shared.items()} == {k: v[0] for k, v in ours.categories.items()}


def test_rules_are_consistent(catalog: Catalog) -> None:
    ids = [r.id for r in catalog.rules]
    assert len(ids) == len(set(ids))
    for rule in catalog.rules:
        assert catalog.taxonomy.kind(rule.category) == rule.kind
        assert rule.id.startswith("INF" if rule.kind == "infrastructure" else "COD")
    assert catalog.get("NOPE") is None


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('category = "disk_full"', 'category = "moon"', "category 'moon' is not in the taxonomy"),
        ('kind = "infrastructure"', 'kind = "code"', "a code rule cannot be retry-safe"),
        ('retry = "after-cleanup"', 'retry = "after-cleanup"\nretry_count = 3', "retry_count: Extra inputs"),
        ("weight = 0.95", "weight = 1.5", "weight: Input should be less than or equal to 0.99"),
        ("matches = false", "matches = true", "at least one near miss"),
        (
            'title = "Container storage ran out of space while writing {path}"',
            'title = "Full {nothing}"',
            "no pattern has that named group",
        ),
        ('id = "INF101"', 'id = "X1"', "id: String should match pattern"),
        ("[match]", "[match]\nlines2 = []", "match.lines2: Extra inputs"),
        ("[match]\nlines = [", "[match]\nlines = ['(?:a|\\n)', ", "must match within one line"),
        ("[match]\nlines = [", "[match]\nlines = ['(a+)+$', ", "catastrophic backtracking"),
        ("[match]\nlines = [", "[match]\nlines = ['(unclosed', ", "invalid regular expression"),
        ("[match]\nlines = [", "[match]\nexclude = [", "needs at least one of match.lines or match.sequences"),
        ('id = "INF101"', 'id = "INF101"\n[', "not valid TOML"),
    ],
)
def test_defects_are_refused_with_the_file_named(old: str, new: str, message: str) -> None:
    text = INF101.read_text()
    assert old in text
    with pytest.raises(CatalogError) as info:
        parse_rule(text.replace(old, new), "x/INF101.toml", load_taxonomy())
    assert message in str(info.value)
    assert str(info.value).startswith("x/INF101.toml")


def test_kind_must_agree_with_category() -> None:
    text = (
        INF101.read_text()
        .replace('kind = "infrastructure"', 'kind = "code"')
        .replace('retry = "after-cleanup"', 'retry = "never"')
    )
    with pytest.raises(CatalogError, match="contradicts category 'disk_full'"):
        parse_rule(text, "x.toml", load_taxonomy())


def test_a_rule_without_fixes_or_positive_examples_is_refused() -> None:
    text = INF101.read_text()
    no_fix = "\n".join(line for line in text.splitlines() if "[[hypotheses.fixes]]" not in line)
    with pytest.raises(CatalogError):
        parse_rule(no_fix, "x.toml", load_taxonomy())


def test_catalog_size_and_every_category_covered(catalog: Catalog) -> None:
    assert len(catalog.rules) >= 150
    covered = {r.category for r in catalog.rules}
    assert covered == set(catalog.taxonomy.categories), set(catalog.taxonomy.categories) - covered


def test_every_rule_explains_itself(catalog: Catalog) -> None:
    for rule in catalog.rules:
        total = sum(h.confidence for h in rule.hypotheses)
        assert 0.5 <= total <= 1.3, f"{rule.id}: hypothesis priors sum to {total:.2f}"
        assert any(f.commands for h in rule.hypotheses for f in h.fixes), f"{rule.id}: no fix has a command"


def test_generated_rule_pages_are_current() -> None:
    from bot.cli import main

    docs = Path(__file__).resolve().parents[2] / "docs" / "rules"
    assert main(["docs", "--out", str(docs), "--check"], env={}) == 0, "run `ci-triage docs` and commit docs/rules"

"""The rule catalog: one TOML file per rule, validated by `bot.rules.schema`.

`load_catalog()` reads every `infra/*.toml` and `code/*.toml` file shipped in this package,
checks each against the schema and the taxonomy, and refuses the whole catalog on any defect
(CatalogError naming the file), so a broken rule is caught by the first test, not in a PR.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from typing import TYPE_CHECKING, Any, Protocol

from bot import __version__
from bot.errors import CatalogError
from bot.rules.view import RuleView, rule_view

if TYPE_CHECKING:  # pydantic is imported only where rule files are validated, never on a warm start
    from pydantic import ValidationError

    from bot.rules.schema import Rule


def as_view(rule: Rule | RuleView) -> RuleView:
    """The plain view of a validated rule (the catalog, engine and renderers work on views)."""
    return rule if isinstance(rule, RuleView) else rule_view(rule.model_dump(mode="json", by_alias=True))


__all__ = ["Catalog", "RuleView", "Taxonomy", "as_view", "load_catalog", "load_taxonomy", "parse_rule"]


@dataclass(frozen=True, slots=True, eq=False)
class Taxonomy:
    """Category id -> (kind, summary), from the project's copy of the shared taxonomy."""

    categories: Mapping[str, tuple[str, str]]

    def kind(self, category: str) -> str:
        return self.categories[category][0]


@dataclass(frozen=True, slots=True, eq=False)
class Catalog:
    """The validated rules, in id order, and the taxonomy they map to."""

    rules: tuple[RuleView, ...]
    taxonomy: Taxonomy

    def get(self, rule_id: str) -> RuleView | None:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        return None


def load_taxonomy() -> Taxonomy:
    data = tomllib.loads(resources.files("bot.rules").joinpath("taxonomy.toml").read_text("utf-8"))
    return Taxonomy({k: (v["kind"], v["summary"]) for k, v in data["categories"].items()})


def format_validation_error(exc: ValidationError) -> str:
    """One line per problem: `key.path: message`."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(file)"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


def parse_rule(text: str, source: str, taxonomy: Taxonomy) -> Rule:
    """Parse and validate one rule file's text; raise CatalogError naming `source`."""
    from pydantic import ValidationError

    from bot.rules.schema import Rule

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{source}: not valid TOML: {exc}") from exc
    try:
        rule = Rule.model_validate(data)
    except ValidationError as exc:
        raise CatalogError(f"{source}: {format_validation_error(exc)}") from exc
    check_rule(rule, source, taxonomy)
    return rule


def check_rule(rule: Rule | RuleView, source: str, taxonomy: Taxonomy) -> None:
    if rule.category not in taxonomy.categories:
        raise CatalogError(f"{source}: category {rule.category!r} is not in the taxonomy")
    if taxonomy.kind(rule.category) != rule.kind:
        raise CatalogError(
            f"{source}: kind {rule.kind!r} contradicts category {rule.category!r}, "
            f"which is {taxonomy.kind(rule.category)!r}"
        )


def _rule_files() -> Iterable[tuple[str, Traversable]]:
    root = resources.files("bot.rules")
    for sub in ("infra", "code"):
        folder = root.joinpath(sub)
        for f in sorted((f for f in folder.iterdir() if f.name.endswith(".toml")), key=lambda f: f.name):
            yield sub, f


class BlobCache(Protocol):
    """Somewhere to keep bytes between runs (bot.cache.FileCache)."""

    def get(self, key: str) -> bytes | None: ...

    def put(self, key: str, data: bytes) -> None: ...


_LOADED: list[Catalog] = []


def load_catalog(cache: BlobCache | None = None) -> Catalog:
    """Load and validate the built-in catalog once per process; raises CatalogError on any defect.

    With a `cache`, the validated catalog is kept as JSON keyed by a hash of every rule file;
    later runs rebuild it as plain RuleViews, without pydantic (start-up counts toward the
    0.5 s goal, and importing pydantic costs more than classifying a small log).
    """
    if _LOADED:
        return _LOADED[0]
    files = [(f"bot/rules/{folder}/{f.name}", f.read_text("utf-8")) for folder, f in _rule_files()]
    key = ""
    if cache is not None:
        digest = hashlib.sha256(repr((__version__, files)).encode())
        key = "catalog-" + digest.hexdigest()[:32] + ".json"
        blob = cache.get(key)
        if blob:
            try:
                views = tuple(rule_view(r) for r in json.loads(blob))
                _LOADED.append(Catalog(views, load_taxonomy()))
                return _LOADED[0]
            except (ValueError, TypeError, KeyError, AttributeError):
                pass  # unreadable cache: validate from the sources
    catalog, rows = _parse_catalog(files)
    if cache is not None:
        cache.put(key, json.dumps(rows).encode())
    _LOADED.append(catalog)
    return catalog


def _parse_catalog(files: list[tuple[str, str]]) -> tuple[Catalog, list[dict[str, Any]]]:
    """Validate every rule file; the catalog of views, and their dumps for the cache."""
    taxonomy = load_taxonomy()
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    for source, text in files:
        name = source.rsplit("/", 1)[-1]
        rule = parse_rule(text, source, taxonomy)
        expected = f"{rule.id}-{rule.name}.toml"
        if name != expected:
            raise CatalogError(f"{source}: file name must be {expected}")
        folder = "infra" if rule.kind == "infrastructure" else "code"
        if f"/{folder}/" not in source:
            raise CatalogError(f"{source}: a {rule.kind} rule belongs in bot/rules/{folder}/")
        if rule.id in seen:
            raise CatalogError(f"{source}: id {rule.id} is already used by {seen[rule.id]}")
        seen[rule.id] = source
        rules.append(rule)
    removed = tomllib.loads(resources.files("bot.rules").joinpath("removed.toml").read_text("utf-8"))
    for rid in removed.get("removed", {}):
        if rid in seen:
            raise CatalogError(f"{seen[rid]}: id {rid} was retired (removed.toml) and is never reused")
    rows = [r.model_dump(mode="json", by_alias=True) for r in sorted(rules, key=lambda r: r.id)]
    return Catalog(tuple(rule_view(r) for r in rows), taxonomy), rows

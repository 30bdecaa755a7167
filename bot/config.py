"""Repository configuration: `.ci-triage.toml` (or `.github/ci-triage.toml`).

A repository can add its own rules (same schema as the built-in ones, ids `USR001`...),
disable built-in rules, or re-label them (kind, category, weight). The file is validated
strictly; every error names the file, the line and the key, because the person reading it
is a maintainer fixing a typo, not us.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot.errors import CatalogError, ConfigError
from bot.rules import Catalog, as_view, check_rule
from bot.rules.view import RuleView

if TYPE_CHECKING:  # validation imports pydantic; a run without a config file never needs it
    from pydantic import ValidationError

    from bot.rules.schema import RepoConfig

CONFIG_NAMES = (".ci-triage.toml", ".github/ci-triage.toml")


def key_line(text: str, loc: Sequence[str | int]) -> int | None:
    """Best line number for a pydantic error location in a TOML document.

    tomllib keeps no positions, so walk the text: `[[rules]]` headers count array items,
    `[table]` headers and `key =` lines are matched in order of the location path.
    """
    lines = text.splitlines()
    start, found = 0, None
    path = [str(p) for p in loc]
    i = 0
    while i < len(path):
        part = path[i]
        nxt = path[i + 1] if i + 1 < len(path) else None
        if nxt is not None and nxt.isdigit():
            # An array of tables: find the n-th `[[...part]]` header after `start`.
            want, seen = int(nxt), -1
            header = re.compile(r"^\s*\[\[\s*(?:[\w.\-\"]+\.)?" + re.escape(part) + r"\s*\]\]")
            for n in range(start, len(lines)):
                if header.match(lines[n]):
                    seen += 1
                    if seen == want:
                        start, found = n, n + 1
                        break
            else:
                # Inline array: fall back to the key itself.
                pass
            i += 2
            continue
        key = re.compile(
            r"^\s*(?:\[\s*(?:[\w.\-\"]+\.)?" + re.escape(part) + r"\s*\]|\"?" + re.escape(part) + r"\"?\s*=)"
        )
        for n in range(start, len(lines)):
            if key.match(lines[n]):
                start, found = n, n + 1
                break
        i += 1
    return found


def _error(source: str, text: str, exc: ValidationError) -> ConfigError:
    msgs = []
    for err in exc.errors():
        loc = [p for p in err["loc"] if not (isinstance(p, str) and p in {"function-after", "tagged-union"})]
        dotted = ".".join(str(p) for p in loc) or "(top level)"
        line = key_line(text, loc)
        where = f"{source}:{line}" if line else source
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see docs/configuration.md)"
        msgs.append(f"{where}: {dotted}: {msg}")
    return ConfigError("\n".join(msgs))


def parse_repo_config(text: str, source: str) -> RepoConfig:
    """Parse and validate a repository config; ConfigError names file, line and key."""
    from pydantic import ValidationError

    from bot.rules.schema import RepoConfig

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from exc
    try:
        return RepoConfig.model_validate(data)
    except ValidationError as exc:
        raise _error(source, text, exc) from exc


def apply_repo_config(catalog: Catalog, config: RepoConfig, source: str, text: str = "") -> Catalog:
    """The built-in catalog with the repository's overrides and rules applied."""
    known = {r.id for r in catalog.rules}
    rules: list[RuleView] = []
    for rid in config.overrides:
        if rid not in known:
            line = key_line(text, ["overrides", rid]) if text else None
            where = f"{source}:{line}" if line else source
            raise ConfigError(f"{where}: overrides.{rid}: no built-in rule has this id (see `ci-triage rules`)")
    for rule in catalog.rules:
        o = config.overrides.get(rule.id)
        if o is None:
            rules.append(rule)
            continue
        if o.disable:
            continue
        updated = dataclasses.replace(
            rule,
            kind=o.kind or rule.kind,
            category=o.category or rule.category,
            weight=o.weight if o.weight is not None else rule.weight,
        )
        _check(updated, catalog, source, text, ["overrides", rule.id])
        rules.append(updated)
    for n, own in enumerate(config.rules):
        if own.id in known:
            raise ConfigError(
                f"{source}: rules[{n}].id: {own.id} is a built-in id; use [overrides.{own.id}] to change it"
            )
        view = as_view(own)
        _check(view, catalog, source, text, ["rules", n, "category"])
        rules.append(view)
    return Catalog(tuple(rules), catalog.taxonomy)


def _check(rule: RuleView, catalog: Catalog, source: str, text: str, loc: list[str | int]) -> None:
    try:
        check_rule(rule, source, catalog.taxonomy)
    except CatalogError as exc:
        line = key_line(text, loc) if text else None
        where = f"{source}:{line}" if line else source
        detail = str(exc).split(": ", 1)[-1]
        raise ConfigError(f"{where}: {'.'.join(str(p) for p in loc)}: {detail}") from exc


def load_repo_config_file(
    catalog: Catalog, base: Path, explicit: str | None = None, *, discover: bool = True
) -> Catalog:
    """`catalog` with the repository's config applied: `explicit` (relative to `base`), else the
    first of CONFIG_NAMES found in `base` when `discover`; unchanged when there is none."""
    if explicit:
        path: Path | None = base / explicit
    elif discover:
        path = next((base / n for n in CONFIG_NAMES if (base / n).is_file()), None)
    else:
        path = None
    if path is None:
        return catalog
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    return load_repo_catalog(catalog, text, str(path))


def load_repo_catalog(catalog: Catalog, text: str, source: str) -> Catalog:
    """Parse `text` (the contents of `source`) and apply it to `catalog`."""
    return apply_repo_config(catalog, parse_repo_config(text, source), source, text)

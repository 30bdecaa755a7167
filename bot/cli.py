"""The `ci-triage` command line: classify logs, list and explain rules, evaluate on a corpus.

`main(argv, env)` is the only place that reads the process environment; everything below
receives plain values. Exit codes: 0 done, 1 an input could not be read (the others are still
reported), 2 a usage or configuration error.
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import os
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from bot import __version__
from bot.cache import FileCache
from bot.config import load_repo_config_file
from bot.core.engine import classify, compiled_for
from bot.core.evaluate import Case, evaluate, render_metrics
from bot.core.model import Triage
from bot.core.report import JobReport, render_job_markdown, render_rule_markdown, render_text
from bot.entry import add_forge_commands, run_entry
from bot.errors import ConfigError, InputError, TriageError
from bot.rules import Catalog, load_catalog
from bot.rules.view import CI_SYSTEMS

READ_BYTES = 4 << 20


def read_chunks(path: str, stdin: IO[bytes] | None = None) -> Iterator[bytes]:
    """Stream a log file (gzip is recognised by its magic bytes) or standard input."""
    if path == "-":
        stream = stdin if stdin is not None else sys.stdin.buffer
        while block := stream.read(READ_BYTES):
            yield block
        return
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below, generator keeps it open
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    with fh:
        magic = fh.read(2)
        fh.seek(0)
        if magic == b"\x1f\x8b":
            with gzip.open(fh, "rb") as gz:
                try:
                    while block := gz.read(READ_BYTES):
                        yield block
                except (OSError, EOFError):
                    # A truncated gzip file: classify what could be read.
                    return
        else:
            while block := fh.read(READ_BYTES):
                yield block


def classify_path(path: str, catalog: Catalog, ci: str | None = None, stdin: IO[bytes] | None = None) -> Triage:
    start = time.perf_counter()
    triage = classify(read_chunks(path, stdin), catalog, path=path, ci_system=ci)
    stats = dataclasses.replace(triage.stats, seconds=time.perf_counter() - start)
    return dataclasses.replace(triage, stats=stats)


def _catalog(args: argparse.Namespace, cwd: Path, env: Mapping[str, str]) -> Catalog:
    cache = FileCache.from_env(env)
    catalog = _with_config(args, cwd, load_catalog(cache))
    compiled_for(catalog, cache)
    return catalog


def _with_config(args: argparse.Namespace, cwd: Path, catalog: Catalog) -> Catalog:
    explicit = getattr(args, "config", None)
    return load_repo_config_file(catalog, cwd, explicit, discover=not getattr(args, "no_config", True))


def cmd_classify(args: argparse.Namespace, out: IO[str], err: IO[str], cwd: Path, env: Mapping[str, str]) -> int:
    catalog = _catalog(args, cwd, env)
    status = 0
    color = args.color == "always" or (args.color == "auto" and out.isatty())
    for path in args.paths:
        try:
            triage = classify_path(path, catalog, args.ci)
        except InputError as exc:
            status = 1
            print(f"ci-triage: {exc}", file=err)
            if args.format == "json":
                print(json.dumps({"path": path, "error": str(exc)}), file=out)
            continue
        if args.format == "json":
            print(json.dumps(triage.to_dict(), ensure_ascii=False), file=out)
        elif args.format == "markdown":
            print(render_job_markdown(JobReport(name=os.path.basename(path), triage=triage)), file=out)
        else:
            print(render_text(triage, color=color), file=out)
    return status


def cmd_rules(args: argparse.Namespace, out: IO[str]) -> int:
    catalog = load_catalog()
    if args.format == "json":
        rows: list[dict[str, Any]] = [
            {
                "id": r.id,
                "name": r.name,
                "kind": r.kind,
                "category": r.category,
                "title": r.title,
                "weight": r.weight,
                "status": r.status,
                "retry": r.retry,
            }
            for r in catalog.rules
        ]
        print(json.dumps(rows, indent=1), file=out)
        return 0
    for r in catalog.rules:
        print(f"{r.id}  {r.kind:<14} {r.category:<22} {r.name}", file=out)
    print(f"\n{len(catalog.rules)} rules", file=out)
    return 0


def cmd_rule(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    rule = load_catalog().get(args.id.upper())
    if rule is None:
        print(f"ci-triage: no rule {args.id!r}; `ci-triage rules` lists them", file=err)
        return 2
    print(render_rule_markdown(rule), file=out)
    return 0


def cmd_docs(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    """Write docs/rules/*.md from the catalog, or with --check report pages that are stale."""
    folder = Path(args.out)
    catalog = load_catalog()
    wanted = {f"{r.id}-{r.name}.md": render_rule_markdown(r) for r in catalog.rules}
    index = ["# Rules", "", "| Id | Name | Kind | Category |", "|---|---|---|---|"]
    index += [f"| [{r.id}]({r.id}-{r.name}.md) | {r.name} | {r.kind} | `{r.category}` |" for r in catalog.rules]
    wanted["README.md"] = "\n".join(index) + "\n"
    stale = [n for n, text in wanted.items() if not (folder / n).is_file() or (folder / n).read_text("utf-8") != text]
    extra = [p.name for p in folder.glob("*.md") if p.name not in wanted] if folder.is_dir() else []
    if args.check:
        for name in stale + extra:
            print(f"stale: {folder / name}", file=err)
        return 1 if stale or extra else 0
    folder.mkdir(parents=True, exist_ok=True)
    for name in extra:
        (folder / name).unlink()
    for name in stale:
        (folder / name).write_text(wanted[name], "utf-8")
    print(f"{len(stale)} page(s) written, {len(extra)} removed, in {folder}", file=out)
    return 0


def load_cases(folder: Path, catalog: Catalog, include_ambiguous: bool) -> list[Case]:
    labels = folder / "labels.jsonl"
    try:
        rows = [json.loads(line) for line in labels.read_text("utf-8").splitlines() if line.strip()]
    except OSError as exc:
        raise InputError(f"{labels}: cannot read: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise InputError(f"{labels}: line {exc.lineno}: not JSON: {exc.msg}") from exc
    cases = []
    for row in rows:
        if row.get("ambiguous") and not include_ambiguous:
            continue
        triage = classify_path(str(folder / row["file"]), catalog)
        cases.append(Case(row["id"], row["label"], row["category"], triage))
    return cases


def cmd_eval(args: argparse.Namespace, out: IO[str], cwd: Path, env: Mapping[str, str]) -> int:
    catalog = _catalog(args, cwd, env)
    cases = load_cases(Path(args.dir), catalog, args.include_ambiguous)
    metrics = evaluate(cases)
    if args.json:
        print(
            json.dumps(
                {
                    "cases": metrics.total,
                    "matrix": metrics.matrix,
                    "precision": metrics.precision,
                    "recall": metrics.recall,
                    "coverage": metrics.coverage,
                    "category_accuracy": metrics.category_accuracy,
                    "calibration": [
                        dict(zip(("bin", "n", "mean", "right"), row, strict=True)) for row in metrics.calibration
                    ],
                    "misses": [
                        {
                            "id": c.id,
                            "expected": [c.label, c.category],
                            "actual": [c.triage.verdict.value, c.triage.category],
                        }
                        for c in metrics.misses
                    ],
                },
                indent=1,
            ),
            file=out,
        )
    else:
        print(render_metrics(metrics), file=out, end="")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ci-triage", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--version", action="version", version=f"ci-triage {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("classify", help="classify job logs (- reads standard input)")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    p.add_argument(
        "--ci",
        choices=CI_SYSTEMS,
        help="the CI system, when the log does not reveal it",
    )
    p.add_argument("--config", help="a .ci-triage.toml to apply (default: found in the current directory)")
    p.add_argument("--no-config", action="store_true", help="ignore any .ci-triage.toml")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto")

    p = sub.add_parser("rules", help="list the rules")
    p.add_argument("--format", choices=("text", "json"), default="text")

    p = sub.add_parser("rule", help="print a rule's documentation page")
    p.add_argument("id")

    p = sub.add_parser("docs", help="generate docs/rules from the catalog")
    p.add_argument("--out", default="docs/rules")
    p.add_argument("--check", action="store_true", help="fail if the pages are not up to date")

    add_forge_commands(sub)

    p = sub.add_parser("eval", help="measure on a labelled corpus (labels.jsonl + logs/)")
    p.add_argument("dir")
    p.add_argument("--include-ambiguous", action="store_true")
    p.add_argument("--json", action="store_true")
    p.add_argument("--config")
    p.add_argument("--no-config", action="store_true", default=True)
    return parser


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """Run the CLI; returns the exit code. `env` defaults to the process environment."""
    env = os.environ if env is None else env
    args = build_parser().parse_args(argv)
    out, err = sys.stdout, sys.stderr
    cwd = Path.cwd()
    try:
        if args.command == "classify":
            return cmd_classify(args, out, err, cwd, env)
        if args.command == "rules":
            return cmd_rules(args, out)
        if args.command == "rule":
            return cmd_rule(args, out, err)
        if args.command == "docs":
            return cmd_docs(args, out, err)
        if args.command == "eval":
            return cmd_eval(args, out, cwd, env)
        return run_entry(args, env, out, err)
    except ConfigError as exc:
        print(f"ci-triage: configuration error:\n{exc}", file=err)
        return 2
    except InputError as exc:
        print(f"ci-triage: {exc}", file=err)
        return 1
    except TriageError as exc:
        print(f"ci-triage: {exc}", file=err)
        return 2

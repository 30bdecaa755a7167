"""Regenerate the vendored GitHub contract files the tests validate against.

Fetches, with `npm pack` in a temporary directory (never inside the repository), the pinned
packages below, and writes into tests/fixtures/github/:

* openapi/api.github.com.subset.json: the operations the bot calls (and the fake serves),
  taken from the *dereferenced* description (no $ref left), descriptions stripped, response
  examples kept (the fake builds its objects from them). The package version is recorded
  in `info.x-ci-triage-source`.
* webhooks/schema.json: the JSON Schema definitions of the events we handle and everything
  they reference, from @octokit/webhooks-schemas.
* webhooks/*.json: the few example payloads the tests start from, from
  @octokit/webhooks-examples; webhooks/SOURCE.json records where each came from.

Usage: .venv/bin/python scripts/extract_github_openapi.py [--from DIR]
(`--from` reuses a directory that already holds the unpacked `npm pack` tarballs.)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

OPENAPI = "@octokit/openapi@23.0.2"
WEBHOOK_EXAMPLES = "@octokit/webhooks-examples@7.6.1"
WEBHOOK_SCHEMAS = "@octokit/webhooks-schemas@7.6.1"

OPERATIONS: tuple[tuple[str, str], ...] = (
    ("get", "/repos/{owner}/{repo}/actions/runs"),
    ("get", "/repos/{owner}/{repo}/actions/runs/{run_id}"),
    ("get", "/repos/{owner}/{repo}/actions/runs/{run_id}/jobs"),
    ("post", "/repos/{owner}/{repo}/actions/runs/{run_id}/rerun-failed-jobs"),
    ("get", "/repos/{owner}/{repo}/actions/jobs/{job_id}/logs"),
    ("get", "/repos/{owner}/{repo}/check-runs/{check_run_id}/annotations"),
    ("get", "/repos/{owner}/{repo}/pulls"),
    ("get", "/repos/{owner}/{repo}/pulls/{pull_number}"),
    ("get", "/repos/{owner}/{repo}/issues/{issue_number}/comments"),
    ("post", "/repos/{owner}/{repo}/issues/{issue_number}/comments"),
    ("patch", "/repos/{owner}/{repo}/issues/comments/{comment_id}"),
    ("delete", "/repos/{owner}/{repo}/issues/comments/{comment_id}"),
    ("post", "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions"),
    ("get", "/repos/{owner}/{repo}/issues/{issue_number}/labels"),
    ("post", "/repos/{owner}/{repo}/issues/{issue_number}/labels"),
    ("delete", "/repos/{owner}/{repo}/issues/{issue_number}/labels/{name}"),
    ("get", "/repos/{owner}/{repo}/labels/{name}"),
    ("post", "/repos/{owner}/{repo}/labels"),
    ("get", "/repos/{owner}/{repo}/collaborators/{username}/permission"),
    ("get", "/repos/{owner}/{repo}/contents/{path}"),
)

WEBHOOK_DEFINITIONS = ("workflow_run$completed", "issue_comment$created")
# (event, index in @octokit/webhooks-examples api.github.com/index.json, file name)
EXAMPLES = (
    ("workflow_run", 2, "workflow_run.completed.json"),
    ("issue_comment", 1, "issue_comment.created.json"),
)

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "github"


def strip_descriptions(node: Any, parent_key: str = "") -> Any:
    """Empty the prose (`description` is required on responses), never a property *named* so."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if parent_key != "properties" and key in {"summary", "externalDocs"}:
                continue
            if parent_key != "properties" and key == "description" and isinstance(value, str):
                out[key] = ""
                continue
            out[key] = strip_descriptions(value, key)
        return out
    if isinstance(node, list):
        return [strip_descriptions(v) for v in node]
    return node


def unpack(spec: str, work: Path) -> Path:
    """`npm pack` one package into `work` and return its unpacked `package/` folder."""
    name = spec.rsplit("@", 1)[0].lstrip("@").replace("/", "-")
    target = work / name
    if (target / "package").is_dir():
        return target / "package"
    out = subprocess.run(["npm", "pack", spec, "--silent"], cwd=work, check=True,
                         capture_output=True, text=True).stdout.strip().splitlines()[-1]
    target.mkdir(exist_ok=True)
    with tarfile.open(work / out) as tar:
        tar.extractall(target, filter="data")
    return target / "package"


def find_package(spec: str, work: Path) -> Path:
    name = spec.rsplit("@", 1)[0].lstrip("@").replace("/", "-")
    version = spec.rsplit("@", 1)[1]
    for candidate in (work / f"{name}-{version}" / "package", work / name / "package"):
        if candidate.is_dir():
            return candidate
    return unpack(spec, work)


def openapi_subset(package: Path) -> dict[str, Any]:
    spec = json.loads((package / "generated" / "api.github.com.deref.json").read_text("utf-8"))
    paths: dict[str, dict[str, Any]] = {}
    for method, path in OPERATIONS:
        item = spec["paths"][path]
        paths.setdefault(path, {})[method] = strip_descriptions(item[method])
        if "parameters" in item:
            paths[path]["parameters"] = strip_descriptions(item["parameters"])
    info = dict(spec["info"])
    info.pop("description", None)
    info["x-ci-triage-source"] = f"{OPENAPI} generated/api.github.com.deref.json"
    return {"openapi": spec["openapi"], "info": info, "servers": spec.get("servers", []), "paths": paths}


def refs(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/definitions/"):
            found.add(ref.removeprefix("#/definitions/"))
        for value in node.values():
            found |= refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= refs(value)
    return found


def webhook_schema(package: Path) -> dict[str, Any]:
    schema = json.loads((package / "schema.json").read_text("utf-8"))
    definitions = schema["definitions"]
    keep: set[str] = set()
    todo = list(WEBHOOK_DEFINITIONS)
    while todo:
        name = todo.pop()
        if name in keep:
            continue
        keep.add(name)
        todo.extend(refs(definitions[name]) - keep)
    return {
        "$schema": schema["$schema"],
        "$comment": (
            f"Trimmed from {WEBHOOK_SCHEMAS} schema.json: {', '.join(WEBHOOK_DEFINITIONS)} and their references."
        ),
        "definitions": {k: definitions[k] for k in sorted(keep)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", type=Path, help="folder with unpacked npm tarballs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ci-triage-npm-") as tmp:
        work = args.source or Path(tmp)
        openapi_pkg = find_package(OPENAPI, work)
        examples_pkg = find_package(WEBHOOK_EXAMPLES, work)
        schemas_pkg = find_package(WEBHOOK_SCHEMAS, work)

        (OUT / "openapi").mkdir(parents=True, exist_ok=True)
        (OUT / "webhooks").mkdir(parents=True, exist_ok=True)
        subset = openapi_subset(openapi_pkg)
        (OUT / "openapi" / "api.github.com.subset.json").write_text(
            json.dumps(subset, indent=1, sort_keys=True) + "\n", "utf-8"
        )
        (OUT / "webhooks" / "schema.json").write_text(
            json.dumps(webhook_schema(schemas_pkg), indent=1, sort_keys=True) + "\n", "utf-8"
        )
        index = json.loads((examples_pkg / "api.github.com" / "index.json").read_text("utf-8"))
        by_event = {e["name"]: e["examples"] for e in index}
        sources = {}
        for event, n, filename in EXAMPLES:
            (OUT / "webhooks" / filename).write_text(
                json.dumps(by_event[event][n], indent=1) + "\n", "utf-8"
            )
            sources[filename] = f"{WEBHOOK_EXAMPLES} api.github.com/index.json {event} examples[{n}]"
        (OUT / "webhooks" / "SOURCE.json").write_text(
            json.dumps({"examples": sources, "schema": WEBHOOK_SCHEMAS, "openapi": OPENAPI}, indent=1) + "\n",
            "utf-8",
        )
    print(f"wrote {len(OPERATIONS)} operations and {len(EXAMPLES)} webhook examples under {OUT}")


if __name__ == "__main__":
    main()

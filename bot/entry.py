"""Sub-commands that talk to a forge: `github` (the Action), `gitlab` (the CI job), `serve`.

Each imports its adapter lazily, so `ci-triage classify` never pays for PyGithub or
python-gitlab at start-up (the small-log goal is under 0.5 s including start-up).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import IO, Any


def add_forge_commands(sub: Any) -> None:
    sub.add_parser(
        "github",
        help="triage a GitHub Actions run (the Action's entrypoint; reads GITHUB_*/INPUT_*)",
    )
    sub.add_parser("gitlab", help="triage a GitLab pipeline (the CI job's command; reads CI_*)")


def run_entry(args: argparse.Namespace, env: Mapping[str, str], out: IO[str], err: IO[str]) -> int:
    if args.command == "github":
        from bot.github_action import main as github_main

        return github_main(env, out, err)
    if args.command == "gitlab":
        from bot.gitlab_job import main as gitlab_main

        return gitlab_main(env, out, err)
    raise AssertionError(f"unhandled command {args.command}")

"""The imperative shell: carry out planned actions against a forge, in one place.

Every effect the bot has on GitHub or GitLab goes through `execute()`. It never raises for a
platform failure: it records what it could not do, so the caller can say so in the comment
and the job summary instead of adding a red X to someone's PR.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import assert_never

from bot.core.plan import Action, Outcome, RerunJobs, SetLabels, UpsertComment
from bot.errors import ForgeError
from bot.forges.base import Forge


def execute(actions: Sequence[Action], forge: Forge, *, dry_run: bool = False) -> Outcome:
    """Run the actions in order; a failing action is reported, the others still run."""
    url, reruns, problems = "", 0, []
    for action in actions:
        if dry_run:
            continue
        try:
            match action:
                case UpsertComment(change=change, body=body):
                    url = forge.upsert_comment(change, body)
                case SetLabels(change=change, add=add, remove=remove):
                    forge.set_labels(change, add, remove)
                case RerunJobs(run=run, jobs=jobs):
                    reruns += forge.rerun_jobs(run, jobs)
                case _:
                    assert_never(action)
        except ForgeError as exc:
            problems.append(f"{type(action).__name__}: {exc}")
    return Outcome(url, reruns, tuple(problems))

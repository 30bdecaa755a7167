"""The one small port every forge adapter implements, and the marker they share.

`bot.app.execute()` drives it with the actions planned by `bot.core.plan`. Adapters raise
`bot.errors.ForgeError` subclasses; the executor records them as problems and carries on, so
a failed label never prevents the comment and a failed comment never prevents the re-run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bot.core.plan import ChangeRef, JobRef, RunRef
from bot.core.report import MARKER

__all__ = ["MARKER", "Forge"]


class Forge(Protocol):
    def find_comment(self, change: ChangeRef) -> tuple[int, str] | None:
        """Our comment on the change (marker + our own identity): (id, body), or None."""

    def upsert_comment(self, change: ChangeRef, body: str) -> str:
        """Edit our comment in place, or create it; never a second one. Returns its URL."""

    def set_labels(self, change: ChangeRef, add: Sequence[str], remove: Sequence[str]) -> None:
        """Add and remove labels, creating missing ones with our colours."""

    def rerun_jobs(self, run: RunRef, jobs: Sequence[JobRef]) -> int:
        """Re-run (GitHub) or retry (GitLab) the jobs; returns how many were accepted."""

    def labels(self, change: ChangeRef) -> list[str]:
        """The change's current labels."""

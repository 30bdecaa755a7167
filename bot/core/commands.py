"""Parse maintainer commands in PR/MR comments: `/retriage` and `/retriage rerun`.

A command counts only at the start of a line, outside quoted text (`> /retriage` in a reply
quotes someone else) and outside code blocks, so quoting an old comment never re-runs
anything. Authorisation is not decided here: the adapters ask the forge for the author's
permission (`may_retriage`), never trusting `author_association`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

_COMMAND = re.compile(r"^/retriage(?:[ \t]+(?P<arg>\S+))?[ \t]*$", re.I)
_FENCE = re.compile(r"^(?:`{3,}|~{3,})")


@dataclass(frozen=True, slots=True)
class Command:
    name: Literal["retriage"]
    rerun: bool


def parse_command(body: str | None) -> Command | None:
    """The first `/retriage` command in `body`, or None. Unknown arguments are not a command."""
    if not body:
        return None
    in_fence = False
    for raw in body.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = raw.strip()
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence or raw.startswith((" " * 4, "\t")) or line.startswith(">"):
            continue
        m = _COMMAND.match(line)
        if not m:
            continue
        arg = (m.group("arg") or "").lower()
        if arg in ("", "rerun", "re-run"):
            return Command("retriage", rerun=bool(arg))
        return None
    return None

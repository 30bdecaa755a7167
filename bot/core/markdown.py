"""Make untrusted text safe to post as GitHub or GitLab Markdown.

Log lines, job, step and branch names are attacker-controlled. Outside code blocks they must
not mention people (`@user`), link issues (`#1`, `!1`, `~label`), inject HTML or links, or
start a GitLab quick action (`/merge` at the start of a line is executed with the bot's
permissions). Inside code blocks they must not close the fence. GitLab only honours exact
three-backtick fences when it scans for quick actions (platform.md §2.6), so we always fence
with exactly three backticks and break every run of three or more backticks in the content.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

ZWSP = "\u200b"
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_BACKTICKS = re.compile(r"`{3,}|~{3,}")
_INLINE_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")
_LINE_START = re.compile(r"^([#+\-=>]|\d+[.)])")
_MENTION = re.compile(r"([@#!~%$])(?=[\w/-])")
MAX_LINE = 300


def _clean(text: str) -> str:
    text = _BIDI.sub("", text)
    return _CONTROL.sub("", text)


def clip(text: str, limit: int = MAX_LINE) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def inline(text: str, limit: int = 200) -> str:
    """Untrusted text for use in running Markdown text, a table cell or a heading."""
    text = clip(_clean(text).replace("\n", " ").replace("\r", " "), limit)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _INLINE_SPECIAL.sub(lambda m: "\\" + m.group(1) if m.group(1) not in "<>" else m.group(1), text)
    text = _LINE_START.sub(lambda m: "\\" + m.group(1), text)
    # Escaping alone does not stop GitHub autolinking `@user` or `#12`: add a zero-width space.
    text = _MENTION.sub(lambda m: m.group(1) + ZWSP, text)
    if text.startswith("/"):
        text = ZWSP + text
    return text


def code_span(text: str, limit: int = 200) -> str:
    """Untrusted text as inline code. Backticks inside are replaced so the span cannot close."""
    text = clip(_clean(text).replace("\n", " "), limit).replace("`", "'")
    return f"`{text}`" if text.strip() else "` `"


def code_block(lines: Iterable[str], info: str = "text") -> str:
    """Untrusted lines inside an exact three-backtick fence that they cannot close."""
    body = []
    split = (part for item in lines for part in item.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    for line in split:
        line = clip(_clean(line))
        line = _BACKTICKS.sub(lambda m: ZWSP.join(m.group(0)), line)
        # Our own comment is parsed back by its HTML-comment markers: log text must not fake one.
        line = line.replace("<!--", "<!" + ZWSP + "--").replace("-->", "--" + ZWSP + ">")
        if line.lstrip().startswith("/"):
            line = ZWSP + line
        body.append(line)
    return "```" + info + "\n" + "\n".join(body) + "\n```"


_CODE_SPAN = re.compile(r"`([^`\n]+)`")


def prose(text: str, limit: int = 600) -> str:
    """Rule documentation as Markdown: its `code spans` kept (made safe), everything else escaped.

    Rule text is ours or the repository's own (`.ci-triage.toml`, which a merge request can
    change), so it gets the same neutralisation as log text; only code spans survive.
    """
    text = clip(text.strip(), limit)
    parts, pos = [], 0
    for m in _CODE_SPAN.finditer(text):
        parts.append(inline(text[pos : m.start()], limit) if m.start() > pos else "")
        parts.append(code_span(m.group(1), limit))
        pos = m.end()
    parts.append(inline(text[pos:], limit) if pos < len(text) else "")
    out = "".join(parts)
    return out if not out.startswith("/") else ZWSP + out

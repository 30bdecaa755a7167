"""Redact secrets from log text before anything is printed or posted.

The platforms mask only the exact values they know (platform.md §6.1); tokens minted at run
time, credentials in URLs and headers printed by tools get through. Comments on public
repositories outlive log retention, so every line the bot shows passes through `redact()`.
Detectors follow gitleaks' catalogue (MIT) for the shapes below.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

REDACTED = "[REDACTED]"

_PATTERNS: tuple[tuple[str, str], ...] = (
    (
        "private-key",
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----.*?"
        r"(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|$)",
    ),
    ("github", r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,251}\b|\bgithub_pat_[A-Za-z0-9_]{22,}"),
    (
        "gitlab",
        r"\b(?:glpat|gloas|gldt|glrt|glrtr|glcbt|glptt|glft|glimt|glagent|glwt|glsoat|glffct)-[0-9A-Za-z_.\-]{16,}|\bGR1348941[0-9A-Za-z_\-]{20,}",
    ),
    ("aws-key-id", r"\b(?:A3T[A-Z0-9]|AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA)[A-Z0-9]{16}\b"),
    ("aws-secret", r"(?i)(aws_secret_access_key\s*[=:]\s*['\"]?)[A-Za-z0-9/+=]{40}"),
    (
        "slack",
        r"\bxox[abposr]-[A-Za-z0-9-]{10,}|https://hooks\.slack\.com/services/[A-Za-z0-9/_-]+",
    ),
    ("google", r"\bAIza[0-9A-Za-z_\-]{35}\b"),
    ("stripe", r"\b[rs]k_(?:live|test)_[0-9A-Za-z]{20,}"),
    ("npm", r"\bnpm_[A-Za-z0-9]{36}\b"),
    ("pypi", r"\bpypi-AgE[A-Za-z0-9_\-]{50,}"),
    ("jwt", r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),
    ("url-credentials", r"(?i)(\b[a-z][a-z0-9+.\-]*://)[^/\s:@'\"]+:[^/\s@'\"]+@"),
    (
        "auth-header",
        r"(?i)(\b(?:proxy-)?authorization:\s*(?:bearer|token|basic|digest|bot)?\s*)[^\s'\"]{4,}",
    ),
    (
        "token-header",
        r"(?i)(\b(?:private-token|job-token|x-api-key|x-auth-token|api-key)\s*:\s*)[^\s'\"]{4,}",
    ),
    (
        "key-value",
        r"(?i)(\b(?:password|passwd|pwd|secret|token|api[_\-]?key|access[_\-]?key|client[_\-]?secret|auth[_\-]?token)\b\s*[:=]\s*['\"]?)(?!\[REDACTED\]|\[MASKED\]|\*\*\*)[^\s'\",;&]{6,}",
    ),
)

_PREFIXED = {"aws-secret", "url-credentials", "auth-header", "token-header", "key-value"}
_COMPILED = tuple(
    (
        re.compile(p),
        (r"\g<1>" + REDACTED + ("@" if n == "url-credentials" else "")) if n in _PREFIXED else REDACTED,
    )
    for n, p in _PATTERNS
)


def redact(text: str, known: Iterable[str] = ()) -> str:
    """Return `text` with secrets replaced by [REDACTED].

    `known` are exact values the caller holds (its own tokens); they are removed first, as
    the runners' maskers do, including their base64 and URL-encoded forms.
    """
    for value in known:
        if value and len(value) >= 4:
            for form in _encodings(value):
                text = text.replace(form, REDACTED)
    for regex, replacement in _COMPILED:
        text = regex.sub(replacement, text)
    return text


def _encodings(value: str) -> tuple[str, ...]:
    import base64
    from urllib.parse import quote

    raw = value.encode()
    return (value, base64.b64encode(raw).decode().rstrip("="), quote(value, safe=""))


_KEY_BEGIN = re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY")
_KEY_END = re.compile(r"-----END (?:[A-Z0-9]+ )*PRIVATE KEY")


def redact_lines(lines: Iterable[str], known: Iterable[str] = ()) -> list[str]:
    """Redact consecutive lines, also hiding the body of a private key spread over several."""
    known = tuple(known)
    out: list[str] = []
    inside = False
    for line in lines:
        if inside:
            if _KEY_END.search(line):
                inside = False
            out.append(REDACTED)
            continue
        if _KEY_BEGIN.search(line) and not _KEY_END.search(line):
            inside = True
        out.append(redact(line, known))
    return out

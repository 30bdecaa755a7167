"""Normalise raw CI log lines and follow the job's steps.

Every CI system decorates its lines differently: GitHub Actions and Azure Pipelines put a
28-character timestamp and `##[...]` commands in front, GitLab wraps sections in
`section_start`/`section_end` markers and redraws progress with `\\r`, Jenkins prints
`[Pipeline]` lines and timestamper prefixes, Travis `travis_fold` markers, Buildkite `_bk;t=`
stamps and `---` headers. Rules are written against the *message*, so all of that is removed
first, while the original 1-based line number is kept for evidence links.

`StepTracker` consumes normalised lines in order and knows, for each line, the step or
section it belongs to, and which step failed first (the one whose wrapper line such as
`Process completed with exit code N` comes first; `if: failure()` diagnostics steps that
follow it are not blamed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

MAX_TEXT = 4000
"""Characters of one line that rules see; longer lines are cut (a 10 MB line stays cheap)."""

_ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[\]_^P][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]"
)  # CSI, then OSC/APC/PM/DCS strings (Buildkite's `ESC _bk;t=...BEL` is an APC), then 2-byte escapes
_GITLAB_SECTION = re.compile(r"(?:\x1b\[0K)?section_(start|end):\d+:([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?\r?(?:\x1b\[0K)?")
_TRAVIS = re.compile(r"travis_(fold|time):(start|end):([^\r\s]*)\r?(?:\x1b\[0K)?")
_BUILDKITE_TS = re.compile(r"(?:\x1b)?_bk;t=\d+\x07")
_ISO_TS = re.compile(r"^\[?\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d| ?UTC)?\]?\s?")
_CLOCK_TS = re.compile(r"^\[?\d\d:\d\d:\d\d(?:[.,]\d+)?\]?\s")
_GH_COMMAND = re.compile(r"^##\[(\w+)\](.*)$")
_WORKFLOW_COMMAND = re.compile(r"^::(error|warning|notice|debug|group|endgroup)(?: [^:]*)?::(.*)$")
_JENKINS_STAGE = re.compile(r"^\[Pipeline\] \{ \((.+)\)\s*$")
_BUILDKITE_HEADER = re.compile(r"^(?:---|\+\+\+|~~~) (.+)$")
_TRAVIS_COMMAND_EXIT = re.compile(r'^The command "(.+)" exited with (\d+)\.\s*$')
# Package builders: OBS prints `[   15s] ` before every line, Fedora's mock `BUILDSTDERR: `.
_BUILDER_PREFIX = re.compile(r"^(?:\[\s*\d+s\] |BUILDSTDERR: )")
# BuildKit (`docker build`, buildx) prefixes its output with the step number and seconds.
_BUILDKIT = re.compile(
    r"^#\d+ (?:\d+\.\d+ (?=\S|\s*$)|(?=ERROR|DONE|CACHED|\[|sha256:|extracting|resolve|transferring))"
)


class Mark(Enum):
    """What structural role a line plays, beyond its message."""

    NONE = 0
    STEP = 1
    """Starts a step or section; `LineInfo.step` names it."""
    GROUP = 2
    """Starts a sub-group inside the current step (GitHub `##[group]` that is not `Run ...`)."""
    END = 3
    """Ends a section or group."""
    ERROR = 4
    """An error annotation (`##[error]`, `::error::`); the message is in `text`."""


@dataclass(frozen=True, slots=True)
class LineInfo:
    """A normalised line: the message, its structural mark and the step it opens, if any."""

    text: str
    mark: Mark = Mark.NONE
    step: str | None = None
    system: str | None = None
    """The CI system this line's decoration reveals, when it reveals one."""


def decode(raw: bytes) -> str:
    """Bytes to text that never fails: invalid UTF-8 becomes U+FFFD, NULs are dropped."""
    text = raw.decode("utf-8", "replace")
    if "\x00" in text:
        text = text.replace("\x00", "")
    return text


def strip_ansi(text: str) -> str:
    """Remove SGR colours, cursor movement and OSC sequences."""
    return _ANSI.sub("", text) if "\x1b" in text else text


def normalise(raw: str) -> LineInfo:
    """Reduce one raw line (without its newline) to its message and structural mark."""
    text = raw.rstrip("\r\n")
    if text.startswith("\ufeff"):
        text = text[1:]
    system: str | None = None
    step: str | None = None
    mark = Mark.NONE
    if "section_" in text:
        for m in _GITLAB_SECTION.finditer(text):
            system = "gitlab_ci"
            if m.group(1) == "start":
                step, mark = m.group(2), Mark.STEP
            elif mark is Mark.NONE:
                mark = Mark.END
        text = _GITLAB_SECTION.sub("", text)
    if "travis_" in text:
        for m in _TRAVIS.finditer(text):
            system = "travis"
            if m.group(1) == "fold" and m.group(2) == "start":
                step, mark = m.group(3), Mark.STEP
        text = _TRAVIS.sub("", text)
    if "_bk;t=" in text:
        system = "buildkite"
        text = _BUILDKITE_TS.sub("", text)
    if "\r" in text:
        # A progress redraw: what the reader saw last is the text after the last \r.
        parts = [p for p in text.split("\r") if strip_ansi(p).strip()]
        text = parts[-1] if parts else ""
    text = strip_ansi(text)
    if len(text) > MAX_TEXT:
        text = text[:MAX_TEXT]
    ts = _ISO_TS.match(text) or _CLOCK_TS.match(text)
    if ts:
        if len(ts.group(0)) >= 28 and text[10:11] == "T" and text[27:28] == "Z":
            system = system or "github_actions"
        text = text[ts.end() :]
    if text[:1] == "[" or text[:11] == "BUILDSTDERR":
        text = _BUILDER_PREFIX.sub("", text, count=1)
    if text.startswith("#") and text[1:2].isdigit():
        text = _BUILDKIT.sub("", text, count=1)
    if text.startswith("##["):
        gh = _GH_COMMAND.match(text)
        if gh:
            command, rest = gh.group(1), gh.group(2)
            if command == "group":
                if rest.startswith("Run "):
                    return LineInfo(rest, Mark.STEP, rest[4:].strip() or rest, system)
                return LineInfo(rest, Mark.GROUP, rest, system)
            if command == "endgroup":
                return LineInfo("", Mark.END, None, system)
            if command == "section":
                if rest.startswith("Starting: "):
                    return LineInfo(rest, Mark.STEP, rest[10:].strip(), "azure_pipelines")
                if rest.startswith("Finishing: "):
                    return LineInfo(rest, Mark.END, None, "azure_pipelines")
                return LineInfo(rest, Mark.NONE, None, system)
            if command == "error":
                return LineInfo(rest, Mark.ERROR, None, system)
            return LineInfo(rest, Mark.NONE, None, system)
    elif text.startswith("::"):
        wf = _WORKFLOW_COMMAND.match(text)
        if wf:
            command, rest = wf.group(1), wf.group(2)
            if command == "group":
                return LineInfo(rest, Mark.GROUP, rest, system)
            if command == "endgroup":
                return LineInfo("", Mark.END, None, system)
            if command == "error":
                return LineInfo(rest, Mark.ERROR, None, system)
            return LineInfo(rest, Mark.NONE, None, system)
    elif text.startswith("[Pipeline]"):
        stage = _JENKINS_STAGE.match(text)
        if stage:
            return LineInfo(text, Mark.STEP, stage.group(1), "jenkins")
        return LineInfo(text, Mark.NONE, None, "jenkins")
    elif text[:4] in ("--- ", "+++ ", "~~~ "):
        header = _BUILDKITE_HEADER.match(text)
        if header and system == "buildkite":
            return LineInfo(text, Mark.STEP, header.group(1).strip(), system)
    return LineInfo(text, mark, step, system)


# Wrapper lines: they say *that* something failed, never *why*. They mark the failing step
# and are never evidence on their own (pitfalls.md: "the wrapper line as root cause").
WRAPPER_PATTERNS: tuple[str, ...] = (
    r"Process completed with exit code \d+",
    r"^ERROR: Job failed: exit (?:code|status) \d+",
    r"^ERROR: script returned exit code \d+",
    r"^script returned exit code \d+",
    r'^The command ".*" exited with \d+\.',
    r"^Exited with code (?:exit status )?\d+",
    r"^\S+ exited with code '\d+'\.",
    r"The command exited with status \d+",
    r"^Finished: (?:FAILURE|UNSTABLE|ABORTED)",
    r"^Error: The process '.*' failed with exit code \d+",
    r"^(?:npm ERR!|npm error) (?:code ELIFECYCLE|errno \d+|Exit status \d+|code \d+$|A complete log)",
    r"^(?:error )?Command failed with exit code \d+\.?$",
    r"ELIFECYCLE\s+(?:Command|Test) failed",
    r"^make(?:\[\d+\])?: \*\*\* .*Error \d+",
    r"^Error: Process completed with exit code",
    r"^Build step '.*' marked build as failure",
    r"^The job exceeded the maximum log length",
    r"^Done\. Your build exited with \d+\.",
    r"^\[error\] \(.*\) .*: Nonzero exit code",
    r"^The operation was canceled\.$",
)
"""Shared with the engine, which adds them to its prefilter."""

# A whole command that failed and is being run again (travis_retry): evidence from the
# attempts before it was superseded by the attempts after it.
RETRY_PATTERNS: tuple[str, ...] = (r'^The command ".*" failed\. Retrying, \d+ of \d+\.',)

# Which of the wrapper lines end a failing step (the first one names the failing step).
STEP_FAILED_PATTERNS: tuple[str, ...] = (
    r"Process completed with exit code [1-9]\d*",
    r"^ERROR: Job failed",
    r"script returned exit code [1-9]",
    r'^The command ".*" exited with [1-9]\d*\.',
    r"^Exited with code (?:exit status )?[1-9]",
    r"^\S+ exited with code '[1-9]\d*'\.",
    r"The command exited with status [1-9]",
    r"^Error: The process '.*' failed with exit code",
    r"^The operation was canceled\.",
    r"^The job running on runner .* has exceeded the maximum execution time",
    r"^The action '.*' has timed out after \d+ minutes",
)

_FAILED_RE = re.compile("|".join(f"(?:{p})" for p in STEP_FAILED_PATTERNS))
_RETRY_RE = re.compile("|".join(f"(?:{p})" for p in RETRY_PATTERNS))

# GitLab runs these after the failure; they are never the failing section.
_GITLAB_POST_SECTIONS = frozenset(
    {
        "after_script",
        "upload_artifacts_on_failure",
        "upload_artifacts_on_success",
        "archive_cache",
        "archive_cache_on_failure",
        "cleanup_file_variables",
    }
)


class StepTracker:
    """Follows steps and sections through a log and finds the step that failed first."""

    __slots__ = (
        "_sub",
        "current",
        "failed",
        "failed_line",
        "retry_line",
        "step_start",
        "system",
    )

    def __init__(self) -> None:
        self.current: str | None = None
        self.failed: str | None = None
        self.failed_line: int | None = None
        self.system: str | None = None
        self.step_start: int | None = None
        """The line where the current step began (its `##[group]Run` header on GitHub)."""
        self.retry_line: int | None = None
        """The last whole-command retry before the failure; earlier evidence was superseded."""
        self._sub: str | None = None

    def feed(self, info: LineInfo, lineno: int, *, markers: bool = True) -> str | None:
        """Account for one normalised line; return the step it belongs to.

        `markers=False` says the line cannot be a failure or retry marker (the engine's
        prefilter knows), which saves two regex searches on long lines.
        """
        if info.system and (self.system is None or self.system == "plain"):
            self.system = info.system
        if info.mark is Mark.STEP and info.step:
            if self.system == "gitlab_ci" and info.step in _GITLAB_POST_SECTIONS:
                self._sub = info.step
            else:
                self.current, self._sub, self.step_start = info.step, None, lineno
        elif info.mark is Mark.END and self._sub is not None:
            self._sub = None
        if not markers or self.failed is not None or not info.text:
            return self._sub or self.current
        if _RETRY_RE.search(info.text):
            self.retry_line = lineno
        if _FAILED_RE.search(info.text):
            self.failed = self.current or ""
            self.failed_line = lineno
            m = _TRAVIS_COMMAND_EXIT.match(info.text)
            if m and (self.current is None or self.system == "travis"):
                self.failed = m.group(1)
        return self._sub or self.current

    @property
    def failed_step(self) -> str | None:
        """The step that failed first, or None when no wrapper line named one."""
        return self.failed or None

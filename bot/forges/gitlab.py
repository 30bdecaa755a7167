"""GitLab through python-gitlab: read a pipeline's failed jobs and traces, keep one MR note.

Everything here is I/O; decisions come from `bot.core.plan` and are carried out through the
`Forge` methods by `bot.app.execute()`. python-gitlab's own retry loop sleeps for whatever
`Retry-After` says and is not configurable, so it is switched off and `RetryingSession`
retries instead: 429 for every method (nothing was done), 5xx and timeouts only for
idempotent methods (a retried POST could post a second note or start a second retry), every
wait capped by configuration. Platform failures become `bot.errors.ForgeError` subclasses.

REST shapes (docs.gitlab.com/api): jobs `GET /projects/:id/pipelines/:pid/jobs?scope[]=failed`
(latest attempts only unless `include_retried=true`), `GET /projects/:id/jobs/:id/trace`
(404: no log), `POST /projects/:id/jobs/:id/retry` (201, the new job), MR notes
`GET …/merge_requests/:iid/notes?sort=asc&order_by=created_at`, `POST`/`PUT …/notes[/:id]`
(body limited to 1,000,000 characters), labels `PUT …/merge_requests/:iid` with
`add_labels`/`remove_labels` (comma-separated), award emoji `POST …/notes/:id/award_emoji`,
membership `GET /projects/:id/members/all/:user_id`.
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import gitlab.exceptions as glexc
import requests

import gitlab
from bot.core.comment import parse_state, render_body, splice
from bot.core.markdown import ZWSP
from bot.core.plan import ChangeRef, JobRef, RunRef
from bot.core.report import COMMENT_BUDGET, MARKER
from bot.errors import ConfigError, ForgeError, LogUnavailable, PermissionDenied, RateLimited

__all__ = [
    "NOTE_LIMIT",
    "GitLabForge",
    "JobInfo",
    "RetryingSession",
    "Trace",
    "TraceWindow",
    "neutralise_quick_actions",
]

NOTE_LIMIT = 1_000_000
"""GitLab refuses note bodies over 1,000,000 characters (Notes API, `body`)."""
LABEL_COLORS = {"infrastructure": "#d93f0b", "code": "#5843ad"}
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
_TRANSIENT = frozenset({500, 502, 503, 504, *range(520, 531)})


# --------------------------------------------------------------------------------------------
# Transport


class RetryingSession(requests.Session):
    """A requests session that retries what is safe to retry, with capped, injectable waits."""

    def __init__(
        self,
        *,
        retries: int = 3,
        max_wait: float = 60.0,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__()
        self.retries = retries
        self.max_wait = max_wait
        self.backoff = backoff
        self.sleep = sleep
        self.waited: list[float] = []

    def _wait(self, attempt: int, retry_after: str | None = None) -> None:
        wait = self.backoff * (2**attempt)
        if retry_after:
            with suppress(ValueError):
                wait = float(retry_after)
        wait = max(0.0, min(wait, self.max_wait))
        self.waited.append(wait)
        self.sleep(wait)

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        verb = (method.decode() if isinstance(method, bytes) else method).upper()
        attempt = 0
        while True:
            try:
                response = super().request(verb, url, *args, **kwargs)
            except (requests.ConnectionError, requests.Timeout):
                if verb not in _IDEMPOTENT or attempt >= self.retries:
                    raise
                self._wait(attempt)
                attempt += 1
                continue
            status = response.status_code
            if status == 429:
                if attempt >= self.retries:
                    response.close()
                    raise RateLimited(f"GitLab rate limit: {verb} {_path(url)} still refused after {attempt + 1} tries")
                retry_after = response.headers.get("Retry-After")
                response.close()
                self._wait(attempt, retry_after)
                attempt += 1
                continue
            if status in _TRANSIENT and verb in _IDEMPOTENT and attempt < self.retries:
                response.close()
                self._wait(attempt)
                attempt += 1
                continue
            return response


def _path(url: str | bytes) -> str:
    text = url.decode() if isinstance(url, bytes) else url
    return re.sub(r"^https?://[^/]+", "", text).split("?", 1)[0]


# --------------------------------------------------------------------------------------------
# Traces


_SECTION_START = re.compile(rb"section_start:\d+:([A-Za-z0-9_.-]+)")
_POST_SECTIONS = frozenset(
    {
        b"after_script",
        b"upload_artifacts_on_failure",
        b"upload_artifacts_on_success",
        b"archive_cache",
        b"archive_cache_on_failure",
        b"cleanup_file_variables",
    }
)
_JOB_END = re.compile(rb"ERROR: Job failed|Job succeeded|Job's log exceeded limit")


@dataclass(frozen=True, slots=True)
class Trace:
    """What was kept of a job log, ready for the classifier, and how it was obtained."""

    data: bytes
    size: int
    """Bytes read from GitLab."""
    omitted: int = 0
    """Bytes not kept (neither the failing section's start nor the tail); lines keep their numbers."""
    complete: bool = True
    """The log ends with GitLab's job-end line; False while GitLab still assembles it."""


class TraceWindow:
    """Keep the start of the failing section and the tail of a log streamed in blocks.

    The failing section is the last non-post section that started (GitLab runs
    `after_script`, artifact upload and cleanup after the failure; they are not it). Bytes
    between the kept parts are replaced by as many newlines as they held, so the evidence
    line numbers the classifier reports still link to the right lines of the job log.
    """

    def __init__(self, cap: int) -> None:
        self.half = max(cap // 2, 1024)
        self.section = bytearray()
        self.section_line0 = 0
        self.section_full = False
        self.tail: deque[bytes] = deque()
        self.tail_size = 0
        self.lines = 0
        self.size = 0
        self.pending = b""

    def feed(self, block: bytes) -> None:
        if not block:
            return
        self.size += len(block)
        data = self.pending + block if self.pending else block
        cut = data.rfind(b"\n") + 1
        if cut:
            self._piece(data[:cut])
            self.pending = data[cut:]
        else:
            self.pending = data
        if len(self.pending) > self.half:
            # One enormous line: keep its end, which is what a reader sees last.
            self.pending = self.pending[-self.half :]

    def _piece(self, piece: bytes) -> None:
        last = None
        for m in _SECTION_START.finditer(piece):
            if m.group(1) not in _POST_SECTIONS:
                last = m
        if last is not None:
            start = piece.rfind(b"\n", 0, last.start()) + 1
            self.section = bytearray()
            self.section_full = False
            self.section_line0 = self.lines + piece.count(b"\n", 0, start)
            self._add_section(piece[start:])
        elif not self.section_full:
            self._add_section(piece)
        self.tail.append(piece)
        self.tail_size += len(piece)
        while len(self.tail) > 1 and self.tail_size - len(self.tail[0]) >= self.half:
            self.tail_size -= len(self.tail.popleft())
        self.lines += piece.count(b"\n")

    def _add_section(self, chunk: bytes) -> None:
        room = self.half - len(self.section)
        if len(chunk) <= room:
            self.section += chunk
            return
        cut = chunk.rfind(b"\n", 0, room) + 1
        self.section += chunk[:cut]
        self.section_full = True

    def result(self) -> Trace:
        tail = b"".join(self.tail)
        tail_line0 = self.lines - tail.count(b"\n")
        section = bytes(self.section)
        section_end = self.section_line0 + section.count(b"\n")
        if tail_line0 <= self.section_line0:
            data, pad = tail, 0
        else:
            rest, gap = tail, tail_line0 - section_end
            if gap < 0:
                # The tail starts inside the kept section: skip the lines both hold.
                start = 0
                for _ in range(-gap):
                    start = tail.find(b"\n", start) + 1
                rest, gap = tail[start:], 0
            pad = self.section_line0 + gap
            data = b"\n" * self.section_line0 + section + b"\n" * gap + rest
        data += self.pending
        omitted = max(0, self.size - (len(data) - pad))
        complete = _JOB_END.search(data[-8192:]) is not None
        return Trace(data=data, size=self.size, omitted=omitted, complete=complete)


# --------------------------------------------------------------------------------------------
# Untrusted text


_QUICK_ACTION = re.compile(r"^[ \t]*/")


def neutralise_quick_actions(body: str) -> str:
    """No line of a note may start a GitLab quick action, inside or outside code fences.

    The core renderers already neutralise every untrusted line; this is the last guard before
    the body leaves, because a line starting with `/` is executed with the bot's permissions.
    Carriage returns are dropped first, as GitLab's extractor does before it looks for lines.
    """
    lines = body.replace("\r", "").split("\n")
    return "\n".join(ZWSP + line if _QUICK_ACTION.match(line) else line for line in lines)


# --------------------------------------------------------------------------------------------
# The adapter


@dataclass(frozen=True, slots=True)
class JobInfo:
    """One job of the pipeline, as the Jobs API describes it."""

    id: int
    name: str
    stage: str = ""
    status: str = ""
    failure_reason: str = ""
    allow_failure: bool = False
    web_url: str = ""
    runner_id: int | None = None
    runner_description: str = ""
    tags: tuple[str, ...] = ()
    retries: int = 0
    """Earlier attempts of this job in the pipeline (GitLab's own `retry:` ones included)."""


@dataclass(frozen=True, slots=True)
class PipelineInfo:
    id: int
    ref: str = ""
    sha: str = ""
    web_url: str = ""
    status: str = ""
    source: str = ""


@dataclass(slots=True)
class GitLabForge:
    """The `Forge` port for GitLab, plus what the CI job needs to read a pipeline."""

    gl: gitlab.Gitlab
    project_id: int | str
    user_id: int = 0
    job_token: bool = False
    merged_state: Any = None
    """The comment state after merging a racing note into ours (None: no race happened)."""
    _project: Any = field(default=None, init=False)
    _mr_urls: dict[int, str] = field(default_factory=dict, init=False)
    _read: dict[int, str] = field(default_factory=dict, init=False)
    """The note body each change had when we read it: the base of the three-way merge."""

    # -- connecting ---------------------------------------------------------------------------

    @classmethod
    def connect(
        cls,
        url: str,
        token: str,
        project_id: int | str,
        *,
        job_token: bool = False,
        timeout: float = 30.0,
        session: requests.Session | None = None,
    ) -> GitLabForge:
        """Authenticate and learn who we are; ConfigError when the token cannot do the job."""
        gl = gitlab.Gitlab(
            url,
            private_token=None if job_token else token,
            job_token=token if job_token else None,
            timeout=timeout,
            per_page=100,
            retry_transient_errors=False,
            session=session or RetryingSession(),
        )
        forge = cls(gl, project_id, job_token=job_token)
        with forge._errors("authenticate"):
            try:
                gl.auth()
            except (glexc.GitlabAuthenticationError, glexc.GitlabGetError) as exc:
                code = getattr(exc, "response_code", None)
                if code in (401, 403):
                    raise ConfigError(_token_problem(job_token, code)) from exc
                raise
        assert gl.user is not None
        forge.user_id = int(gl.user.id)
        return forge

    @property
    def project(self) -> Any:
        if self._project is None:
            self._project = self.gl.projects.get(self.project_id, lazy=True)
        return self._project

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """Turn python-gitlab and requests failures into the bot's error tree."""
        try:
            yield
        except (ConfigError, ForgeError):
            raise
        except glexc.GitlabError as exc:
            code = getattr(exc, "response_code", None)
            message = _short(str(getattr(exc, "error_message", "") or exc))
            if code in (401, 403):
                hint = (
                    _token_problem(self.job_token, code)
                    if self.job_token
                    else ("the token needs the Developer role (Maintainer on protected branches) and the api scope")
                )
                if self.job_token:
                    raise ConfigError(hint) from exc
                raise PermissionDenied(f"cannot {what}: HTTP {code} {message}; {hint}") from exc
            raise ForgeError(f"cannot {what}: HTTP {code or '?'} {message}") from exc
        except requests.RequestException as exc:
            raise ForgeError(f"cannot {what}: {type(exc).__name__}: {_short(str(exc))}") from exc

    # -- reading the pipeline -----------------------------------------------------------------

    def pipeline(self, pipeline_id: int) -> PipelineInfo:
        with self._errors(f"read pipeline {pipeline_id}"):
            p = self.project.pipelines.get(pipeline_id)
        a = p.attributes
        return PipelineInfo(
            id=int(a["id"]),
            ref=str(a.get("ref") or ""),
            sha=str(a.get("sha") or ""),
            web_url=str(a.get("web_url") or ""),
            status=str(a.get("status") or ""),
            source=str(a.get("source") or ""),
        )

    def jobs(self, pipeline_id: int) -> tuple[list[JobInfo], dict[str, list[dict[str, Any]]]]:
        """The failed jobs (latest attempts) with their retry counts, and every attempt by name."""
        with self._errors(f"list the jobs of pipeline {pipeline_id}"):
            pipeline = self.project.pipelines.get(pipeline_id, lazy=True)
            failed = pipeline.jobs.list(scope=["failed"], get_all=True)
            # GitLab documents `include_retried=true`; python-gitlab would send `True`.
            every = pipeline.jobs.list(include_retried="true", get_all=True)
        attempts: dict[str, list[dict[str, Any]]] = {}
        for j in every:
            attempts.setdefault(str(j.attributes["name"]), []).append(dict(j.attributes))
        for runs in attempts.values():
            runs.sort(key=lambda a: int(a["id"]))
        out = []
        for j in failed:
            a = j.attributes
            name = str(a["name"])
            earlier = [r for r in attempts.get(name, []) if int(r["id"]) < int(a["id"])]
            runner = a.get("runner") or {}
            out.append(
                JobInfo(
                    id=int(a["id"]),
                    name=name,
                    stage=str(a.get("stage") or ""),
                    status=str(a.get("status") or ""),
                    failure_reason=str(a.get("failure_reason") or ""),
                    allow_failure=bool(a.get("allow_failure")),
                    web_url=str(a.get("web_url") or ""),
                    runner_id=int(runner["id"]) if runner.get("id") is not None else None,
                    runner_description=str(runner.get("description") or ""),
                    tags=tuple(str(t) for t in a.get("tag_list") or ()),
                    retries=len(earlier),
                )
            )
        out.sort(key=lambda j: j.id)
        return out, attempts

    def trace(self, job_id: int, cap: int) -> Trace:
        """Stream a job log, keeping the failing section and the tail within `cap` bytes."""
        window = TraceWindow(cap)
        try:
            with self._errors(f"read the log of job {job_id}"):
                job = self.project.jobs.get(job_id, lazy=True)
                for block in job.trace(streamed=True, iterator=True, chunk_size=65536):
                    window.feed(block)
        except ForgeError as exc:
            cause = exc.__cause__
            if getattr(cause, "response_code", None) in (404, 410):
                raise LogUnavailable(f"job {job_id} has no log (expired or erased)") from exc
            if window.size and isinstance(cause, requests.RequestException):
                # The connection broke mid-stream: classify what arrived, say it is partial.
                result = window.result()
                return Trace(result.data, result.size, result.omitted, complete=False)
            raise LogUnavailable(str(exc)) from exc
        return window.result()

    def find_merge_request(self, iid: int | None, ref: str, sha: str) -> ChangeRef | None:
        """The MR by iid (MR pipelines), else the open MR whose source branch is `ref` at `sha`."""
        with self._errors("find the merge request"):
            if iid:
                mr = self.project.mergerequests.get(iid)
                self._mr_urls[int(iid)] = str(mr.attributes.get("web_url") or "")
                return ChangeRef(int(mr.attributes["iid"]), str(mr.attributes.get("sha") or sha))
            if not ref:
                return None
            found = self.project.mergerequests.list(source_branch=ref, state="opened", get_all=True)
        candidates = [m.attributes for m in found]
        exact = [m for m in candidates if not sha or m.get("sha") == sha]
        pick = (exact or candidates)[:1]
        if not pick:
            return None
        self._mr_urls[int(pick[0]["iid"])] = str(pick[0].get("web_url") or "")
        return ChangeRef(int(pick[0]["iid"]), str(pick[0].get("sha") or sha))

    # -- the Forge port -----------------------------------------------------------------------

    def _mr(self, change: ChangeRef) -> Any:
        return self.project.mergerequests.get(change.number, lazy=True)

    def _ours(self, change: ChangeRef) -> list[tuple[int, str]]:
        """Our notes with the marker, oldest first (marker *and* author: anyone can paste it)."""
        notes = self._mr(change).notes.list(sort="asc", order_by="created_at", iterator=True)
        out = []
        for n in notes:
            a = n.attributes
            author = (a.get("author") or {}).get("id")
            body = str(a.get("body") or "")
            if not a.get("system") and author == self.user_id and MARKER in body:
                out.append((int(a["id"]), body))
        out.sort()
        return out

    def find_comment(self, change: ChangeRef) -> tuple[int, str] | None:
        with self._errors(f"read the notes of !{change.number}"):
            ours = self._ours(change)
        self._read[change.number] = ours[0][1] if ours else ""
        return ours[0] if ours else None

    def upsert_comment(self, change: ChangeRef, body: str) -> str:
        """Edit our note in place, or create it; never leave two.

        GitLab has no conditional update for notes, so another triage job may have written the
        note since we read it (two pipelines of one MR), or both may have found none and created
        one each. The note is re-read just before writing and the runs we did not change are
        taken from it (a three-way merge on the run sections); of two notes, the oldest is kept.
        """
        body = _fit(neutralise_quick_actions(body))
        with self._errors(f"write the note on !{change.number}"):
            mr = self._mr(change)
            ours = self._ours(change)
            if not ours:
                created = mr.notes.create({"body": body})
                mine = int(created.attributes["id"])
                ours = self._ours(change)
                if len(ours) <= 1:
                    return self._note_url(change, mine)
            keep, current = ours[0]
            merged = self._merge(change, body, [b for _, b in ours])
            if merged != current:
                mr.notes.update(keep, {"body": merged})
            for extra, _ in ours[1:]:
                try:
                    mr.notes.delete(extra)
                except glexc.GitlabDeleteError as exc:
                    if exc.response_code != 404:  # the racing job deleted it first
                        raise
            return self._note_url(change, keep)

    def _merge(self, change: ChangeRef, ours: str, remote: Sequence[str]) -> str:
        mine = parse_state(ours)
        read = parse_state(self._read.get(change.number, ""))
        changed = {
            r
            for r, section in mine.sections.items()
            if read.sections.get(r) != section or read.runs.get(r) != mine.runs.get(r)
        }
        state = mine
        for body in remote:
            theirs = parse_state(body)
            for run_id, run in theirs.runs.items():
                if run_id in changed or run_id not in theirs.sections:
                    continue
                if state.sections.get(run_id) == theirs.sections[run_id] and state.runs.get(run_id) == run:
                    continue
                _, state = splice(state, run, theirs.sections[run_id], head_sha=change.head_sha)
        if state is mine:
            return ours
        self.merged_state = state
        return _fit(neutralise_quick_actions(render_body(state, COMMENT_BUDGET)))

    def _note_url(self, change: ChangeRef, note_id: int) -> str:
        base = self._mr_urls.get(change.number, "")
        return f"{base}#note_{note_id}" if base else f"note {note_id} on !{change.number}"

    def labels(self, change: ChangeRef) -> list[str]:
        with self._errors(f"read the labels of !{change.number}"):
            mr = self.project.mergerequests.get(change.number)
        return [str(x) for x in mr.attributes.get("labels") or ()]

    def set_labels(self, change: ChangeRef, add: Sequence[str], remove: Sequence[str]) -> None:
        data: dict[str, str] = {}
        if add:
            for name in add:
                self._ensure_label(name)
            data["add_labels"] = ",".join(add)
        if remove:
            data["remove_labels"] = ",".join(remove)
        if not data:
            return
        with self._errors(f"set the labels of !{change.number}"):
            self.project.mergerequests.update(change.number, data)

    def _ensure_label(self, name: str) -> None:
        """Create the label with our colour; if it exists (409) or cannot be created, GitLab
        still creates a missing label with its default colour when it is added to the MR."""
        kind = "code" if name.endswith("code") else "infrastructure"
        with suppress(ForgeError), self._errors(f"create the label {name!r}"):
            self.project.labels.create(
                {
                    "name": name,
                    "color": LABEL_COLORS[kind],
                    "description": f"ci-triage: the latest failed pipeline looks like {kind}",
                }
            )

    def rerun_jobs(self, run: RunRef, jobs: Sequence[JobRef]) -> int:
        accepted = 0
        refused: list[str] = []
        for job in jobs:
            try:
                with self._errors(f"retry job {job.id}"):
                    self.project.jobs.get(job.id, lazy=True).retry()
                accepted += 1
            except ForgeError as exc:
                refused.append(str(exc))
        if refused:
            raise ForgeError(f"{accepted} of {len(jobs)} retries accepted; " + "; ".join(refused))
        return accepted

    # -- for `/retriage` (used by the webhook service) ----------------------------------------

    def react(self, change: ChangeRef, note_id: int, emoji: str) -> None:
        """Award an emoji to a note (e.g. `eyes` to acknowledge a `/retriage`)."""
        with self._errors(f"react to note {note_id}"):
            note = self._mr(change).notes.get(note_id, lazy=True)
            note.awardemojis.create({"name": emoji})

    def access_level(self, user_id: int) -> int:
        """The user's effective access level in the project (0: not a member)."""
        try:
            with self._errors(f"read the membership of user {user_id}"):
                member = self.project.members_all.get(user_id)
        except ForgeError as exc:
            if getattr(exc.__cause__, "response_code", None) == 404:
                return 0
            raise
        return int(member.attributes.get("access_level") or 0)


def _fit(body: str) -> str:
    if len(body) <= NOTE_LIMIT:
        return body
    return body[: NOTE_LIMIT - 80] + "\n\n_(truncated to GitLab's note size limit)_\n"


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _token_problem(job_token: bool, code: int | None) -> str:
    if job_token:
        return (
            f"GitLab refused CI_JOB_TOKEN (HTTP {code}). A job token cannot read other jobs' logs, "
            "write merge request notes, set labels or retry jobs. Create a project or group access "
            "token with the Developer role and the `api` scope, store it as a masked CI/CD variable "
            "named CI_TRIAGE_TOKEN (or the variable the `token-variable` input names), and do not "
            "set it to $CI_JOB_TOKEN."
        )
    return (
        f"GitLab refused the access token (HTTP {code}): it is expired, revoked or mistyped. "
        "Use a project or group access token with the Developer role and the `api` scope."
    )

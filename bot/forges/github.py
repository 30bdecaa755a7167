"""GitHubForge: the only module that talks to GitHub (PyGithub for the API, httpx for logs).

What it adds to PyGithub, and why (platform.md §1):

* Retries. PyGithub's default retry also retries POSTs, so a 502 after GitHub stored a
  comment posts it twice. Here urllib3 retries only idempotent methods (GET, PATCH, PUT,
  DELETE), waits are capped by `max_wait` (`Retry-After` and the secondary-rate-limit wait
  included), and POSTs are retried by hand after checking whether the first attempt landed:
  the comment list is read again before a second create, the run's attempt before a second
  re-run.
* One comment. Ours is found by the hidden marker *and* the bot's login. When two triage
  runs race (both create, or one edits while the other reads), the comment is re-read and
  the runs' sections merged, and duplicates collapse into the oldest comment.
* Logs. The job-log endpoint answers with a redirect to a blob host; it is followed by hand
  so the token never goes there, and the body is streamed through `LogKeeper`, which keeps a
  bounded head, the failing step's start and end, and the tail, cutting the middle with a
  note while keeping the original line numbers (evidence links stay right).
"""

from __future__ import annotations

import base64
import contextlib
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import quote

import github
import httpx
import requests
from github import Auth, Github, GithubException, GithubRetry

from bot.core.comment import CommentState, parse_state, render_body
from bot.core.plan import ChangeRef, JobRef, RunRef
from bot.core.report import MARKER
from bot.errors import ForgeError, LogUnavailable, PermissionDenied, RateLimited

__all__ = [
    "Annotation",
    "GitHubForge",
    "Job",
    "LogKeeper",
    "LogText",
    "Pull",
    "Run",
    "Step",
    "merge_bodies",
]

T = TypeVar("T")

LABEL_COLOURS = {"infrastructure": "d93f0b", "code": "b60205"}
LABEL_DESCRIPTIONS = {
    "infrastructure": "ci-triage: the CI failure looks caused by the infrastructure, not the change",
    "code": "ci-triage: the CI failure looks caused by the change",
}
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


# --------------------------------------------------------------------------------------------
# Facts read from GitHub


@dataclass(frozen=True, slots=True)
class Step:
    number: int
    name: str
    conclusion: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    name: str
    html_url: str = ""
    status: str = "completed"
    conclusion: str | None = None
    runner_id: int | None = None
    runner_name: str | None = None
    labels: tuple[str, ...] = ()
    steps: tuple[Step, ...] = ()

    @property
    def never_ran(self) -> bool:
        """No runner ever picked it up: no steps, no runner, so no log to read."""
        return not self.steps and not self.runner_id and not self.runner_name

    @property
    def failed_step(self) -> Step | None:
        return next((s for s in self.steps if s.conclusion in ("failure", "timed_out")), None)


@dataclass(frozen=True, slots=True)
class Run:
    id: int
    attempt: int
    name: str
    number: int
    html_url: str
    status: str
    conclusion: str | None
    head_sha: str
    head_branch: str
    head_repository: str
    event: str
    workflow_id: int
    pull_numbers: tuple[int, ...] = ()

    def ref(self) -> RunRef:
        title = f"{self.name} #{self.number}" + (f", attempt {self.attempt}" if self.attempt > 1 else "")
        return RunRef(
            id=self.id,
            attempt=self.attempt,
            title=title,
            url=self.html_url,
            head_sha=self.head_sha,
            conclusion=self.conclusion or "",
        )


@dataclass(frozen=True, slots=True)
class Pull:
    number: int
    head_sha: str
    head_ref: str
    head_repository: str
    state: str = "open"


@dataclass(frozen=True, slots=True)
class Annotation:
    level: str
    message: str
    title: str = ""


@dataclass(frozen=True, slots=True)
class LogText:
    """A job log as downloaded: the bytes kept, and what was left out and why."""

    chunks: tuple[bytes, ...]
    total_bytes: int
    kept_bytes: int
    cut_bytes: int = 0
    incomplete: bool = False
    """The download ended early (connection dropped); what arrived is kept."""

    @property
    def note(self) -> str:
        notes = []
        if self.cut_bytes:
            notes.append(
                f"The log is {_size(self.total_bytes)}; {_size(self.cut_bytes)} in the middle were "
                "skipped (the start, the failing step and the end were read)."
            )
        if self.incomplete:
            notes.append(f"The log download broke off after {_size(self.total_bytes)}; triaged what arrived.")
        return " ".join(notes)


def _size(n: int) -> str:
    if n >= 1 << 20:
        return f"{n / (1 << 20):.1f} MiB"
    if n >= 1 << 10:
        return f"{n / (1 << 10):.1f} KiB"
    return f"{n} bytes"


# --------------------------------------------------------------------------------------------
# Bounded log reading


@dataclass(slots=True)
class LogKeeper:
    """Keep a bounded head, the failing step's start and end, and the tail of a streamed log.

    Lines are numbered as in the original file. `result()` puts the kept lines back in order
    and fills each gap with one note line plus empty lines, so line N of the result is line
    N of the original log and the engine's evidence links stay correct.
    """

    max_bytes: int
    window: tuple[str, str] | None = None
    """The failing step's [start, end] as `YYYY-MM-DDTHH:MM:SS` strings, compared to log timestamps."""
    head_share: float = 0.125
    step_share: float = 0.25
    max_line: int = 64 << 10
    _head: list[tuple[int, bytes]] = field(default_factory=list)
    _step_head: list[tuple[int, bytes]] = field(default_factory=list)
    _step_tail: deque[tuple[int, bytes]] = field(default_factory=deque)
    _tail: deque[tuple[int, bytes, bool]] = field(default_factory=deque)
    _sizes: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    _line: int = 0
    _total: int = 0
    _pending: bytes = b""
    _in_step: bool = False

    def feed(self, data: bytes) -> None:
        self._total += len(data)
        data = self._pending + data
        start = 0
        while True:
            nl = data.find(b"\n", start)
            if nl < 0:
                break
            self._add(data[start : nl + 1])
            start = nl + 1
        self._pending = data[start:]
        if len(self._pending) > self.max_line:
            # An endless line: keep its start, as the engine would cut it anyway.
            self._add(self._pending[: self.max_line] + b"\n")
            self._pending = b""

    def _stamp_in_window(self, line: bytes) -> bool:
        if self.window is None:
            return False
        text = line[3:22] if line.startswith(b"\xef\xbb\xbf") else line[:19]
        if len(text) == 19 and text[4:5] == b"-" and text[10:11] == b"T":
            stamp = text.decode("ascii", "replace")
            self._in_step = self.window[0] <= stamp <= self.window[1]
        return self._in_step

    def _add(self, line: bytes) -> None:
        self._line += 1
        n = self._line
        size = len(line)
        in_step = self._stamp_in_window(line)
        budget = self.max_bytes
        head_cap = int(budget * self.head_share)
        step_cap = int(budget * self.step_share) // 2
        if self._sizes[0] + size <= head_cap and len(self._head) == n - 1:
            self._head.append((n, line))
            self._sizes[0] += size
            return
        if in_step and self._sizes[1] + size <= step_cap and not self._step_tail:
            self._step_head.append((n, line))
            self._sizes[1] += size
            return
        self._tail.append((n, line, in_step))
        self._sizes[3] += size
        tail_cap = budget - head_cap - 2 * step_cap
        while self._sizes[3] > tail_cap and len(self._tail) > 1:
            old_n, old, old_in_step = self._tail.popleft()
            self._sizes[3] -= len(old)
            if old_in_step:
                self._step_tail.append((old_n, old))
                self._sizes[2] += len(old)
                while self._sizes[2] > step_cap and self._step_tail:
                    self._sizes[2] -= len(self._step_tail.popleft()[1])

    def result(self, *, incomplete: bool = False) -> LogText:
        if self._pending:
            self._add(self._pending)
            self._pending = b""
        kept: list[tuple[int, bytes]] = [*self._head, *self._step_head, *self._step_tail]
        kept.extend((n, line) for n, line, _ in self._tail)
        kept.sort(key=lambda item: item[0])  # the tail may hold lines from before the failing step
        out: list[bytes] = []
        expected, kept_bytes = 1, 0
        for n, line in kept:
            if n > expected:
                out.append(self._gap(expected, n))
            out.append(line if line.endswith(b"\n") else line + b"\n")
            kept_bytes += len(line)
            expected = n + 1
        cut = max(0, self._total - kept_bytes)
        return LogText(tuple(out), self._total, kept_bytes, cut, incomplete)

    @staticmethod
    def _gap(first: int, stop: int) -> bytes:
        count = stop - first
        note = f"[ci-triage] {count} log line(s) ({first}-{stop - 1}) skipped here to stay within the download cap\n"
        return note.encode() + b"\n" * (count - 1)


# --------------------------------------------------------------------------------------------
# Retries


class CappedRetry(GithubRetry):
    """PyGithub's retry with every wait capped at `max_wait` seconds (tests pass a tiny cap)."""

    def __init__(self, max_wait: float = 60.0, **kwargs: Any) -> None:
        self.max_wait = max_wait
        super().__init__(**kwargs)

    def new(self, **kw: Any) -> CappedRetry:
        kw["max_wait"] = self.max_wait
        retry = super().new(**kw)
        assert isinstance(retry, CappedRetry)
        return retry

    def sleep(self, response: Any = None) -> None:
        wait = self.get_retry_after(response) if response is not None else None
        if wait is None:
            wait = self.get_backoff_time()
        time.sleep(max(0.0, min(wait, self.max_wait)))


def _retry_after(headers: Any, attempt: int, max_wait: float) -> float:
    value = headers.get("retry-after") if headers else None
    wait = float(2**attempt)
    if value:
        with contextlib.suppress(ValueError):
            wait = float(value)
    return max(0.0, min(wait, max_wait))


def _is_rate_limit(status: int, data: Any, headers: Any) -> bool:
    if status == 429:
        return True
    if status != 403:
        return False
    message = str(data.get("message", "")) if isinstance(data, dict) else str(data)
    return (
        "rate limit" in message.lower()
        or bool(headers and headers.get("retry-after"))
        or (bool(headers) and headers.get("x-ratelimit-remaining") == "0")
    )


def _error(exc: Exception, doing: str) -> ForgeError:
    """Translate a client exception into the bot's error tree, with a short plain message."""
    if isinstance(exc, ForgeError):
        return exc
    if isinstance(exc, GithubException):
        data = exc.data if isinstance(exc.data, dict) else {}
        message = str(data.get("message", "")) or exc.__class__.__name__
        text = f"{doing}: GitHub answered {exc.status} ({message})"
        if _is_rate_limit(exc.status, data, exc.headers):
            return RateLimited(text)
        if exc.status in (401, 403):
            return PermissionDenied(text)
        return ForgeError(text)
    if isinstance(exc, requests.RequestException | httpx.HTTPError):
        return ForgeError(f"{doing}: {type(exc).__name__} talking to GitHub")
    return ForgeError(f"{doing}: {type(exc).__name__}")


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, GithubException):
        return exc.status in _RETRY_STATUSES or _is_rate_limit(exc.status, exc.data, exc.headers)
    return isinstance(exc, requests.RequestException)


# --------------------------------------------------------------------------------------------
# Comment merging


def merge_bodies(base: str | None, mine: str, theirs: str | None) -> str:
    """Three-way merge of our comment: `theirs` (now on GitHub) plus the sections we changed.

    `base` is what we read before planning, `mine` what we want to write. Sections that
    `mine` changed relative to `base` win; everything else keeps `theirs`' version, so a
    concurrent triage of another run is never lost.
    """
    if theirs is None or theirs == base:
        return mine
    b, m, t = parse_state(base), parse_state(mine), parse_state(theirs)
    runs = dict(t.runs)
    sections = dict(t.sections)
    for run_id, section in m.sections.items():
        if b.sections.get(run_id) != section or b.runs.get(run_id) != m.runs.get(run_id):
            sections[run_id] = section
            if run_id in m.runs:
                runs[run_id] = m.runs[run_id]
    return render_body(CommentState({k: v for k, v in runs.items() if k in sections}, sections))


# --------------------------------------------------------------------------------------------
# The forge


class GitHubForge:
    """The Forge port for GitHub, plus the reads the Action needs. Errors are ForgeErrors."""

    def __init__(
        self,
        token: str,
        repository: str,
        *,
        api_url: str = "https://api.github.com",
        bot_login: str = "github-actions[bot]",
        timeout: float = 30.0,
        retries: int = 4,
        max_wait: float = 60.0,
        log_max_bytes: int = 16 << 20,
        throttle: bool = True,
        settle: float = 1.0,
    ) -> None:
        self._settle_seconds = settle
        self.repository = repository
        self.api_url = api_url.rstrip("/")
        self.bot_login = bot_login
        self.retries = retries
        self.max_wait = max_wait
        self.log_max_bytes = log_max_bytes
        self._token = token
        retry = CappedRetry(
            max_wait=max_wait,
            total=retries,
            backoff_factor=1.0,
            raise_on_status=False,
            secondary_rate_wait=min(60.0, max_wait),
            allowed_methods=frozenset({"GET", "HEAD", "PATCH", "PUT", "DELETE"}),
        )
        self._gh = Github(
            auth=Auth.Token(token),
            base_url=self.api_url,
            per_page=100,
            timeout=max(1, round(timeout)),
            retry=retry,
            seconds_between_requests=0.25 if throttle else None,
            seconds_between_writes=1.0 if throttle else None,
            lazy=True,
        )
        self._repo = self._gh.get_repo(repository)
        self._http = httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=False)
        self._seen: dict[int, tuple[int, str] | None] = {}
        """What find_comment returned per change: the base of the merge in upsert_comment."""

    # -- plumbing -------------------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()
        self._gh.close()

    def __enter__(self) -> GitHubForge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _url(self, path: str) -> str:
        return f"{self._repo.url}{path}"

    def _call(self, doing: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except (GithubException, requests.RequestException) as exc:
            raise _error(exc, doing) from exc

    def _json(self, verb: str, path: str, doing: str, **kwargs: Any) -> Any:
        def call() -> Any:
            return self._gh.requester.requestJsonAndCheck(verb, self._url(path), **kwargs)[1]

        return self._call(doing, call)

    def _post(self, doing: str, send: Callable[[], T], landed: Callable[[], T | None]) -> T:
        """A POST retried by hand: before each retry, `landed()` says whether it took effect."""
        attempt = 0
        while True:
            try:
                return send()
            except (GithubException, requests.RequestException) as exc:
                if not _retryable(exc) or attempt >= self.retries:
                    raise _error(exc, doing) from exc
                headers = exc.headers if isinstance(exc, GithubException) else None
                time.sleep(_retry_after(headers, attempt, self.max_wait))
                attempt += 1
                done = self._call(doing, landed)
                if done is not None:
                    return done

    # -- runs, jobs, logs -------------------------------------------------------------------------

    def run(self, run_id: int) -> Run:
        data = self._json("GET", f"/actions/runs/{run_id}", f"reading workflow run {run_id}")
        return _run(data)

    def runs_for_sha(self, head_sha: str) -> list[Run]:
        """The latest run of each workflow at `head_sha`, newest first."""

        def read() -> list[Run]:
            runs = [_run_object(r) for r in self._repo.get_workflow_runs(head_sha=head_sha)]
            latest: dict[int, Run] = {}
            for r in sorted(runs, key=lambda r: r.id):
                latest[r.workflow_id] = r
            return sorted(latest.values(), key=lambda r: -r.id)

        return self._call(f"listing workflow runs for {head_sha[:12]}", read)

    def failed_jobs(self, run: Run) -> list[Job]:
        """Failed jobs of the run's latest attempt; cancelled ones only if they never got a runner."""

        def read() -> list[Job]:
            jobs = [_job_object(j) for j in self._gh_run(run.id).jobs(_filter="latest")]
            return [
                j
                for j in jobs
                if j.conclusion in ("failure", "timed_out") or (j.conclusion == "cancelled" and j.never_ran)
            ]

        return self._call(f"listing the jobs of run {run.id}", read)

    def _gh_run(self, run_id: int) -> github.WorkflowRun.WorkflowRun:
        return self._repo.get_workflow_run(run_id)

    def annotations(self, job_id: int) -> list[Annotation]:
        data = self._json(
            "GET",
            f"/check-runs/{job_id}/annotations",
            f"reading the annotations of job {job_id}",
            parameters={"per_page": 50},
        )
        return [
            Annotation(str(a.get("annotation_level") or ""), str(a.get("message") or ""), str(a.get("title") or ""))
            for a in data
        ]

    def job_log(self, job: Job) -> LogText:
        """Stream the job's log within the size cap; LogUnavailable when it is gone or unreadable."""
        step = job.failed_step
        window = None
        if step is not None and step.started_at is not None:
            end = (step.completed_at or step.started_at) + timedelta(seconds=1)
            window = (_stamp(step.started_at), _stamp(end))
        best: LogText | None = None
        last_error, wait = "", 0.0
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(min(wait, self.max_wait))
            wait = float(2**attempt)
            keeper = LogKeeper(self.log_max_bytes, window)
            try:
                self._download(job.id, keeper)
                return keeper.result()
            except _Retry as exc:
                last_error = exc.reason
                wait = exc.wait if exc.wait is not None else wait
            except httpx.TimeoutException:
                last_error = "the download timed out"
            except httpx.TransportError as exc:
                last_error = f"the connection broke ({type(exc).__name__})"
                partial = keeper.result(incomplete=True)
                if partial.total_bytes and (best is None or partial.total_bytes > best.total_bytes):
                    best = partial
        if best is not None:
            return best
        raise LogUnavailable(f"the log of job {job.id} could not be downloaded: {last_error}")

    def _download(self, job_id: int, keeper: LogKeeper) -> None:
        api = f"{self.api_url}/repos/{self.repository}/actions/jobs/{job_id}/logs"
        headers = {
            "Authorization": f"Bearer {self._token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "ci-triage",
        }
        with self._http.stream("GET", api, headers=headers) as response:
            if response.status_code in (301, 302, 303, 307, 308):
                location = response.headers.get("location", "")
                target = response.url.join(location) if location else None
            else:
                target = None
                self._check_status(response, job_id)
                for block in response.iter_bytes():
                    keeper.feed(block)
        if target is not None:
            # A fresh request without credentials: the token never goes to the blob host.
            with self._http.stream("GET", target, headers={"User-Agent": "ci-triage"}) as response:
                self._check_status(response, job_id)
                for block in response.iter_bytes():
                    keeper.feed(block)

    @staticmethod
    def _check_status(response: httpx.Response, job_id: int) -> None:
        status = response.status_code
        if status == 200:
            return
        response.read()
        if status in (404, 410):
            raise LogUnavailable(f"the log of job {job_id} is gone (HTTP {status}): expired or deleted")
        if status in _RETRY_STATUSES or (status == 403 and "rate limit" in response.text.lower()):
            value = response.headers.get("retry-after")
            wait = float(value) if value and value.isdigit() else None
            raise _Retry(f"GitHub answered {status}", wait)
        if status in (401, 403):
            raise PermissionDenied(f"reading the log of job {job_id}: HTTP {status} (needs `actions: read`)")
        raise LogUnavailable(f"reading the log of job {job_id}: HTTP {status}")

    # -- pull requests, permissions, config ---------------------------------------------------

    def pull(self, number: int) -> Pull:
        data = self._json("GET", f"/pulls/{number}", f"reading pull request #{number}")
        return _pull(data)

    def pulls_for_run(self, run: Run) -> list[Pull]:
        """The open PRs the run belongs to; fork PRs are looked up by head repository and branch."""
        if run.pull_numbers:
            return [self.pull(n) for n in run.pull_numbers]
        owner = run.head_repository.split("/")[0] if run.head_repository else ""
        if not owner or not run.head_branch:
            return []

        def read() -> list[Pull]:
            found = self._repo.get_pulls(state="open", head=f"{owner}:{run.head_branch}")
            return [
                Pull(p.number, p.head.sha, p.head.ref, p.head.repo.full_name if p.head.repo else "", p.state)
                for p in found
            ]

        pulls = self._call(f"looking up the pull request of {run.head_repository}", read)
        return [p for p in pulls if p.head_sha == run.head_sha and p.head_repository == run.head_repository]

    def permission(self, login: str) -> str:
        """admin | write | read | none; 404 (not a collaborator) is `none`."""
        try:
            return str(self._repo.get_collaborator_permission(login))
        except GithubException as exc:
            if exc.status == 404:
                return "none"
            raise _error(exc, f"reading the permission of {login}") from exc
        except requests.RequestException as exc:
            raise _error(exc, f"reading the permission of {login}") from exc

    def react(self, comment_id: int, content: str = "eyes") -> None:
        def send() -> None:
            self._gh.requester.requestJsonAndCheck(
                "POST", self._url(f"/issues/comments/{comment_id}/reactions"), input={"content": content}
            )

        # Reacting twice is harmless (200 "already reacted"), so the retry needs no check.
        self._post("acknowledging the command", send, lambda: None)

    def read_file(self, path: str) -> str | None:
        """A file of the default branch through the contents API; None when it does not exist."""
        try:
            content = self._repo.get_contents(path)
        except GithubException as exc:
            if exc.status == 404:
                return None
            raise _error(exc, f"reading {path}") from exc
        except requests.RequestException as exc:
            raise _error(exc, f"reading {path}") from exc
        if isinstance(content, list):
            return None
        return base64.b64decode(content.content or "").decode("utf-8", "replace")

    # -- the Forge port ---------------------------------------------------------------------------

    def _ours(self, number: int) -> list[tuple[int, str, str]]:
        """(id, body, url) of every comment of ours on the change, oldest first."""

        def read() -> list[tuple[int, str, str]]:
            out = []
            for c in self._repo.get_issue(number).get_comments():
                body = c.body or ""
                if MARKER in body and c.user is not None and c.user.login == self.bot_login:
                    out.append((c.id, body, c.html_url))
            return sorted(out)

        return self._call(f"listing the comments of #{number}", read)

    def find_comment(self, change: ChangeRef) -> tuple[int, str] | None:
        ours = self._ours(change.number)
        found = (ours[0][0], ours[0][1]) if ours else None
        self._seen[change.number] = found
        return found

    def upsert_comment(self, change: ChangeRef, body: str) -> str:
        base = self._seen.get(change.number)
        ours = self._ours(change.number)
        if ours:
            return self._settle(change, ours, base[1] if base else None, body, mine=None)
        issue = self._repo.get_issue(change.number)

        def send() -> tuple[int, str]:
            c = issue.create_comment(body)
            return c.id, c.html_url

        def landed() -> tuple[int, str] | None:
            # Ours with exactly this body: another triage's comment is not proof that ours landed.
            return next(((c[0], c[2]) for c in self._ours(change.number) if c[1] == body), None)

        created = self._post(f"commenting on #{change.number}", send, landed)
        # Re-list: another triage run may have created its comment at the same time.
        ours = self._ours(change.number)
        if len(ours) <= 1:
            return ours[0][2] if ours else created[1]
        return self._settle(change, ours, None, body, mine=created[0])

    def _settle(
        self, change: ChangeRef, ours: list[tuple[int, str, str]], base: str | None, body: str, mine: int | None
    ) -> str:
        """Write `body` into the oldest comment of ours, merging what others wrote meanwhile.

        GitHub has no compare-and-swap on comments, so after writing we read the comment
        again; if another triage wrote in between and our sections are gone, we merge again.
        """
        keep_id, theirs, url = ours[0]
        merged = body if mine == keep_id else merge_bodies(base, body, theirs)
        for other_id, other_body, _ in ours[1:]:
            if other_id != mine:
                merged = merge_bodies(None, other_body, merged)
        wanted = parse_state(body).sections
        settled = False
        for _ in range(4):
            if merged != theirs:
                data = self._json(
                    "PATCH",
                    f"/issues/comments/{keep_id}",
                    f"editing our comment on #{change.number}",
                    input={"body": merged},
                )
                url = str(data.get("html_url", url))
            now = next((c for c in self._ours(change.number) if c[0] == keep_id), None)
            if now is None or all(parse_state(now[1]).sections.get(k) == v for k, v in wanted.items()):
                if settled or self._settle_seconds <= 0:
                    break
                # No compare-and-swap on comments: a triage that read the comment before our
                # write can still overwrite it with a stale merge right after we verified. Such a
                # write lands within moments of ours, so look once more after a short wait.
                settled = True
                time.sleep(self._settle_seconds)
                now = next((c for c in self._ours(change.number) if c[0] == keep_id), None)
                if now is None or all(parse_state(now[1]).sections.get(k) == v for k, v in wanted.items()):
                    break
            theirs, merged = now[1], merge_bodies(None, body, now[1])
        for other_id, _, _ in ours[1:]:
            with contextlib.suppress(ForgeError):
                self._json("DELETE", f"/issues/comments/{other_id}", "removing a duplicate comment")
        self._seen[change.number] = (keep_id, merged)
        return url

    def labels(self, change: ChangeRef) -> list[str]:
        def read() -> list[str]:
            return [label.name for label in self._repo.get_issue(change.number).get_labels()]

        return self._call(f"reading the labels of #{change.number}", read)

    def set_labels(self, change: ChangeRef, add: Sequence[str], remove: Sequence[str]) -> None:
        for name in add:
            self._ensure_label(name)
        if add:
            names = list(add)

            def send() -> None:
                self._gh.requester.requestJsonAndCheck(
                    "POST", self._url(f"/issues/{change.number}/labels"), input={"labels": names}
                )

            # Adding a label twice is harmless, so a retry needs no check.
            self._post(f"labelling #{change.number}", send, lambda: None)
        for name in remove:
            try:
                self._gh.requester.requestJsonAndCheck(
                    "DELETE", self._url(f"/issues/{change.number}/labels/{quote(name, safe='')}")
                )
            except GithubException as exc:
                if exc.status != 404:  # not on the PR any more: what we wanted
                    raise _error(exc, f"removing the label {name!r}") from exc
            except requests.RequestException as exc:
                raise _error(exc, f"removing the label {name!r}") from exc

    def _ensure_label(self, name: str) -> None:
        try:
            self._gh.requester.requestJsonAndCheck("GET", self._url(f"/labels/{quote(name, safe='')}"))
            return
        except GithubException as exc:
            if exc.status != 404:
                raise _error(exc, f"reading the label {name!r}") from exc
        except requests.RequestException as exc:
            raise _error(exc, f"reading the label {name!r}") from exc
        kind = "code" if "code" in name.lower() else "infrastructure"

        def send() -> None:
            try:
                self._gh.requester.requestJsonAndCheck(
                    "POST",
                    self._url("/labels"),
                    input={"name": name, "color": LABEL_COLOURS[kind], "description": LABEL_DESCRIPTIONS[kind]},
                )
            except GithubException as exc:
                if exc.status != 422:  # created meanwhile by someone else: fine
                    raise

        self._post(f"creating the label {name!r}", send, lambda: None)

    def rerun_jobs(self, run: RunRef, jobs: Sequence[JobRef]) -> int:
        """Re-run the run's failed jobs (and their dependents) once; never twice.

        GitHub only re-runs a whole attempt at a time, so this is `rerun-failed-jobs`: every
        job the plan names failed, and the plan only re-runs when all failed jobs qualify.
        """

        def landed() -> int | None:
            now = self.run(run.id)
            return len(jobs) if now.attempt > run.attempt or now.status != "completed" else None

        if self._call(f"re-reading run {run.id}", landed) is not None:
            return 0  # already re-run (another triage of the same run got there first)

        def send() -> int:
            try:
                self._gh.requester.requestJsonAndCheck(
                    "POST",
                    self._url(f"/actions/runs/{run.id}/rerun-failed-jobs"),
                    input={"enable_debug_logging": False},
                )
            except GithubException as exc:
                if exc.status in (403, 409) and not _is_rate_limit(exc.status, exc.data, exc.headers):
                    if self._call(f"re-reading run {run.id}", landed) is not None:
                        return 0  # refused because it is already running again: someone got there first
                    message = exc.data.get("message", "") if isinstance(exc.data, dict) else ""
                    raise PermissionDenied(
                        f"GitHub refused the re-run ({exc.status}: {message or 'forbidden'}); "
                        "the run may already be running again, or the token lacks `actions: write`"
                    ) from exc
                raise
            return len(jobs)

        return self._post(f"re-running run {run.id}", send, landed)


class _Retry(Exception):
    def __init__(self, reason: str, wait: float | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.wait = wait


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def _run(data: dict[str, Any]) -> Run:
    head_repo = data.get("head_repository") or {}
    return Run(
        id=int(data["id"]),
        attempt=int(data.get("run_attempt") or 1),
        name=str(data.get("name") or "workflow"),
        number=int(data.get("run_number") or 0),
        html_url=str(data.get("html_url") or ""),
        status=str(data.get("status") or ""),
        conclusion=data.get("conclusion"),
        head_sha=str(data.get("head_sha") or ""),
        head_branch=str(data.get("head_branch") or ""),
        head_repository=str(head_repo.get("full_name") or ""),
        event=str(data.get("event") or ""),
        workflow_id=int(data.get("workflow_id") or 0),
        pull_numbers=tuple(int(p["number"]) for p in data.get("pull_requests") or () if "number" in p),
    )


def _pull(data: dict[str, Any]) -> Pull:
    head = data.get("head") or {}
    repo = head.get("repo") or {}
    return Pull(
        number=int(data["number"]),
        head_sha=str(head.get("sha") or ""),
        head_ref=str(head.get("ref") or ""),
        head_repository=str(repo.get("full_name") or ""),
        state=str(data.get("state") or "open"),
    )


def _run_object(r: github.WorkflowRun.WorkflowRun) -> Run:
    """A run from a list: read through the typed attributes (raw_data would fetch it again)."""
    return Run(
        id=r.id,
        attempt=r.run_attempt or 1,
        name=r.name or "workflow",
        number=r.run_number or 0,
        html_url=r.html_url or "",
        status=r.status or "",
        conclusion=r.conclusion,
        head_sha=r.head_sha or "",
        head_branch=r.head_branch or "",
        head_repository=r.head_repository.full_name if r.head_repository else "",
        event=r.event or "",
        workflow_id=r.workflow_id or 0,
        pull_numbers=tuple(p.number for p in r.pull_requests or ()),
    )


def _job_object(j: github.WorkflowJob.WorkflowJob) -> Job:
    return Job(
        id=j.id,
        name=j.name or f"job {j.id}",
        html_url=j.html_url or "",
        status=j.status or "",
        conclusion=j.conclusion,
        runner_id=j.runner_id,
        runner_name=j.runner_name,
        labels=tuple(j.labels or ()),
        steps=tuple(Step(s.number, s.name or "", s.conclusion, s.started_at, s.completed_at) for s in j.steps or ()),
    )

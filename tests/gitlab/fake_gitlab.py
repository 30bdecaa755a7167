"""A stateful fake of the GitLab REST API v4, served over a real socket.

Only the endpoints ci-triage uses exist; each is declared with the query parameters and body
keys GitLab's REST documentation lists for it (docs.gitlab.com/api: jobs.md, notes.md,
merge_requests.md, labels.md, emoji_reactions.md, members.md, users.md), and every request
python-gitlab sends is checked against that declaration. Every response body is validated
against the JSON schemas in tests/fixtures/gitlab/api_schemas.json, which were written from
the same pages' response examples. A request to an undeclared route, an undocumented
parameter, a bad value or a malformed response is recorded in `violations`, and the
`gitlab` fixture fails the test at teardown when there is any.

State (notes, labels, award emoji, retried jobs) lives in plain dicts, so tests assert on
what GitLab would hold afterwards, not on the calls that were made.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jsonschema
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

SCHEMAS = json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "gitlab" / "api_schemas.json").read_text())

VALIDATORS = {
    name: jsonschema.Draft202012Validator(schema) for name, schema in SCHEMAS.items() if not name.startswith("$")
}
JOB_SCOPES = {
    "created",
    "pending",
    "running",
    "failed",
    "success",
    "canceled",
    "skipped",
    "waiting_for_resource",
    "manual",
}
BOT_TOKEN = "glpat-fake-bot-token-0123456789"
JOB_TOKEN = "glcbt-64_fake-job-token-0123456789"
T0 = "2024-05-01T10:00:00.000Z"


@dataclass
class Fault:
    """Make matching requests fail: `times` times, then behave normally."""

    method: str
    path: str
    """A regular expression matched against the path (without /api/v4)."""
    status: int = 500
    times: int = 1
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    """Seconds to stall before answering (for client timeouts)."""
    seen: int = 0


@dataclass
class Recorded:
    method: str
    path: str
    query: MultiDict[str, str]
    body: Any
    auth: str


@dataclass
class Route:
    name: str
    query: frozenset[str] = frozenset()
    body: frozenset[str] = frozenset()
    required: frozenset[str] = frozenset()
    schema: str | None = None
    many: bool = False


_PAGING = frozenset({"page", "per_page"})
ROUTES: dict[str, Route] = {
    # users.md: GET /user
    "user": Route("user", schema="user"),
    # pipelines.md: GET /projects/:id/pipelines/:pipeline_id
    "pipeline": Route("pipeline", schema="pipeline"),
    # jobs.md: GET /projects/:id/pipelines/:pipeline_id/jobs  (scope[], include_retried)
    "pipeline_jobs": Route("pipeline_jobs", query=_PAGING | {"scope[]", "include_retried"}, schema="job", many=True),
    # jobs.md: GET /projects/:id/jobs/:job_id/trace -> text/plain, 404 without a log
    "trace": Route("trace"),
    # jobs.md: POST /projects/:id/jobs/:job_id/retry -> 201, the new job
    "retry": Route("retry", schema="job"),
    # merge_requests.md: GET /projects/:id/merge_requests (source_branch, state, ...)
    "mrs": Route("mrs", query=_PAGING | {"source_branch", "state"}, schema="merge_request", many=True),
    "mr": Route("mr", schema="merge_request"),
    # merge_requests.md: PUT /projects/:id/merge_requests/:iid (add_labels, remove_labels, ...)
    "mr_update": Route("mr_update", body=frozenset({"add_labels", "remove_labels", "labels"}), schema="merge_request"),
    # notes.md: GET/POST /projects/:id/merge_requests/:iid/notes (sort, order_by)
    "notes": Route("notes", query=_PAGING | {"sort", "order_by"}, schema="note", many=True),
    "note_create": Route(
        "note_create", body=frozenset({"body", "internal"}), required=frozenset({"body"}), schema="note"
    ),
    "note": Route("note", schema="note"),
    "note_update": Route("note_update", body=frozenset({"body"}), schema="note"),
    "note_delete": Route("note_delete"),
    # emoji_reactions.md: POST /projects/:id/merge_requests/:iid/notes/:note_id/award_emoji
    "award": Route("award", body=frozenset({"name"}), required=frozenset({"name"}), schema="award_emoji"),
    "awards": Route("awards", query=_PAGING, schema="award_emoji", many=True),
    # labels.md: POST /projects/:id/labels (name, color with '#', description)
    "label_create": Route(
        "label_create",
        body=frozenset({"name", "color", "description"}),
        required=frozenset({"name", "color"}),
        schema="label",
    ),
    # members.md: GET /projects/:id/members/all/:user_id
    "member": Route("member", schema="member"),
}

URLS = Map(
    [
        Rule("/api/v4/user", endpoint="user", methods=["GET"]),
        Rule("/api/v4/projects/<int:pid>/pipelines/<int:pipeline_id>", endpoint="pipeline", methods=["GET"]),
        Rule("/api/v4/projects/<int:pid>/pipelines/<int:pipeline_id>/jobs", endpoint="pipeline_jobs", methods=["GET"]),
        Rule("/api/v4/projects/<int:pid>/jobs/<int:job_id>/trace", endpoint="trace", methods=["GET"]),
        Rule("/api/v4/projects/<int:pid>/jobs/<int:job_id>/retry", endpoint="retry", methods=["POST"]),
        Rule("/api/v4/projects/<int:pid>/merge_requests", endpoint="mrs", methods=["GET"]),
        Rule("/api/v4/projects/<int:pid>/merge_requests/<int:iid>", endpoint="mr", methods=["GET"]),
        Rule("/api/v4/projects/<int:pid>/merge_requests/<int:iid>", endpoint="mr_update", methods=["PUT"]),
        Rule("/api/v4/projects/<int:pid>/merge_requests/<int:iid>/notes", endpoint="notes", methods=["GET"]),
        Rule("/api/v4/projects/<int:pid>/merge_requests/<int:iid>/notes", endpoint="note_create", methods=["POST"]),
        Rule(
            "/api/v4/projects/<int:pid>/merge_requests/<int:iid>/notes/<int:note_id>", endpoint="note", methods=["GET"]
        ),
        Rule(
            "/api/v4/projects/<int:pid>/merge_requests/<int:iid>/notes/<int:note_id>",
            endpoint="note_update",
            methods=["PUT"],
        ),
        Rule(
            "/api/v4/projects/<int:pid>/merge_requests/<int:iid>/notes/<int:note_id>",
            endpoint="note_delete",
            methods=["DELETE"],
        ),
        Rule(
            "/api/v4/projects/<int:pid>/merge_requests/<int:iid>/notes/<int:note_id>/award_emoji",
            endpoint="award",
            methods=["POST"],
        ),
        Rule(
            "/api/v4/projects/<int:pid>/merge_requests/<int:iid>/notes/<int:note_id>/award_emoji",
            endpoint="awards",
            methods=["GET"],
        ),
        Rule("/api/v4/projects/<int:pid>/labels", endpoint="label_create", methods=["POST"]),
        Rule("/api/v4/projects/<int:pid>/members/all/<int:user_id>", endpoint="member", methods=["GET"]),
    ]
)


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


class FakeGitLab:
    """State and behaviour of one GitLab instance with one project."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.base = ""
        self.project_id = 42
        self.users: dict[int, dict[str, Any]] = {
            7: {"id": 7, "username": "project_42_bot", "name": "ci-triage bot", "state": "active"},
            8: {"id": 8, "username": "alice", "name": "Alice", "state": "active"},
        }
        self.tokens: dict[str, int] = {BOT_TOKEN: 7, "glpat-alice-token-0123456789": 8}
        self.members: dict[int, int] = {7: 30, 8: 40}
        self.pipelines: dict[int, dict[str, Any]] = {}
        self.jobs: dict[int, dict[str, Any]] = {}
        self.traces: dict[int, list[bytes]] = {}
        """Job id -> successive versions of its log (the last one repeats)."""
        self.mrs: dict[int, dict[str, Any]] = {}
        self.notes: dict[int, list[dict[str, Any]]] = {}
        self.labels: dict[str, dict[str, Any]] = {}
        self.awards: dict[int, list[dict[str, Any]]] = {}
        self.faults: list[Fault] = []
        self.requests: list[Recorded] = []
        self.violations: list[str] = []
        self.max_per_page = 100
        self.on_notes_list: Callable[[], None] | None = None
        self.broken_traces: dict[int, int] = {}
        """Job id -> bytes sent before the connection drops (Content-Length promises all)."""
        self._ids = iter(range(1000, 10**9))

    # -- building state -----------------------------------------------------------------------

    def next_id(self) -> int:
        return next(self._ids)

    def add_pipeline(self, pid: int, *, ref: str = "feature", sha: str = "a" * 40) -> dict[str, Any]:
        p = {
            "id": pid,
            "iid": pid - 100,
            "project_id": self.project_id,
            "sha": sha,
            "ref": ref,
            "status": "running",
            "source": "merge_request_event",
            "created_at": T0,
            "updated_at": T0,
            "web_url": f"{self.base}/group/app/-/pipelines/{pid}",
        }
        self.pipelines[pid] = p
        return p

    def add_job(
        self,
        pipeline: int,
        name: str,
        *,
        status: str = "failed",
        failure_reason: str | None = "script_failure",
        allow_failure: bool = False,
        trace: bytes | list[bytes] | None = None,
        stage: str = "test",
        runner: dict[str, Any] | None = None,
        tags: Iterable[str] = ("docker",),
        job_id: int | None = None,
    ) -> dict[str, Any]:
        jid = job_id or self.next_id()
        p = self.pipelines[pipeline]
        job: dict[str, Any] = {
            "id": jid,
            "name": name,
            "stage": stage,
            "status": status,
            "ref": p["ref"],
            "tag": False,
            "coverage": None,
            "allow_failure": allow_failure,
            "created_at": T0,
            "started_at": T0,
            "finished_at": T0,
            "erased_at": None,
            "duration": 1.5,
            "queued_duration": 0.1,
            "user": None,
            "commit": {"id": p["sha"], "short_id": p["sha"][:8], "title": "change"},
            "pipeline": {
                "id": pipeline,
                "project_id": self.project_id,
                "ref": p["ref"],
                "sha": p["sha"],
                "status": p["status"],
            },
            "web_url": f"{self.base}/group/app/-/jobs/{jid}",
            "project": {"ci_job_token_scope_enabled": False},
            "artifacts": [],
            "runner": runner
            if runner is not None
            else {
                "id": 11,
                "description": "docker-runner-3",
                "active": True,
                "paused": False,
                "is_shared": True,
                "runner_type": "instance_type",
                "name": "gitlab-runner",
                "online": True,
                "status": "online",
            },
            "artifacts_expire_at": None,
            "archived": False,
            "tag_list": sorted(tags),
        }
        if status == "failed":
            job["failure_reason"] = failure_reason
        self.jobs[jid] = job
        if trace is not None:
            self.traces[jid] = list(trace) if isinstance(trace, list) else [trace]
        return job

    def add_mr(
        self, iid: int, *, source_branch: str = "feature", sha: str = "a" * 40, labels: Iterable[str] = ()
    ) -> dict[str, Any]:
        mr = {
            "id": 5000 + iid,
            "iid": iid,
            "project_id": self.project_id,
            "title": f"MR {iid}",
            "state": "opened",
            "source_branch": source_branch,
            "target_branch": "main",
            "sha": sha,
            "labels": list(labels),
            "web_url": f"{self.base}/group/app/-/merge_requests/{iid}",
            "author": self.users[8],
            "created_at": T0,
            "updated_at": T0,
        }
        self.mrs[iid] = mr
        self.notes.setdefault(iid, [])
        return mr

    def add_note(self, iid: int, body: str, *, author: int = 8, system: bool = False) -> dict[str, Any]:
        note = {
            "id": self.next_id(),
            "type": None,
            "body": body,
            "attachment": None,
            "author": self.users[author],
            "created_at": T0,
            "updated_at": T0,
            "system": system,
            "noteable_id": self.mrs[iid]["id"],
            "noteable_type": "MergeRequest",
            "project_id": self.project_id,
            "noteable_iid": iid,
            "resolvable": False,
            "confidential": False,
            "internal": False,
            "imported": False,
            "imported_from": "none",
        }
        self.notes[iid].append(note)
        return note

    def our_notes(self, iid: int, marker: str = "<!-- ci-triage:v1 -->") -> list[dict[str, Any]]:
        return [n for n in self.notes[iid] if n["author"]["id"] == 7 and marker in n["body"]]

    # -- serving ------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response = self.dispatch(request)
        except ApiError as exc:
            response = Response(
                json.dumps({"message": exc.message}), exc.status, content_type="application/json", headers=exc.headers
            )
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        path = request.path
        short = path.removeprefix("/api/v4")
        body = self._body(request)
        auth = "private" if "PRIVATE-TOKEN" in request.headers else ("job" if "JOB-TOKEN" in request.headers else "")
        self.requests.append(Recorded(request.method, short, request.args, body, auth))
        for fault in self.faults:
            if fault.method == request.method and re.search(fault.path, short) and fault.seen < fault.times:
                fault.seen += 1
                if fault.delay:
                    time.sleep(fault.delay)
                if fault.status:
                    raise ApiError(fault.status, f"{fault.status} injected", fault.headers)
        adapter = URLS.bind("fake", "/")
        try:
            endpoint, args = adapter.match(path, method=request.method)
        except HTTPException as exc:
            self.violations.append(f"undeclared route {request.method} {path}")
            raise ApiError(404, "404 Not Found") from exc
        route = ROUTES[str(endpoint)]
        self._check(route, request, body)
        user = self._authenticate(request)
        if args.get("pid") not in (None, self.project_id):
            raise ApiError(404, "404 Project Not Found")
        with self.lock:
            result = getattr(self, f"h_{endpoint}")(
                user, request, body, **{k: v for k, v in args.items() if k != "pid"}
            )
        if isinstance(result, Response):
            return result
        status, payload = result
        self._validate(route, payload)
        if route.many:
            return self._page(request, payload)
        return Response(json.dumps(payload), status, content_type="application/json")

    def _body(self, request: Request) -> Any:
        if request.method in ("POST", "PUT") and request.content_length:
            if request.mimetype != "application/json":
                self.violations.append(f"{request.method} {request.path}: body is {request.mimetype}")
                return dict(request.form)
            return request.get_json()
        return None

    def _check(self, route: Route, request: Request, body: Any) -> None:
        unknown = set(request.args.keys()) - route.query
        if unknown:
            self.violations.append(f"{route.name}: undocumented query parameters {sorted(unknown)}")
        for scope in request.args.getlist("scope[]"):
            if scope not in JOB_SCOPES:
                self.violations.append(f"{route.name}: scope {scope!r} is not a job status")
        if "scope" in request.args:
            self.violations.append(f"{route.name}: scope must be sent as scope[]")
        for key, allowed in (
            ("sort", {"asc", "desc"}),
            ("order_by", {"created_at", "updated_at"}),
            ("include_retried", {"true", "false"}),
            ("state", {"opened", "closed", "locked", "merged", "all"}),
        ):
            if key in request.args and request.args[key] not in allowed:
                self.violations.append(f"{route.name}: {key}={request.args[key]!r} not in {sorted(allowed)}")
        per_page = request.args.get("per_page")
        if per_page is not None and not (per_page.isdigit() and 1 <= int(per_page) <= 100):
            self.violations.append(f"{route.name}: per_page={per_page!r} is not 1..100")
        if body is not None:
            if not isinstance(body, dict):
                self.violations.append(f"{route.name}: body is not a JSON object")
                return
            extra = set(body) - route.body
            if extra:
                self.violations.append(f"{route.name}: undocumented body keys {sorted(extra)}")
            missing = route.required - set(body)
            if missing:
                self.violations.append(f"{route.name}: missing required keys {sorted(missing)}")
        elif route.required:
            self.violations.append(f"{route.name}: missing body")

    def _validate(self, route: Route, payload: Any) -> None:
        if route.schema is None:
            return
        items = payload if route.many else [payload]
        for item in items:
            for error in VALIDATORS[route.schema].iter_errors(item):
                self.violations.append(f"{route.name}: response does not match {route.schema}: {error.message}")

    def _page(self, request: Request, items: list[Any]) -> Response:
        per_page = min(int(request.args.get("per_page", "20")), self.max_per_page)
        page = int(request.args.get("page", "1"))
        total_pages = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {
            "X-Page": str(page),
            "X-Per-Page": str(per_page),
            "X-Total": str(len(items)),
            "X-Total-Pages": str(total_pages),
        }
        if page < total_pages:
            query = [(k, v) for k, v in request.args.items(multi=True) if k != "page"]
            query.append(("page", str(page + 1)))
            nxt = f"{request.host_url.rstrip('/')}{request.path}?{urlencode(query)}"
            headers["X-Next-Page"] = str(page + 1)
            headers["Link"] = f'<{nxt}>; rel="next"'
        return Response(json.dumps(chunk), 200, content_type="application/json", headers=headers)

    def _authenticate(self, request: Request) -> int:
        token = request.headers.get("PRIVATE-TOKEN")
        if token is None and request.headers.get("Authorization", "").startswith("Bearer "):
            token = request.headers["Authorization"][7:]
        if token is not None and token in self.tokens:
            return self.tokens[token]
        # A JOB-TOKEN only authenticates the job-token allowlist (ci_job_token.md); none of
        # the endpoints here is on it, so GitLab treats the request as anonymous: 401.
        raise ApiError(401, "401 Unauthorized")

    def _require(self, user: int, level: int) -> None:
        if self.members.get(user, 0) < level:
            raise ApiError(403, "403 Forbidden")

    # -- handlers -----------------------------------------------------------------------------

    def h_user(self, user: int, request: Request, body: Any) -> tuple[int, Any]:
        u = dict(self.users[user])
        u["web_url"] = f"{request.host_url.rstrip('/')}/{u['username']}"
        u["avatar_url"] = None
        u["bot"] = user == 7
        return 200, u

    def h_pipeline(self, user: int, request: Request, body: Any, pipeline_id: int) -> tuple[int, Any]:
        if pipeline_id not in self.pipelines:
            raise ApiError(404, "404 Not found")
        return 200, self.pipelines[pipeline_id]

    def h_pipeline_jobs(self, user: int, request: Request, body: Any, pipeline_id: int) -> tuple[int, Any]:
        if pipeline_id not in self.pipelines:
            raise ApiError(404, "404 Not found")
        jobs = [j for j in self.jobs.values() if j["pipeline"]["id"] == pipeline_id]
        if request.args.get("include_retried") != "true":
            latest: dict[str, dict[str, Any]] = {}
            for j in jobs:
                if j["name"] not in latest or j["id"] > latest[j["name"]]["id"]:
                    latest[j["name"]] = j
            jobs = list(latest.values())
        scopes = request.args.getlist("scope[]")
        if scopes:
            jobs = [j for j in jobs if j["status"] in scopes]
        jobs.sort(key=lambda j: -j["id"])  # jobs.md: sorted by ID, newest first
        return 200, jobs

    def h_trace(self, user: int, request: Request, body: Any, job_id: int) -> Response:
        versions = self.traces.get(job_id)
        if job_id not in self.jobs or not versions:
            raise ApiError(404, "404 Not found")
        data = versions.pop(0) if len(versions) > 1 else versions[0]
        cut = self.broken_traces.pop(job_id, None)
        if cut is not None:
            response = Response(iter([data[:cut]]), 200, content_type="text/plain", direct_passthrough=True)
            response.headers["Content-Length"] = str(len(data))
            return response
        return Response(data, 200, content_type="text/plain")

    def h_retry(self, user: int, request: Request, body: Any, job_id: int) -> tuple[int, Any]:
        self._require(user, 30)
        old = self.jobs.get(job_id)
        if old is None:
            raise ApiError(404, "404 Not found")
        if old["status"] not in ("failed", "canceled", "success"):
            raise ApiError(403, "403 Forbidden - Job is not retryable")
        new = dict(old)
        new.update(id=self.next_id(), status="pending", started_at=None, finished_at=None, duration=None, runner=None)
        new.pop("failure_reason", None)
        new["web_url"] = f"{self.base}/group/app/-/jobs/{new['id']}"
        self.jobs[new["id"]] = new
        return 201, new

    def h_mrs(self, user: int, request: Request, body: Any) -> tuple[int, Any]:
        out = list(self.mrs.values())
        if "source_branch" in request.args:
            out = [m for m in out if m["source_branch"] == request.args["source_branch"]]
        state = request.args.get("state", "all")
        if state != "all":
            out = [m for m in out if m["state"] == state]
        return 200, out

    def h_mr(self, user: int, request: Request, body: Any, iid: int) -> tuple[int, Any]:
        if iid not in self.mrs:
            raise ApiError(404, "404 Not found")
        return 200, self.mrs[iid]

    def h_mr_update(self, user: int, request: Request, body: Any, iid: int) -> tuple[int, Any]:
        self._require(user, 30)
        mr = self.mrs[iid]
        labels = list(mr["labels"])
        for name in _csv(body.get("remove_labels")):
            if name in labels:
                labels.remove(name)
        for name in _csv(body.get("add_labels")):
            if name not in labels:
                labels.append(name)
                # GitLab creates a label it does not know, with its default colour.
                self.labels.setdefault(
                    name, {"id": self.next_id(), "name": name, "color": "#6699cc", "description": None}
                )
        mr["labels"] = sorted(labels)
        return 200, mr

    def _notes_of(self, iid: int) -> list[dict[str, Any]]:
        if iid not in self.mrs:
            raise ApiError(404, "404 Not found")
        return self.notes[iid]

    def h_notes(self, user: int, request: Request, body: Any, iid: int) -> tuple[int, Any]:
        notes = list(self._notes_of(iid))
        key = request.args.get("order_by", "created_at")
        notes.sort(key=lambda n: (n[key], n["id"]), reverse=request.args.get("sort", "desc") == "desc")
        if self.on_notes_list is not None:
            hook = self.on_notes_list
            self.lock.release()
            try:
                hook()
            finally:
                self.lock.acquire()
        return 200, notes

    def h_note_create(self, user: int, request: Request, body: Any, iid: int) -> tuple[int, Any]:
        self._notes_of(iid)
        text = body.get("body", "")
        if not isinstance(text, str) or not text or len(text) > 1_000_000:
            raise ApiError(400, '400 Bad request - Note {:note=>["is too long (maximum is 1000000 characters)"]}')
        note = self.add_note(iid, text, author=user)
        return 201, note

    def _note(self, iid: int, note_id: int) -> dict[str, Any]:
        for n in self._notes_of(iid):
            if n["id"] == note_id:
                return n
        raise ApiError(404, "404 Not found")

    def h_note(self, user: int, request: Request, body: Any, iid: int, note_id: int) -> tuple[int, Any]:
        return 200, self._note(iid, note_id)

    def h_note_update(self, user: int, request: Request, body: Any, iid: int, note_id: int) -> tuple[int, Any]:
        note = self._note(iid, note_id)
        if note["author"]["id"] != user:
            raise ApiError(403, "403 Forbidden")
        text = body.get("body", "")
        if len(text) > 1_000_000:
            raise ApiError(400, "400 Bad request - Note is too long")
        note["body"] = text
        note["updated_at"] = "2024-05-01T10:05:00.000Z"
        return 200, note

    def h_note_delete(self, user: int, request: Request, body: Any, iid: int, note_id: int) -> Response:
        note = self._note(iid, note_id)
        if note["author"]["id"] != user:
            raise ApiError(403, "403 Forbidden")
        self.notes[iid].remove(note)
        return Response(b"", 204)

    def h_award(self, user: int, request: Request, body: Any, iid: int, note_id: int) -> tuple[int, Any]:
        self._note(iid, note_id)
        awards = self.awards.setdefault(note_id, [])
        if any(a["name"] == body["name"] and a["user"]["id"] == user for a in awards):
            raise ApiError(404, "404 Award Emoji Name has already been taken")
        award = {
            "id": self.next_id(),
            "name": body["name"],
            "user": self.users[user],
            "created_at": T0,
            "updated_at": T0,
            "awardable_id": note_id,
            "awardable_type": "Note",
        }
        awards.append(award)
        return 201, award

    def h_awards(self, user: int, request: Request, body: Any, iid: int, note_id: int) -> tuple[int, Any]:
        self._note(iid, note_id)
        return 200, list(self.awards.get(note_id, []))

    def h_label_create(self, user: int, request: Request, body: Any) -> tuple[int, Any]:
        self._require(user, 30)
        name = body["name"]
        if not re.fullmatch(r"#[0-9a-fA-F]{6}", str(body.get("color", ""))):
            raise ApiError(400, "400 Bad request - Color must be a valid color code")
        if name in self.labels:
            raise ApiError(409, "Label already exists")
        label = {"id": self.next_id(), "name": name, "color": body["color"], "description": body.get("description")}
        self.labels[name] = label
        return 201, label

    def h_member(self, user: int, request: Request, body: Any, user_id: int) -> tuple[int, Any]:
        if user_id not in self.members or user_id not in self.users:
            raise ApiError(404, "404 Not found")
        return 200, {
            **self.users[user_id],
            "access_level": self.members[user_id],
            "web_url": f"{self.base}/{self.users[user_id]['username']}",
            "expires_at": None,
        }


def _csv(value: Any) -> list[str]:
    if not value:
        return []
    return [v.strip() for v in str(value).split(",") if v.strip()]


class Served:
    """The fake on a real socket in a background thread (threaded: requests may overlap)."""

    def __init__(self, fake: FakeGitLab) -> None:
        self.fake = fake
        self.server = make_server("127.0.0.1", 0, fake, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        fake.base = self.url
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True)

    def __enter__(self) -> Served:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.thread.join(5)


def serve(fake: FakeGitLab) -> Iterator[Served]:
    with Served(fake) as served:
        yield served


__all__ = ["BOT_TOKEN", "JOB_TOKEN", "ApiError", "FakeGitLab", "Fault", "NotFound", "Served", "serve"]

"""`ci-triage github`: the GitHub Action's entrypoint.

Everything comes from the runner's environment (`GITHUB_*`, `INPUT_*` with the runner's
naming: `INPUT_GITHUB-TOKEN` keeps its hyphen), parsed once into `Settings`. Two events:

* `workflow_run` (completed): triage the run's failed jobs, then, per pull request, plan
  with `bot.core.plan.plan_run` and carry the plan out with `bot.app.execute`: the re-run
  first; when GitHub refuses it, plan again with `rerun_refused` so the comment never claims
  a re-run that did not happen; then labels and the one comment. A passing attempt that we
  re-ran updates the same section with the outcome.
* `issue_comment` (created): `/retriage` or `/retriage rerun` at the start of a line, from
  a user whose collaborator permission is write, maintain or admin; acknowledged with a
  reaction; the PR's latest failed runs are triaged again.

A platform failure or a bug never fails the job unless `fail-on-error` is set: it is said
in the comment where possible, and always in the job summary and the log. Untrusted text
printed to stdout is redacted and fenced with `::stop-commands::` so log lines cannot
become workflow commands.
"""

from __future__ import annotations

import json
import re
import secrets
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, StringConstraints, ValidationError

from bot.app import execute
from bot.cache import FileCache
from bot.config import CONFIG_NAMES, load_repo_catalog
from bot.core.commands import parse_command
from bot.core.comment import parse_state
from bot.core.engine import CompiledCatalog, classify, compile_catalog
from bot.core.markdown import inline
from bot.core.model import Triage, Verdict
from bot.core.plan import (
    Action,
    ChangeRef,
    JobRef,
    JobResult,
    Plan,
    Policy,
    RerunJobs,
    SetLabels,
    Trigger,
    UpsertComment,
    plan_run,
)
from bot.core.redact import redact
from bot.errors import ConfigError, ForgeError, TriageError
from bot.forges.github import Annotation, GitHubForge, Job, Pull, Run
from bot.rules import Catalog, load_catalog

__all__ = ["Settings", "main"]

SUMMARY_LIMIT = 900_000
"""GitHub refuses a step summary over 1 MiB; stay well below."""
FAILED = ("failure", "timed_out")
BOT_COMMENT_EVENTS = ("workflow_run", "issue_comment")

# --------------------------------------------------------------------------------------------
# Settings


def _flag(value: str) -> bool:
    v = value.strip().lower()
    if v in ("true", "yes", "1", "on"):
        return True
    if v in ("false", "no", "0", "off", ""):
        return False
    raise ValueError("expected true or false")


class Settings(BaseModel):
    """The Action's settings, parsed once from the runner's environment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    token: SecretStr
    repository: Annotated[str, StringConstraints(pattern=r"^[\w.-]+/[\w.-]+$")]
    event_name: str
    event_path: Path
    api_url: str = "https://api.github.com"
    run_id: int = 0
    run_attempt: int = 1
    step_summary: Path | None = None
    output: Path | None = None
    rerun: Literal["never", "infrastructure"] = "infrastructure"
    max_reruns: int = Field(1, ge=0, le=50)
    min_confidence: float = Field(0.8, ge=0.0, le=1.0)
    labels: bool = True
    label_infrastructure: Annotated[str, StringConstraints(min_length=1, max_length=50)] = "ci: infrastructure"
    label_code: Annotated[str, StringConstraints(min_length=1, max_length=50)] = "ci: code"
    config: str = ""
    dry_run: bool = False
    fail_on_error: bool = False
    bot_login: str = "github-actions[bot]"
    http_timeout: float = Field(30.0, gt=0, le=600)
    retries: int = Field(4, ge=0, le=10)
    max_retry_wait: float = Field(60.0, ge=0, le=3600)
    log_max_bytes: int = Field(16 << 20, ge=4096, le=1 << 30)
    throttle: bool = True
    comment_settle: float = Field(1.0, ge=0, le=30)
    """Seconds to wait before checking once more that racing triage runs kept our section."""

    # env name -> field name; inputs use the runner's naming (hyphens kept).
    ENV: ClassVar[Mapping[str, str]] = {
        "INPUT_GITHUB-TOKEN": "token",
        "GITHUB_REPOSITORY": "repository",
        "GITHUB_EVENT_NAME": "event_name",
        "GITHUB_EVENT_PATH": "event_path",
        "GITHUB_API_URL": "api_url",
        "GITHUB_RUN_ID": "run_id",
        "GITHUB_RUN_ATTEMPT": "run_attempt",
        "GITHUB_STEP_SUMMARY": "step_summary",
        "GITHUB_OUTPUT": "output",
        "INPUT_RERUN": "rerun",
        "INPUT_MAX-RERUNS": "max_reruns",
        "INPUT_MIN-CONFIDENCE": "min_confidence",
        "INPUT_LABELS": "labels",
        "INPUT_LABEL-INFRASTRUCTURE": "label_infrastructure",
        "INPUT_LABEL-CODE": "label_code",
        "INPUT_CONFIG": "config",
        "INPUT_DRY-RUN": "dry_run",
        "INPUT_FAIL-ON-ERROR": "fail_on_error",
        "INPUT_BOT-LOGIN": "bot_login",
        "CI_TRIAGE_HTTP_TIMEOUT": "http_timeout",
        "CI_TRIAGE_RETRIES": "retries",
        "CI_TRIAGE_MAX_RETRY_WAIT": "max_retry_wait",
        "CI_TRIAGE_LOG_MAX_BYTES": "log_max_bytes",
        "CI_TRIAGE_THROTTLE": "throttle",
        "CI_TRIAGE_COMMENT_SETTLE": "comment_settle",
    }
    BOOLS: ClassVar[frozenset[str]] = frozenset({"labels", "dry_run", "fail_on_error", "throttle"})

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Read the runner's variables; ConfigError names the variable and the problem."""
        values: dict[str, Any] = {}
        names = {v: k for k, v in cls.ENV.items()}
        problems = []
        for var, name in cls.ENV.items():
            raw = env.get(var, "")
            if raw == "" and name != "token":
                continue  # an empty input means "use the default"
            if name in cls.BOOLS:
                try:
                    values[name] = _flag(raw)
                except ValueError:
                    problems.append(f"{var}: expected true or false, got {raw!r}")
                continue
            values[name] = raw.strip()
        if not values.get("token"):
            problems.append("INPUT_GITHUB-TOKEN: empty; pass `github-token` (the default is the job's GITHUB_TOKEN)")
        if problems:
            raise ConfigError("\n".join(problems))
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            lines = []
            for e in exc.errors():
                name = str(e["loc"][0]) if e["loc"] else ""
                lines.append(f"{names.get(name, name)}: {e['msg']}")
            raise ConfigError("\n".join(lines)) from exc

    @property
    def policy(self) -> Policy:
        return Policy(
            rerun=self.rerun,
            max_reruns=self.max_reruns,
            min_confidence=self.min_confidence,
            labels=self.labels,
            label_infrastructure=self.label_infrastructure,
            label_code=self.label_code,
        )


# --------------------------------------------------------------------------------------------
# Event payloads: only the fields we read (extra keys ignored, GitHub adds them all the time)


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Repo(_Loose):
    full_name: str = ""


class _PullRef(_Loose):
    number: int


class _WorkflowRun(_Loose):
    id: int
    run_attempt: int = 1
    conclusion: str | None = None
    head_sha: str = ""
    head_branch: str | None = None
    head_repository: _Repo | None = None
    pull_requests: list[_PullRef] = Field(default_factory=list)


class WorkflowRunEvent(_Loose):
    action: str
    workflow_run: _WorkflowRun


class _User(_Loose):
    login: str
    type: str = "User"


class _Comment(_Loose):
    id: int
    body: str | None = None
    user: _User


class _Issue(_Loose):
    number: int
    pull_request: dict[str, Any] | None = None


class IssueCommentEvent(_Loose):
    action: str
    issue: _Issue
    comment: _Comment


# --------------------------------------------------------------------------------------------
# Output: stdout that log text cannot hijack, the job summary, the step outputs


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


class Console:
    """The bot's stdout. Untrusted text is redacted and fenced from the runner's command parser."""

    def __init__(self, out: IO[str], known: Sequence[str] = ()) -> None:
        self.out = out
        self.known = tuple(k for k in known if k)

    def clean(self, text: str) -> str:
        return _CONTROL.sub("?", redact(text, self.known))

    def info(self, text: str) -> None:
        """Our own words only (no untrusted text)."""
        print(text, file=self.out)

    def untrusted(self, lines: Sequence[str]) -> None:
        """Lines containing names or log text: `::` commands inside are not interpreted."""
        token = secrets.token_hex(16)
        print(f"::stop-commands::{token}", file=self.out)
        for line in lines:
            for part in self.clean(line).split("\n"):
                print(part, file=self.out)
        print(f"::{token}::", file=self.out)

    def annotate(self, level: Literal["warning", "error", "notice"], text: str) -> None:
        """A workflow-command annotation; the message is escaped as the runner expects."""
        data = self.clean(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        print(f"::{level} title=ci-triage::{data}", file=self.out)


@dataclass(slots=True)
class Report:
    """What this invocation did, for the job summary, the outputs and the exit code."""

    sections: list[str] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    categories: set[str] = field(default_factory=set)
    comment_url: str = ""
    reruns: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        if not self.verdicts:
            return "none"
        if Verdict.CODE in self.verdicts:
            return "code"
        if all(v is Verdict.INFRASTRUCTURE for v in self.verdicts):
            return "infrastructure"
        return "unknown"


def write_summary(path: Path | None, report: Report, console: Console, dry_run: bool) -> None:
    if path is None:
        return
    out = ["## CI triage", ""]
    if dry_run:
        out += ["_Dry run: nothing was changed on GitHub._", ""]
    for note in report.notes:
        out += [inline(console.clean(note), 500), ""]
    for section in report.sections:
        out += [section, ""]
    if report.problems:
        out += ["### What the bot could not do", ""]
        out += [f"- {inline(console.clean(p), 500)}" for p in report.problems]
        out.append("")
    text = "\n".join(out)
    if len(text) > SUMMARY_LIMIT:
        text = text[:SUMMARY_LIMIT] + "\n\n_(summary truncated to the size limit)_\n"
    with path.open("a", encoding="utf-8") as fh:
        fh.write(text + "\n")


def write_outputs(path: Path | None, report: Report) -> None:
    if path is None:
        return
    values = {
        "verdict": report.verdict,
        "categories": ",".join(sorted(report.categories)),
        "comment-url": report.comment_url,
        "reruns": str(report.reruns),
    }
    with path.open("a", encoding="utf-8") as fh:
        for name, value in values.items():
            delimiter = f"ghadelimiter_{secrets.token_hex(8)}"
            value = value.replace("\r", " ").replace("\n", " ")
            fh.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")


# --------------------------------------------------------------------------------------------
# Triage


@dataclass(slots=True)
class Context:
    settings: Settings
    forge: GitHubForge
    console: Console
    compiled: CompiledCatalog
    report: Report = field(default_factory=Report)


def load_rules(
    forge: GitHubForge, settings: Settings, report: Report, cache: FileCache | None = None
) -> CompiledCatalog:
    """The built-in catalog plus the repository's `.ci-triage.toml`, read through the API.

    A broken repository config is reported and the built-in rules are used, so a typo in
    the config never stops the triage.
    """
    source, text = "", ""
    paths = (settings.config,) if settings.config else CONFIG_NAMES
    for path in paths:
        try:
            found = forge.read_file(path)
        except ForgeError as exc:
            report.problems.append(f"Could not read the repository config {path}: {exc}")
            break
        if found is None:
            if settings.config:
                report.problems.append(f"The repository config {path} does not exist; using the built-in rules.")
            continue
        source, text = path, found
        break
    key = (source, text)
    if key not in _COMPILED:
        catalog: Catalog = load_catalog(cache)
        if text:
            try:
                catalog = load_repo_catalog(catalog, text, source)
            except ConfigError as exc:
                report.problems.append(f"The repository config is invalid, using the built-in rules: {exc}")
                return load_rules_builtin(cache)
        _COMPILED[key] = compile_catalog(catalog.rules, cache)
    return _COMPILED[key]


_COMPILED: dict[tuple[str, str], CompiledCatalog] = {}
"""Compiled catalogs by (config path, config text): one compile per process and config."""


def load_rules_builtin(cache: FileCache | None = None) -> CompiledCatalog:
    if ("", "") not in _COMPILED:
        _COMPILED[("", "")] = compile_catalog(load_catalog(cache).rules, cache)
    return _COMPILED[("", "")]


def metadata_text(job: Job, annotations: Sequence[Annotation]) -> str:
    """What GitHub says about a job without a log, as log-like lines for the engine."""
    lines = [
        f"Job ended with conclusion {job.conclusion or 'none'} without a usable log.",
        f"Runner: {job.runner_name or 'none was assigned'}; labels: {', '.join(job.labels) or 'none'}.",
    ]
    levels = {"failure": "error", "warning": "warning", "notice": "notice"}
    for a in annotations:
        for part in (a.message or a.title).splitlines() or [""]:
            lines.append(f"##[{levels.get(a.level, 'error')}]{part}")
    return "\n".join(lines) + "\n"


def scan(chunks: Sequence[bytes], compiled: CompiledCatalog, name: str) -> Triage:
    # Each Scanner has its own Hyperscan scratch, so racing invocations may share `compiled`.
    return classify(chunks, compiled, path=name, ci_system="github_actions")


def triage_job(ctx: Context, job: Job) -> JobResult:
    forge, compiled = ctx.forge, ctx.compiled
    notes: list[str] = []
    try:
        annotations = forge.annotations(job.id)
    except ForgeError as exc:
        annotations = []
        notes.append(f"The check-run annotations could not be read ({exc}).")
    triage: Triage | None = None
    if job.never_ran:
        notes.append("The job never got a runner (no steps, no log); triaged from its annotations and metadata.")
    else:
        try:
            log = forge.job_log(job)
            triage = scan(log.chunks, compiled, job.name)
            if log.note:
                notes.append(log.note)
        except ForgeError as exc:
            notes.append(f"The log could not be read ({exc}); triaged from the annotations and job metadata.")
    if triage is None or (triage.verdict is Verdict.UNKNOWN and annotations):
        fallback = scan([metadata_text(job, annotations).encode()], compiled, job.name)
        if triage is None:
            triage = fallback
        elif fallback.verdict is not Verdict.UNKNOWN:
            triage = fallback
            notes.append("The log alone was inconclusive; classified from the check-run annotations.")
    step = job.failed_step
    # GitHub numbers lines within each step: `#step:N:L` opens the failing step at line L.
    anchor = f"#step:{step.number}:{{step_line}}" if step is not None else ""
    return JobResult(JobRef(job.id, job.name, job.html_url, anchor), triage, " ".join(notes))


def triage_run(ctx: Context, run: Run) -> list[JobResult]:
    results = [triage_job(ctx, job) for job in ctx.forge.failed_jobs(run)]
    lines = [f"run {run.name} #{run.number} attempt {run.attempt}: {len(results)} failed job(s)"]
    for r in results:
        t = r.triage
        lines.append(
            f"  {r.job.name}: {t.verdict.value}"
            + (f" ({t.category}, confidence {t.confidence:.2f})" if t.category else "")
            + (f"; {r.note}" if r.note else "")
        )
    ctx.console.untrusted(lines)
    return results


# --------------------------------------------------------------------------------------------
# Acting on a run


def _problem_text(problem: str) -> str:
    return problem.split(": ", 1)[1] if ": " in problem else problem


def act(ctx: Context, run: Run, results: Sequence[JobResult], pulls: Sequence[Pull], trigger: Trigger) -> None:
    """Plan and carry out the effects for one run on each of its pull requests."""
    settings, forge, report = ctx.settings, ctx.forge, ctx.report
    run_ref = run.ref()
    reruns_used = max(0, run.attempt - 1)
    refused = ""
    rerun_done = False

    def plan_for(
        change: ChangeRef, body: str | None, labels: Sequence[str], refused: str, notes: Sequence[str] = ()
    ) -> Plan:
        return plan_run(
            change,
            run_ref,
            results,
            policy=settings.policy,
            state=parse_state(body),
            existing_labels=labels,
            reruns_used=reruns_used,
            trigger=trigger,
            rerun_refused=refused,
            notes=notes,
        )

    if not pulls:
        plan = plan_for(ChangeRef(0, run.head_sha), None, (), "")
        report.notes.append(
            f"No open pull request was found for run {run.id}: the triage is shown here only, "
            "nothing was posted and nothing was re-run."
        )
        _record(report, plan)
        return
    for pull in pulls:
        if pull.head_sha and run.head_sha and pull.head_sha != run.head_sha:
            report.notes.append(
                f"Run {run.id} tested {run.head_sha[:12]}, but #{pull.number} has moved on to "
                f"{pull.head_sha[:12]}; its triage would describe an old commit, so nothing was posted there."
            )
            continue
        change = ChangeRef(pull.number, pull.head_sha or run.head_sha)
        try:
            found = forge.find_comment(change)
            existing = forge.labels(change) if settings.labels else []
        except ForgeError as exc:
            report.problems.append(f"Skipped #{pull.number}: {exc}")
            continue
        body = found[1] if found else None
        plan = plan_for(change, body, existing, refused)
        reruns: list[Action] = [a for a in plan.actions if isinstance(a, RerunJobs)]
        if reruns and not rerun_done:
            outcome = execute(reruns, forge, dry_run=settings.dry_run)
            if outcome.problems:
                refused = "; ".join(_problem_text(p) for p in outcome.problems)
                report.problems.extend(outcome.problems)
                plan = plan_for(change, body, existing, refused)
            else:
                report.reruns += outcome.reruns
                rerun_done = True
        labels: list[Action] = [a for a in plan.actions if isinstance(a, SetLabels)]
        comments: list[Action] = [a for a in plan.actions if isinstance(a, UpsertComment)]
        outcome = execute(labels, forge, dry_run=settings.dry_run)
        report.problems.extend(outcome.problems)
        if outcome.problems:
            text = "Could not update the labels: " + "; ".join(_problem_text(p) for p in outcome.problems)
            noted = plan_for(change, body, existing, refused, notes=(text,))
            comments = [a for a in noted.actions if isinstance(a, UpsertComment)]
        outcome = execute(comments, forge, dry_run=settings.dry_run)
        report.problems.extend(outcome.problems)
        if outcome.comment_url:
            report.comment_url = outcome.comment_url
            ctx.console.info(f"Comment on #{pull.number}: {outcome.comment_url}")
        _record(report, plan)


def _record(report: Report, plan: Plan) -> None:
    if not plan.section:
        return
    report.sections.append(plan.section)
    report.verdicts.append(plan.verdict)
    report.categories.update(plan.categories)


# --------------------------------------------------------------------------------------------
# Events


def on_workflow_run(ctx: Context, payload: Mapping[str, Any]) -> None:
    event = WorkflowRunEvent.model_validate(payload)
    if event.action != "completed":
        ctx.console.info(f"Nothing to do for workflow_run action {event.action!r}.")
        return
    run = ctx.forge.run(event.workflow_run.id)
    if run.status != "completed":
        # A spurious early delivery, or the run is already being re-run: its own
        # completion will bring us back.
        ctx.report.notes.append(f"Run {run.id} is {run.status}, not completed; nothing to do yet.")
        return
    if run.conclusion not in (*FAILED, "cancelled", "success"):
        ctx.report.notes.append(f"Run {run.id} concluded {run.conclusion}; nothing to triage.")
        return
    pulls = ctx.forge.pulls_for_run(run)
    results: list[JobResult] = []
    if run.conclusion != "success":
        results = triage_run(ctx, run)
        if not results:
            ctx.report.notes.append(f"Run {run.id} has no failed job to triage.")
            return
    elif not pulls:
        return
    act(ctx, run, results, pulls, "triage")


def on_issue_comment(ctx: Context, payload: Mapping[str, Any]) -> None:
    event = IssueCommentEvent.model_validate(payload)
    user = event.comment.user
    if event.action != "created" or event.issue.pull_request is None:
        ctx.console.info("Not a new comment on a pull request; ignored.")
        return
    if user.type == "Bot" or user.login == ctx.settings.bot_login:
        ctx.console.info("Comment by a bot; ignored.")
        return
    command = parse_command(event.comment.body)
    if command is None:
        ctx.console.info("No /retriage command in the comment; ignored.")
        return
    permission = ctx.forge.permission(user.login)
    if permission not in ("admin", "maintain", "write"):
        ctx.console.untrusted([f"/retriage by {user.login} ignored: permission {permission!r} (needs write)."])
        return
    try:
        ctx.forge.react(event.comment.id, "eyes")
    except ForgeError as exc:
        ctx.report.problems.append(f"Could not acknowledge the command: {exc}")
    pull = ctx.forge.pull(event.issue.number)
    runs = [
        r
        for r in ctx.forge.runs_for_sha(pull.head_sha)
        if r.id != ctx.settings.run_id
        and r.event not in BOT_COMMENT_EVENTS
        and r.status == "completed"
        and r.conclusion in FAILED
    ]
    if not runs:
        ctx.report.notes.append(f"/retriage on #{pull.number}: no failed run at the head commit to triage.")
        return
    trigger: Trigger = "retriage-rerun" if command.rerun else "retriage"
    for run in runs:
        act(ctx, run, triage_run(ctx, run), [pull], trigger)


HANDLERS: Mapping[str, Callable[[Context, Mapping[str, Any]], None]] = {
    "workflow_run": on_workflow_run,
    "issue_comment": on_issue_comment,
}


def read_event(settings: Settings) -> dict[str, Any]:
    try:
        data = json.loads(settings.event_path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"GITHUB_EVENT_PATH: cannot read the event payload: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError("GITHUB_EVENT_PATH: the event payload is not a JSON object")
    return data


def make_forge(settings: Settings) -> GitHubForge:
    return GitHubForge(
        settings.token.get_secret_value(),
        settings.repository,
        api_url=settings.api_url,
        bot_login=settings.bot_login,
        timeout=settings.http_timeout,
        retries=settings.retries,
        max_wait=settings.max_retry_wait,
        log_max_bytes=settings.log_max_bytes,
        throttle=settings.throttle,
        settle=settings.comment_settle,
    )


def main(env: Mapping[str, str], out: IO[str], err: IO[str]) -> int:
    """Run the Action; 0 unless the settings are wrong (2) or `fail-on-error` and something failed (1)."""
    try:
        settings = Settings.from_env(env)
    except ConfigError as exc:
        Console(out, [env.get("INPUT_GITHUB-TOKEN", "")]).annotate("error", f"configuration error: {exc}")
        return 2
    console = Console(out, [settings.token.get_secret_value()])
    report = Report()
    handler = HANDLERS.get(settings.event_name)
    try:
        if handler is None:
            report.notes.append(
                f"ci-triage handles workflow_run and issue_comment events, not {settings.event_name}; nothing to do."
            )
        else:
            payload = read_event(settings)
            with make_forge(settings) as forge:
                compiled = load_rules(forge, settings, report, FileCache.from_env(env))
                ctx = Context(settings, forge, console, compiled, report)
                handler(ctx, payload)
    except ConfigError as exc:
        console.annotate("error", f"configuration error: {exc}")
        return 2
    except (TriageError, ValidationError) as exc:
        report.problems.append(f"The triage stopped: {exc}")
    except Exception as exc:  # a bug in the bot must not add a red X to someone's PR
        report.problems.append(f"The triage stopped on an internal error ({type(exc).__name__}); see the log.")
        console.untrusted(traceback.format_exception(exc))
    for problem in report.problems:
        console.annotate("warning", problem)
    for note in report.notes:
        console.untrusted([note])
    try:
        write_summary(settings.step_summary, report, console, settings.dry_run)
        write_outputs(settings.output, report)
    except OSError as exc:
        console.annotate("warning", f"Could not write the job summary or outputs: {exc}")
        report.problems.append(str(exc))
    console.info(
        f"ci-triage: verdict={report.verdict} reruns={report.reruns} problems={len(report.problems)}"
        + (" (dry run)" if settings.dry_run else "")
    )
    return 1 if settings.fail_on_error and report.problems else 0

"""`ci-triage gitlab`: the CI job that triages a failed GitLab pipeline from inside it.

It runs in the `.post` stage with `when: on_failure`, takes everything from the predefined
`CI_*` variables and a project or group access token (`CI_TRIAGE_TOKEN`, or the variable
`CI_TRIAGE_TOKEN_VARIABLE` names), and:

1. reads the failed jobs of `CI_PIPELINE_ID` (latest attempts) and their traces;
2. triages each: GitLab's `failure_reason` first (`FAILURE_REASONS`, every documented value),
   the log classifier for `script_failure` (and as detail for the others);
3. plans with `bot.core.plan.plan_run()` and carries the plan out with `bot.app.execute()`:
   retries first, then the one MR note and the labels, planned again without the retry when
   GitLab refuses it.

A platform failure or a bug never fails the pipeline unless `CI_TRIAGE_FAIL_ON_ERROR` is set;
a configuration problem (no token, a CI_JOB_TOKEN) is explained and exits 2, which the
template's `allow_failure: true` shows as a warning.
"""

from __future__ import annotations

import dataclasses
import re
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.app import execute
from bot.cache import FileCache
from bot.config import load_repo_config_file
from bot.core.comment import parse_state
from bot.core.engine import classify, compiled_for
from bot.core.markdown import ZWSP, inline
from bot.core.model import Evidence, Finding, Fix, Hypothesis, Kind, Stats, Triage, Verdict
from bot.core.plan import (
    ChangeRef,
    JobRef,
    JobResult,
    Plan,
    Policy,
    RerunJobs,
    RunRef,
    label_actions,
    plan_run,
)
from bot.core.redact import redact
from bot.errors import ConfigError, ForgeError, LogUnavailable
from bot.forges.gitlab import GitLabForge, JobInfo, RetryingSession, Trace
from bot.rules import Catalog, load_catalog

__all__ = ["FAILURE_REASONS", "GitLabSettings", "Reason", "main", "run", "triage_job"]

NOTE_BUDGET = 200_000
"""GitLab accepts notes of up to 1,000,000 characters (GitHub 65,536); past 200,000 a note stops
being readable, so detail is trimmed there, by the same renderer as on GitHub."""


# --------------------------------------------------------------------------------------------
# failure_reason: GitLab's own verdict on why a job failed


@dataclass(frozen=True, slots=True)
class Reason:
    """What a `failure_reason` value means for triage."""

    verdict: Verdict
    category: str | None
    """A taxonomy category (bot/rules/taxonomy.toml) where one fits."""
    retry: Literal["safe", "never"]
    message: str
    """GitLab's explanation (commit_status_presenter.rb), abridged."""
    confidence: float = 0.9


_I, _C, _U = Verdict.INFRASTRUCTURE, Verdict.CODE, Verdict.UNKNOWN


def _r(
    verdict: Verdict, category: str | None, retry: Literal["safe", "never"], message: str, confidence: float = 0.9
) -> Reason:
    return Reason(verdict, category, retry, message, confidence)


# Every value of GitLab's failure_reason enum (platform.md §2.4, app/models/concerns/enums/ci/
# commit_status.rb). Policy decisions (protected environments, blocked users, outdated
# deployments) are neither the change's fault nor an outage: unknown. Timeouts of the job's
# own script are unknown too (a hang in the change or a slow runner); the log decides.
FAILURE_REASONS: Mapping[str, Reason] = {
    "unknown_failure": _r(_U, None, "never", "unknown failure"),
    "script_failure": _r(_U, None, "never", "the job's script failed; the log says why"),
    "api_failure": _r(_I, "runner_lost", "safe", "API failure between the runner and GitLab"),
    "stuck_or_timeout_failure": _r(_I, "job_timeout", "safe", "the job was stuck or timed out"),
    "runner_system_failure": _r(_I, "runner_setup", "safe", "runner system failure"),
    "missing_dependency_failure": _r(
        _U, None, "never", "artifacts of a job this one depends on are missing or expired"
    ),
    "runner_unsupported": _r(_C, "ci_config", "never", "no runner supports what the job requires", 0.8),
    "stale_schedule": _r(_I, "job_timeout", "safe", "the delayed job could not be executed"),
    "job_execution_timeout": _r(_U, None, "never", "the script exceeded the job's timeout"),
    "archived_failure": _r(_I, "platform_limit", "never", "the pipeline is archived; its jobs cannot run again"),
    "unmet_prerequisites": _r(_I, "runner_setup", "safe", "the job's prerequisite tasks failed to complete"),
    "scheduler_failure": _r(_I, "runner_setup", "safe", "the scheduler could not assign a runner"),
    "data_integrity_failure": _r(_I, "runner_setup", "safe", "GitLab lost track of the job"),
    "forward_deployment_failure": _r(_U, None, "never", "the deployment is older than the previous one"),
    "user_blocked": _r(_U, None, "never", "the user who created the job is blocked"),
    "project_deleted": _r(_U, None, "never", "the project was deleted"),
    "ci_quota_exceeded": _r(_I, "platform_limit", "never", "the namespace has no compute minutes left"),
    "pipeline_loop_detected": _r(_C, "ci_config", "never", "the configuration would create looping pipelines"),
    "no_matching_runner": _r(_C, "ci_config", "never", "no runner matches the job's tags", 0.8),
    "trace_size_exceeded": _r(_C, "ci_config", "never", "the job printed more log than the instance allows", 0.8),
    "builds_disabled": _r(_U, None, "never", "CI/CD is disabled for the project"),
    "environment_creation_failure": _r(_C, "ci_config", "never", "the job's environment parameters are invalid"),
    "deployment_rejected": _r(_U, None, "never", "the deployment job was rejected"),
    "failed_outdated_deployment_job": _r(_U, None, "never", "the deployment is older than the latest one"),
    "job_execution_server_timeout": _r(_U, None, "never", "the script exceeded the maximum execution time"),
    "stuck_pending_with_matching_runners": _r(
        _I, "job_timeout", "safe", "stuck pending although matching runners exist"
    ),
    "stuck_pending_no_matching_runners": _r(
        _C, "ci_config", "never", "stuck pending: no runner matches the job's tags", 0.8
    ),
    "no_updates_running": _r(_I, "runner_lost", "safe", "the running job sent no updates for a long time"),
    "no_updates_canceling": _r(_I, "runner_lost", "safe", "the canceling job sent no updates for a long time"),
    "server_timeout_running": _r(_U, None, "never", "the running job exceeded the maximum time"),
    "server_timeout_canceling": _r(_I, "job_timeout", "safe", "canceling the job exceeded the maximum time"),
    "runner_configuration_error": _r(
        _C,
        "ci_config",
        "never",
        "CI/CD or runner configuration error (image, tag, pull policy)",
        0.75,
    ),
    "runner_external_dependency_failure": _r(
        _I, "network", "safe", "the runner could not reach an external dependency"
    ),
    "runner_interrupted": _r(_I, "runner_lost", "safe", "the runner process was interrupted; the job is safe to retry"),
    "protected_environment_failure": _r(_U, None, "never", "the environment is protected"),
    "insufficient_bridge_permissions": _r(_C, "ci_config", "never", "not allowed to create the downstream pipeline"),
    "downstream_bridge_project_not_found": _r(_C, "ci_config", "never", "the downstream project was not found"),
    "invalid_bridge_trigger": _r(_C, "ci_config", "never", "the trigger definition is invalid"),
    "upstream_bridge_project_not_found": _r(_C, "ci_config", "never", "the upstream project was not found"),
    "insufficient_upstream_permissions": _r(_C, "ci_config", "never", "not allowed to track the upstream pipeline"),
    "bridge_pipeline_is_child_pipeline": _r(_C, "ci_config", "never", "a child pipeline cannot trigger this way"),
    "downstream_pipeline_creation_failed": _r(
        _C, "ci_config", "never", "the downstream pipeline could not be created", 0.8
    ),
    "secrets_provider_not_found": _r(_C, "ci_config", "never", "the secrets provider was not found"),
    "reached_max_descendant_pipelines_depth": _r(_C, "ci_config", "never", "too many levels of child pipelines"),
    "ip_restriction_failure": _r(_I, "runner_setup", "never", "the runner's IP address is not allowed by the group"),
    "reached_max_pipeline_hierarchy_size": _r(_C, "ci_config", "never", "the downstream pipeline tree is too large"),
    "reached_downstream_pipeline_trigger_rate_limit": _r(
        _I, "platform_limit", "safe", "too many downstream pipelines were triggered per minute"
    ),
    "duo_workflow_not_allowed": _r(
        _C, "ci_config", "never", "the Duo workflow job ran on a runner that does not allow it"
    ),
    "job_router_failure": _r(_I, "runner_setup", "safe", "the job router failed"),
    "job_token_expired": _r(_U, None, "never", "the CI job token expired before the job finished"),
    "id_token_burned_project_path": _r(_C, "ci_config", "never", "ID tokens are disabled for this reused project path"),
    "downstream_project_trigger_resolved_to_empty": _r(
        _C, "ci_config", "never", "`trigger:project` resolved to an empty value"
    ),
    "secrets_manager_access_denied": _r(_C, "ci_config", "never", "access to the secrets manager was denied"),
    "duo_workflow_connection_failure": _r(_I, "network", "safe", "the Duo workflow could not connect"),
}

_FIX_SAFE = Fix("Nothing to change in the merge request: retry the job (ci-triage does so within its budget).")
_FIX_CONFIG = Fix(
    "Check the job's definition in .gitlab-ci.yml (tags, image, environment, trigger) and the "
    "project's CI/CD settings; retrying the same definition fails the same way."
)
_FIX_NEVER = Fix("A retry cannot fix this; it needs action on the project or runner side.")

# The runner's own phases (gitlab-runner BuildStage*). A script_failure inside one of them is
# the runner or the platform failing before or around the user's script.
_PHASES: Mapping[str, str] = {
    "prepare_executor": "runner_setup",
    "prepare_script": "runner_setup",
    "resolve_secrets": "credentials",
    "get_sources": "scm",
    "clear_worktree": "scm",
    "restore_cache": "cache",
    "download_artifacts": "artifacts",
}
PHASE_CONFIDENCE = 0.7
"""Below the default re-run threshold: a failing phase names a likely cause, not a proven one."""


def _unknown(log: Triage | None) -> Triage:
    if log is not None:
        return log
    return Triage(Verdict.UNKNOWN, 0.0, None, None, (), ci_system="gitlab_ci")


def _anchor_line(trace: Trace | None) -> int:
    if trace is None or not trace.data:
        return 1
    data = trace.data
    at = data.rfind(b"ERROR: Job failed")
    if at >= 0:
        return data.count(b"\n", 0, at) + 1
    return max(1, data.rstrip(b"\n").count(b"\n") + 1)


def _blocks(data: bytes, size: int = 4 << 20) -> Iterator[bytes]:
    """The log as blocks. (`chunks(bytes)` re-reads a variable it rebinds and loses data past
    its first 4 MiB block; an iterable of blocks takes its other, correct path.)"""
    view = memoryview(data)
    for start in range(0, len(data), size):
        yield bytes(view[start : start + size])


def triage_job(job: JobInfo, trace: Trace | None, catalog: Catalog) -> Triage:
    """The triage of one failed job: `failure_reason` first, the log for the details.

    `script_failure` (and values that give no verdict) go to the log classifier; when the log
    names no cause but the failure happened in one of the runner's own phases (preparing the
    executor, fetching sources, restoring the cache, ...), that phase is reported as a likely
    infrastructure cause below the re-run threshold.
    """
    log: Triage | None = None
    if trace is not None and trace.data:
        log = classify(_blocks(trace.data), catalog, path=job.name, ci_system="gitlab_ci")
    value = job.failure_reason or "unknown_failure"
    reason = FAILURE_REASONS.get(value)
    if reason is None or reason.verdict is Verdict.UNKNOWN:
        triage = _unknown(log)
        if triage.verdict is Verdict.UNKNOWN and triage.failed_step in _PHASES:
            return _phase_triage(triage, trace)
        return triage
    kind = Kind(reason.verdict.value)
    category = reason.category or "ci_config"
    fix = _FIX_SAFE if reason.retry == "safe" else (_FIX_CONFIG if kind is Kind.CODE else _FIX_NEVER)
    finding = Finding(
        rule=value,
        name="gitlab-failure-reason",
        kind=kind,
        category=category,
        confidence=reason.confidence,
        title=f"GitLab: {reason.message}",
        step=log.failed_step if log else None,
        evidence=(Evidence(_anchor_line(trace), f"failure_reason: {value} ({reason.message})"),),
        hypotheses=(Hypothesis(f"GitLab reports `{value}`: {reason.message}.", 0.9, fixes=(fix,)),),
        retry=reason.retry,
        why=(
            "GitLab itself recorded why the job failed; this reason is decided by the platform, "
            "not inferred from the log."
        ),
    )
    others = tuple(f for f in (log.findings if log else ()) if f.category != category)
    return Triage(
        verdict=reason.verdict,
        confidence=reason.confidence,
        category=category,
        failed_step=log.failed_step if log else None,
        findings=(finding, *others),
        stats=log.stats if log else Stats(),
        ci_system="gitlab_ci",
        tail=log.tail if log else (),
        path=job.name,
    )


def _phase_triage(log: Triage, trace: Trace | None) -> Triage:
    step = log.failed_step or ""
    category = _PHASES[step]
    line = _anchor_line(trace)
    evidence = tuple(e for e in log.tail[-3:]) or (Evidence(line, f"failed in {step}"),)
    finding = Finding(
        rule=f"phase:{step}",
        name="gitlab-runner-phase",
        kind=Kind.INFRASTRUCTURE,
        category=category,
        confidence=PHASE_CONFIDENCE,
        title=f"The job failed in the runner's `{step}` phase, before or around its script",
        step=step,
        evidence=evidence,
        hypotheses=(
            Hypothesis(
                f"The runner failed in `{step}`, which GitLab Runner performs for every job; "
                "no documented pattern names the exact cause, so this is not retried automatically.",
                0.6,
                fixes=(Fix("Retry the job; if it fails the same way, check the runner and its network."),),
            ),
        ),
        retry="safe",
        why="A failure in the runner's own phases happens before the change's code runs.",
    )
    return dataclasses.replace(
        log,
        verdict=Verdict.INFRASTRUCTURE,
        confidence=PHASE_CONFIDENCE,
        category=category,
        findings=(finding, *log.findings),
    )


# --------------------------------------------------------------------------------------------
# Settings


def _flag(value: object) -> object:
    if isinstance(value, str):
        v = value.strip().lower()
        if v in ("", "0", "false", "no", "off"):
            return False
        if v in ("1", "true", "yes", "on"):
            return True
    return value


class GitLabSettings(BaseModel):
    """Everything the job needs, parsed once from the CI_* variables."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    api_url: str = Field(min_length=1)
    project_id: str = Field(min_length=1)
    pipeline_id: int
    job_id: int | None = None
    job_name: str = ""
    mr_iid: int | None = None
    ref: str = ""
    sha: str = ""
    project_dir: str = ""
    token: str = Field(min_length=1, repr=False)
    token_variable: str = "CI_TRIAGE_TOKEN"  # noqa: S105 - a variable name, not a secret
    job_token: bool = False
    rerun: Literal["never", "infrastructure"] = "infrastructure"
    max_retries: int = Field(1, ge=0, le=5)
    min_confidence: float = Field(0.8, ge=0.0, le=1.0)
    labels: bool = True
    label_infrastructure: str = Field("ci::infrastructure", min_length=1)
    label_code: str = Field("ci::code", min_length=1)
    config: str = ""
    dry_run: bool = False
    fail_on_error: bool = False
    max_log_bytes: int = Field(16 << 20, ge=4096)
    http_timeout: float = Field(30.0, gt=0)
    http_retries: int = Field(3, ge=0, le=10)
    retry_max_wait: float = Field(60.0, ge=0)
    trace_recheck_delay: float = Field(5.0, ge=0)

    @field_validator("labels", "dry_run", "fail_on_error", mode="before")
    @classmethod
    def _bools(cls, value: object) -> object:
        return _flag(value)

    @field_validator("rerun", mode="before")
    @classmethod
    def _rerun(cls, value: object) -> object:
        aliases = {"infra": "infrastructure", "false": "never", "no": "never", "": "infrastructure"}
        return aliases.get(str(value).strip().lower(), str(value).strip().lower())

    @property
    def server_url(self) -> str:
        url = self.api_url.rstrip("/")
        return url[: -len("/api/v4")] if url.endswith("/api/v4") else url

    @property
    def policy(self) -> Policy:
        return Policy(
            rerun=self.rerun,
            max_reruns=self.max_retries,
            min_confidence=self.min_confidence,
            labels=self.labels,
            label_infrastructure=self.label_infrastructure,
            label_code=self.label_code,
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> GitLabSettings:
        """Read the predefined CI_* variables and the CI_TRIAGE_* inputs; ConfigError if unusable."""
        token_variable = env.get("CI_TRIAGE_TOKEN_VARIABLE", "").strip() or "CI_TRIAGE_TOKEN"
        token = env.get(token_variable, "").strip()
        job_token_value = env.get("CI_JOB_TOKEN", "")
        if not token:
            raise ConfigError(
                f"{token_variable} is not set. ci-triage needs a project or group access token with "
                "the Developer role and the `api` scope, stored as a masked CI/CD variable "
                f"named {token_variable}. (Protected variables are not available in pipelines "
                "of unprotected branches.) CI_JOB_TOKEN cannot be used: it cannot read other "
                "jobs' logs, write notes, set labels or retry jobs."
            )
        raw: dict[str, Any] = {
            "api_url": env.get("CI_API_V4_URL")
            or (env.get("CI_SERVER_URL", "").rstrip("/") + "/api/v4" if env.get("CI_SERVER_URL") else ""),
            "project_id": env.get("CI_PROJECT_ID", ""),
            "pipeline_id": env.get("CI_PIPELINE_ID", ""),
            "job_id": env.get("CI_JOB_ID") or None,
            "job_name": env.get("CI_JOB_NAME", ""),
            "mr_iid": env.get("CI_MERGE_REQUEST_IID") or None,
            "ref": env.get("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME") or env.get("CI_COMMIT_REF_NAME", ""),
            "sha": env.get("CI_COMMIT_SHA", ""),
            "project_dir": env.get("CI_PROJECT_DIR", ""),
            "token": token,
            "token_variable": token_variable,
            "job_token": token == job_token_value or token.startswith("glcbt-"),
        }
        inputs = {
            "rerun": "CI_TRIAGE_RERUN",
            "max_retries": "CI_TRIAGE_MAX_RETRIES",
            "min_confidence": "CI_TRIAGE_MIN_CONFIDENCE",
            "labels": "CI_TRIAGE_LABELS",
            "label_infrastructure": "CI_TRIAGE_LABEL_INFRASTRUCTURE",
            "label_code": "CI_TRIAGE_LABEL_CODE",
            "config": "CI_TRIAGE_CONFIG",
            "dry_run": "CI_TRIAGE_DRY_RUN",
            "fail_on_error": "CI_TRIAGE_FAIL_ON_ERROR",
            "max_log_bytes": "CI_TRIAGE_MAX_LOG_BYTES",
            "http_timeout": "CI_TRIAGE_HTTP_TIMEOUT",
            "http_retries": "CI_TRIAGE_HTTP_RETRIES",
            "retry_max_wait": "CI_TRIAGE_RETRY_MAX_WAIT",
            "trace_recheck_delay": "CI_TRIAGE_TRACE_RECHECK_DELAY",
        }
        for key, var in inputs.items():
            value = env.get(var)
            if value is not None and value.strip() != "":
                raw[key] = value.strip()
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            names = {
                **inputs,
                "api_url": "CI_API_V4_URL",
                "project_id": "CI_PROJECT_ID",
                "pipeline_id": "CI_PIPELINE_ID",
                "job_id": "CI_JOB_ID",
                "mr_iid": "CI_MERGE_REQUEST_IID",
                "token": token_variable,
            }
            problems = []
            for err in exc.errors():
                key = str(err["loc"][0]) if err["loc"] else ""
                problems.append(f"{names.get(key, key)}: {err['msg']}")
            raise ConfigError("invalid settings:\n  " + "\n  ".join(problems)) from exc


# --------------------------------------------------------------------------------------------
# The job


@dataclass(frozen=True, slots=True)
class Result:
    """What one invocation did, for stdout and the tests."""

    plan: Plan | None
    problems: tuple[str, ...] = ()
    note_url: str = ""
    message: str = ""


def _catalog(settings: GitLabSettings, cache: FileCache | None = None) -> Catalog:
    catalog = load_catalog(cache)
    return load_repo_config_file(catalog, Path(settings.project_dir or "."), settings.config)


def _read_trace(
    forge: GitLabForge, job: JobInfo, settings: GitLabSettings, sleep: Callable[[float], None]
) -> tuple[Trace | None, str]:
    """The job's log, read again once after a short delay while GitLab is still assembling it."""
    try:
        trace = forge.trace(job.id, settings.max_log_bytes)
        if not trace.complete:
            sleep(settings.trace_recheck_delay)
            again = forge.trace(job.id, settings.max_log_bytes)
            if again.complete or again.size >= trace.size:
                trace = again
    except LogUnavailable as exc:
        return None, f"The job log could not be read ({exc}); triaged from GitLab's failure reason."
    notes = []
    if not trace.complete:
        notes.append("The log did not end with GitLab's job-end line; it may be incomplete.")
    if trace.omitted:
        notes.append(
            f"The log is {trace.size / 1e6:.1f} MB; the failing section's start and the last "
            f"{(trace.size - trace.omitted) / 1e6:.1f} MB were read."
        )
    return trace, " ".join(notes)


def _attempt(attempts: Mapping[str, Sequence[Mapping[str, Any]]], own: str) -> int:
    """1 + every retry in the pipeline (ours and GitLab's `retry:`), the triage job's excluded."""
    return 1 + sum(len(runs) - 1 for name, runs in attempts.items() if name != own)


def _in_progress(attempts: Mapping[str, Sequence[Mapping[str, Any]]], own: str) -> list[str]:
    busy = {"created", "pending", "running", "waiting_for_resource", "preparing", "scheduled"}
    return [
        name for name, runs in attempts.items() if name != own and len(runs) > 1 and str(runs[-1].get("status")) in busy
    ]


def run(
    settings: GitLabSettings,
    forge: GitLabForge,
    catalog: Catalog,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> Result:
    """Triage the pipeline and carry out the plan; platform failures are returned, not raised."""
    pipeline = forge.pipeline(settings.pipeline_id)
    change = forge.find_merge_request(settings.mr_iid, pipeline.ref or settings.ref, pipeline.sha or settings.sha)
    failed, attempts = forge.jobs(settings.pipeline_id)
    failed = [j for j in failed if j.id != settings.job_id]
    busy = _in_progress(attempts, settings.job_name)
    if busy:
        return Result(
            None,
            message="Retried jobs are still running ("
            + ", ".join(inline(n, 80) for n in busy)
            + "); the note already says so. Nothing to update yet.",
        )
    comment = forge.find_comment(change) if change else None
    state = parse_state(comment[1] if comment else None)
    if not failed and (change is None or settings.pipeline_id not in state.runs):
        return Result(None, message="No failed jobs to triage in this pipeline.")
    results = []
    for job in failed:
        trace, note = _read_trace(forge, job, settings, sleep)
        triage = triage_job(job, trace, catalog)
        results.append(
            JobResult(
                job=JobRef(job.id, _display_name(job.name), job.web_url, "#L{line}"),
                triage=triage,
                note=_runner_note(job, note),
                allow_failure=job.allow_failure,
                retries=job.retries,
            )
        )
    deciding = [r for r in results if not r.allow_failure]
    run_ref = RunRef(
        id=pipeline.id,
        attempt=_attempt(attempts, settings.job_name),
        title=f"pipeline #{pipeline.id} ({pipeline.ref})" if pipeline.ref else f"pipeline #{pipeline.id}",
        url=pipeline.web_url,
        head_sha=pipeline.sha,
        conclusion="failure" if deciding else "success",
    )
    if change is None:
        plan = _plan(ChangeRef(0, pipeline.sha), run_ref, results, settings, state, (), "")
        return Result(plan, message="No open merge request for this pipeline: reported here only.")
    existing = forge.labels(change) if settings.labels else []
    reruns_used = max((r.retries for r in deciding), default=0)
    plan = _plan(change, run_ref, results, settings, state, existing, "", reruns_used)
    problems: list[str] = []
    if plan.rerun:
        first = execute([a for a in plan.actions if isinstance(a, RerunJobs)], forge, dry_run=settings.dry_run)
        if first.problems:
            problems.extend(first.problems)
            # GitLab's words end up in the note's re-run line, which the core does not escape.
            refused = "; ".join(p.split(": ", 1)[-1] for p in first.problems)  # plan_run redacts and escapes
            plan = _plan(change, run_ref, results, settings, state, existing, refused, reruns_used)
    rest = [a for a in plan.actions if not isinstance(a, RerunJobs)]
    outcome = execute(rest, forge, dry_run=settings.dry_run)
    problems.extend(outcome.problems)
    if forge.merged_state is not None and settings.labels and not settings.dry_run:
        # A racing triage job's note was merged into ours: labels follow the merged state.
        current = forge.labels(change)
        fix = execute(label_actions(change, forge.merged_state, settings.policy, current), forge)
        problems.extend(fix.problems)
    return Result(plan, tuple(problems), outcome.comment_url)


def _plan(
    change: ChangeRef,
    run_ref: RunRef,
    results: Sequence[JobResult],
    settings: GitLabSettings,
    state: Any,
    existing: Sequence[str],
    refused: str,
    reruns_used: int = 0,
) -> Plan:
    return plan_run(
        change,
        run_ref,
        results,
        policy=settings.policy,
        state=state,
        existing_labels=existing,
        reruns_used=reruns_used,
        trigger="triage",
        rerun_refused=refused,
        budget=NOTE_BUDGET,
    )


_MENTIONISH = re.compile(r"([@#!~%$&])(?=[\w/-])")


def _display_name(name: str) -> str:
    """A job name for the core, which also puts it, quoted but unescaped, in the re-run line.

    Break mentions and references (`@all`, `#1`, `!2`, `~label`) with a zero-width space and
    keep it on one line; the renderers escape it further wherever they show it.
    """
    flat = " ".join(name.splitlines()) if name else name
    return _MENTIONISH.sub(lambda m: m.group(1) + ZWSP, flat)


def _runner_note(job: JobInfo, note: str) -> str:
    parts = [note] if note else []
    if job.runner_id is not None and job.failure_reason and job.failure_reason != "script_failure":
        runner = f"runner #{job.runner_id}"
        if job.runner_description:
            runner += f" ({job.runner_description})"
        if job.tags:
            runner += ", tags " + ", ".join(job.tags)
        parts.append(f"Ran on {runner}.")
    return " ".join(parts)


def _print_result(result: Result, settings: GitLabSettings, out: IO[str]) -> None:
    if result.message:
        print(f"ci-triage: {result.message}", file=out)
    plan = result.plan
    if plan is None:
        return
    print(
        f"ci-triage: verdict {plan.verdict.value}" + (f" ({', '.join(plan.categories)})" if plan.categories else ""),
        file=out,
    )
    if plan.status:
        print(f"ci-triage: {inline(redact(plan.status), 400)}", file=out)
    if result.note_url:
        print(f"ci-triage: note {result.note_url}", file=out)
    if settings.dry_run:
        print("ci-triage: dry run, nothing was changed. The note would read:", file=out)
        print(plan.section, file=out)
    for problem in result.problems:
        print(f"ci-triage: could not {inline(redact(problem), 400)}", file=out)


def main(
    env: Mapping[str, str],
    out: IO[str],
    err: IO[str],
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """`ci-triage gitlab`: 0 when done (platform failures are reported, not fatal), 2 for
    configuration errors, 1 for failures only when CI_TRIAGE_FAIL_ON_ERROR is set."""
    fail_on_error = _flag(env.get("CI_TRIAGE_FAIL_ON_ERROR", "")) is True
    try:
        settings = GitLabSettings.from_env(env)
        cache = FileCache.from_env(env)
        catalog = _catalog(settings, cache)
        compiled_for(catalog, cache)  # compile once, or load the cached prefilter database
        session = RetryingSession(retries=settings.http_retries, max_wait=settings.retry_max_wait, sleep=sleep)
        forge = GitLabForge.connect(
            settings.server_url,
            settings.token,
            settings.project_id,
            job_token=settings.job_token,
            timeout=settings.http_timeout,
            session=session,
        )
        result = run(settings, forge, catalog, sleep=sleep)
    except ConfigError as exc:
        print(f"ci-triage: configuration error:\n{exc}", file=err)
        return 2
    except ForgeError as exc:
        print(
            "ci-triage: GitLab failed a request, nothing more was done: " + inline(redact(str(exc)), 600),
            file=err,
        )
        return 1 if fail_on_error else 0
    except Exception as exc:  # a bug in the bot must not fail the pipeline
        print(f"ci-triage: internal error ({type(exc).__name__}); please report it:", file=err)
        print(redact(traceback.format_exc()), file=err)
        return 1 if fail_on_error else 0
    _print_result(result, settings, out)
    return 1 if (result.problems and settings.fail_on_error) else 0

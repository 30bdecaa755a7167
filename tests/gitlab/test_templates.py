"""The CI/CD component, the plain template, the example, and the job run as GitLab Runner would."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from bot.gitlab_job import GitLabSettings
from tests.gitlab.conftest import MR, PIPELINE, log, pipeline_with, runner_env
from tests.gitlab.fake_gitlab import FakeGitLab

ROOT = Path(__file__).resolve().parents[2]
COMPONENT = ROOT / "templates" / "ci-triage.yml"
TEMPLATE = ROOT / "gitlab" / "ci-triage.gitlab-ci.yml"
EXAMPLE = ROOT / "examples" / "gitlab-ci.yml"


def _component() -> tuple[dict[str, Any], dict[str, Any]]:
    spec, jobs = yaml.safe_load_all(COMPONENT.read_text())
    return spec, jobs


def _interpolate(text: str, inputs: dict[str, Any]) -> str:
    return re.sub(
        r"\$\[\[ inputs\.([\w-]+) \]\]",
        lambda m: str(inputs[m.group(1)]).lower() if isinstance(inputs[m.group(1)], bool) else str(inputs[m.group(1)]),
        text,
    )


def test_component_declares_the_inputs_and_one_post_job() -> None:
    spec, jobs = _component()
    inputs = spec["spec"]["inputs"]
    assert {
        "image",
        "token-variable",
        "rerun",
        "max-retries",
        "min-confidence",
        "labels",
        "label-infrastructure",
        "label-code",
        "config",
        "dry-run",
    } <= set(inputs)
    assert inputs["image"]["default"] == "registry.example/ci-triage:1"
    assert inputs["token-variable"]["default"] == "CI_TRIAGE_TOKEN"
    assert list(jobs) == ["ci-triage"]
    job = jobs["ci-triage"]
    assert job["stage"] == "$[[ inputs.stage ]]" and inputs["stage"]["default"] == ".post"
    assert all(rule["when"] == "on_failure" for rule in job["rules"])
    assert job["allow_failure"] is True
    assert job["script"] == ["ci-triage gitlab"]
    used = set(re.findall(r"inputs\.([\w-]+)", COMPONENT.read_text().split("---", 1)[1]))
    assert used == set(inputs)


def test_component_variables_with_default_inputs_are_valid_settings() -> None:
    spec, _ = _component()
    defaults = {k: v["default"] for k, v in spec["spec"]["inputs"].items()}
    jobs = yaml.safe_load(_interpolate(COMPONENT.read_text().split("---", 1)[1], defaults))
    env = {k: str(v) for k, v in jobs["ci-triage"]["variables"].items()}
    env.update(
        CI_API_V4_URL="https://gitlab.example.com/api/v4",
        CI_PROJECT_ID="1",
        CI_PIPELINE_ID="2",
        CI_TRIAGE_TOKEN="glpat-x",
    )
    settings = GitLabSettings.from_env(env)
    assert settings.policy.label_infrastructure == "ci::infrastructure"
    assert settings.max_retries == 1 and settings.min_confidence == 0.8
    assert settings.labels and not settings.dry_run and not settings.fail_on_error


def test_plain_template_matches_the_component() -> None:
    template = yaml.safe_load(TEMPLATE.read_text())
    _, jobs = _component()
    job, component_job = template["ci-triage"], jobs["ci-triage"]
    assert job["stage"] == ".post"
    assert job["rules"] == component_job["rules"]
    assert job["script"] == component_job["script"]
    assert set(job["variables"]) == set(component_job["variables"])
    assert template["variables"]["CI_TRIAGE_IMAGE"] == "registry.example/ci-triage:1"
    env = {k: str(v) for k, v in job["variables"].items()}
    env.update(
        CI_API_V4_URL="https://gitlab.example.com/api/v4",
        CI_PROJECT_ID="1",
        CI_PIPELINE_ID="2",
        CI_TRIAGE_TOKEN="glpat-x",
    )
    assert GitLabSettings.from_env(env).rerun == "infrastructure"


def test_example_includes_the_component() -> None:
    example = yaml.safe_load(EXAMPLE.read_text())
    component = example["include"][0]
    assert component["component"].endswith("/ci-triage@1")
    spec, _ = _component()
    assert set(component["inputs"]) <= set(spec["spec"]["inputs"])


def test_the_job_command_as_gitlab_runner_runs_it(gitlab: FakeGitLab, tmp_path: Path) -> None:
    """`ci-triage gitlab` in a fresh process with only the runner's environment."""
    pipeline_with(gitlab)
    gitlab.add_job(PIPELINE, "build-image", trace=log("podman-disk-full.log"))
    env = runner_env(gitlab, tmp_path)
    env.update(PATH=os.environ.get("PATH", ""), HOME=str(tmp_path))
    exe = Path(sys.executable).with_name("ci-triage")
    done = subprocess.run(
        [str(exe), "gitlab"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "verdict infrastructure (disk_full)" in done.stdout
    ours = gitlab.our_notes(MR)
    assert len(ours) == 1 and "INF101" in ours[0]["body"]
    assert gitlab.mrs[MR]["labels"] == ["ci::infrastructure"]
    assert [j["status"] for j in gitlab.jobs.values() if j["name"] == "build-image"] == ["failed", "pending"]

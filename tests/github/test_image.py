"""The Action's packaging: action.yml, the Dockerfile and its install steps, run for real.

No container engine runs here, so the Dockerfile's build-stage RUN steps are replayed in a
fresh virtual environment (paths mapped), and the installed entrypoint is run the way the
runner runs the container: environment only, against the fake GitHub.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from bot.github_action import Settings
from tests.github.conftest import STEPS_DISK, Runner, log, workflow_run_event
from tests.github.fake import FakeGitHub

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text("utf-8")


def instructions() -> list[tuple[int, str, str]]:
    """(stage, instruction, arguments) with continuation lines joined."""
    out, stage = [], -1
    text = DOCKERFILE.replace("\\\n", " ")
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        if word == "FROM":
            stage += 1
        out.append((stage, word, rest.strip()))
    return out


def test_dockerfile_is_multi_stage_slim_pinned_and_unprivileged() -> None:
    steps = instructions()
    bases = [rest for _, word, rest in steps if word == "FROM"]
    assert len(bases) == 2 and all(b.startswith("python:3.11-slim-bookworm") for b in bases)
    final = [(word, rest) for stage, word, rest in steps if stage == 1]
    users = [rest for word, rest in final if word == "USER"]
    assert users == ["1001"]
    entrypoint = [json.loads(rest) for word, rest in final if word == "ENTRYPOINT"]
    assert entrypoint == [["/opt/ci-triage/bin/ci-triage", "github"]]
    assert not any("apt-get" in rest or "gcc" in rest for _, rest in final)
    assert any("pip uninstall -y pip" in rest for word, rest in final if word == "RUN")
    for line in (ROOT / "docker" / "requirements.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            assert "==" in line, line


def test_action_yml_declares_the_inputs_the_entrypoint_reads() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text("utf-8"))
    assert action["runs"] == {"using": "docker", "image": "Dockerfile"}
    inputs = {f"INPUT_{name.upper()}" for name in action["inputs"]}
    read = {k for k in Settings.ENV if k.startswith("INPUT_")}
    assert inputs == read
    assert action["inputs"]["github-token"]["default"] == "${{ github.token }}"
    assert action["inputs"]["fail-on-error"]["default"] == "false"
    assert set(action["outputs"]) == {"verdict", "categories", "comment-url", "reruns"}
    example = yaml.safe_load((ROOT / "examples" / "github-workflow.yml").read_text("utf-8"))
    assert example["permissions"] == {}
    assert example["concurrency"]["cancel-in-progress"] is False
    steps = example["jobs"]["triage"]["steps"]
    assert not any("checkout" in str(s.get("uses", "")) for s in steps)


def test_install_steps_in_a_fresh_venv_and_run_the_entrypoint(tmp_path: Path, github: FakeGitHub) -> None:
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(ROOT / "pyproject.toml", src)
    shutil.copytree(ROOT / "bot", src / "bot", ignore=shutil.ignore_patterns("__pycache__"))
    readme = ROOT / "README.md"
    (src / "README.md").write_text(readme.read_text("utf-8") if readme.exists() else "ci-triage\n")
    venv = tmp_path / "opt-ci-triage"
    mapping = {"/opt/ci-triage": str(venv), "/tmp/requirements.txt": str(ROOT / "docker" / "requirements.txt"),
               "/src": str(src)}
    runs = [rest for stage, word, rest in instructions() if stage == 0 and word == "RUN"]
    for run in runs:
        for command in run.split("&&"):
            args = shlex.split(command)
            args = [next((v + a[len(k):] for k, v in mapping.items() if a.startswith(k)), a) for a in args]
            if args[:3] == ["python", "-m", "venv"]:
                args[0] = sys.executable
            subprocess.run(args, check=True, capture_output=True, timeout=300,
                           env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    entry = venv / "bin" / "ci-triage"
    assert entry.exists() and not (venv / "bin" / "pip").exists()

    github.add_pull(41)
    github.add_run(950, pulls=(41,))
    github.add_job(950, 9501, "build", log=log("disk-full.log"), steps=STEPS_DISK)
    env = Runner(github, tmp_path).env("workflow_run", workflow_run_event(950, pulls=(41,)))
    done = subprocess.run([str(entry), "github"], env={"PATH": "/usr/bin:/bin", **env},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(github.ours(41)) == 1 and github.reruns == [950]

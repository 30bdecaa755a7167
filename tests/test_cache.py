"""The file cache for the validated catalog and the compiled prefilter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import bot.rules
from bot.cache import FileCache
from bot.core.engine import classify, compile_catalog
from bot.core.model import Verdict
from bot.rules import load_catalog


def test_location_from_the_environment(tmp_path: Path) -> None:
    assert FileCache.from_env({"CI_TRIAGE_CACHE_DIR": str(tmp_path)}).folder == tmp_path
    assert FileCache.from_env({"XDG_CACHE_HOME": "/x"}).folder == Path("/x/ci-triage")
    assert FileCache.from_env({"HOME": "/home/u"}).folder == Path("/home/u/.cache/ci-triage")
    assert FileCache.from_env({}).folder.name == f"ci-triage-{os.getuid()}"


def test_put_get_and_failures_only_cost_a_recompute(tmp_path: Path) -> None:
    cache = FileCache(tmp_path / "c")
    assert cache.get("k") is None
    cache.put("k", b"data")
    assert cache.get("k") == b"data"
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    FileCache(blocked / "sub").put("k", b"x")  # cannot create: silently skipped
    assert FileCache(blocked / "sub").get("k") is None


def test_catalog_and_prefilter_round_trip_through_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = FileCache(tmp_path)
    monkeypatch.setattr(bot.rules, "_LOADED", [])
    first = load_catalog(cache)
    assert any(p.name.startswith("catalog-") for p in tmp_path.iterdir())
    monkeypatch.setattr(bot.rules, "_LOADED", [])
    second = load_catalog(cache)
    assert second.rules == first.rules
    compiled = compile_catalog(second.rules, cache)
    assert any(p.suffix == ".hsdb" for p in tmp_path.iterdir())
    reloaded = compile_catalog(second.rules, cache)  # loaded from the cache, with its own scratch
    log = 'Error: storing blob to file "/var/tmp/container_images_storage1/1": write x: no space left on device\n'
    assert classify(log, reloaded).to_dict() == classify(log, compiled).to_dict()
    assert classify(log, reloaded).verdict is Verdict.INFRASTRUCTURE


def test_a_corrupt_cache_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = FileCache(tmp_path)
    monkeypatch.setattr(bot.rules, "_LOADED", [])
    catalog = load_catalog(cache)
    compile_catalog(catalog.rules, cache)
    for path in tmp_path.iterdir():
        path.write_bytes(b"{not json or a database")
    monkeypatch.setattr(bot.rules, "_LOADED", [])
    again = load_catalog(cache)
    assert len(again.rules) == len(catalog.rules)
    assert compile_catalog(again.rules, cache).patterns


def test_python_dash_m_bot_runs_the_cli() -> None:
    done = subprocess.run([sys.executable, "-m", "bot", "rule", "INF101"], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and done.stdout.startswith("# INF101")


def test_a_warm_start_never_imports_pydantic(tmp_path: Path) -> None:
    """Importing pydantic and building the schema costs more than classifying a small log."""
    env = {**os.environ, "CI_TRIAGE_CACHE_DIR": str(tmp_path)}
    example = Path(__file__).resolve().parents[1] / "examples" / "podman-disk-full.log"
    cold = subprocess.run(
        [sys.executable, "-m", "bot", "classify", "--no-config", str(example)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    probe = (
        "import sys\n"
        "from bot.cli import main\n"
        f"code = main(['classify', '--no-config', '--format', 'json', {str(example)!r}])\n"
        "print('PYDANTIC' if 'pydantic' in sys.modules else 'NO-PYDANTIC', code)\n"
    )
    warm = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert warm.stdout.strip().endswith("NO-PYDANTIC 0")
    assert '"verdict": "infrastructure"' in warm.stdout
    assert "INFRASTRUCTURE" in cold.stdout

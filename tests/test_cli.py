"""The command line, run in-process with real files."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pytest

from bot.cli import main, read_chunks

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "podman-disk-full.log"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv), env={})
    out, err = capsys.readouterr()
    return code, out, err


def test_classify_json_contract(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "classify", "--format", "json", "--no-config", str(EXAMPLE))
    assert code == 0
    obj = json.loads(out)
    assert set(obj) == {"path", "verdict", "confidence", "category", "failed_step", "ci_system", "findings", "stats"}
    assert obj["verdict"] == "infrastructure"
    assert obj["category"] == "disk_full"
    finding = obj["findings"][0]
    assert set(finding) == {"rule", "name", "kind", "category", "confidence", "title", "step", "evidence", "hypotheses"}
    assert finding["evidence"][0]["line"] == 24
    hyp = finding["hypotheses"][0]
    assert {"text", "confidence", "fixes"} <= set(hyp)
    assert hyp["evidence_for"][0]["text"].startswith("/dev/disk3s1s1")
    assert set(obj["stats"]) == {"lines", "bytes", "seconds"}


def test_classify_text_markdown_and_stdin(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = run(capsys, "classify", "--no-config", "--color", "never", str(EXAMPLE))
    assert code == 0 and "INFRASTRUCTURE" in out and "podman system prune -a" in out
    code, out, _ = run(capsys, "classify", "--format", "markdown", "--no-config", str(EXAMPLE))
    assert code == 0 and out.startswith("#### podman-disk-full.log: infrastructure")
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"nothing to see\n")))
    code, out, _ = run(capsys, "classify", "--format", "json", "--no-config", "-")
    assert json.loads(out)["verdict"] == "unknown"


def test_missing_file_is_reported_and_the_others_still_run(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(
        capsys, "classify", "--format", "json", "--no-config", str(tmp_path / "nope.log"), str(EXAMPLE)
    )
    assert code == 1
    first, second = (json.loads(line) for line in out.splitlines())
    assert "cannot read" in first["error"]
    assert second["verdict"] == "infrastructure"
    assert "nope.log" in err


def test_gzip_and_truncated_gzip(tmp_path: Path) -> None:
    data = EXAMPLE.read_bytes()
    gz = tmp_path / "a.log.gz"
    gz.write_bytes(gzip.compress(data))
    assert b"".join(read_chunks(str(gz))) == data
    cut = tmp_path / "b.log.gz"
    cut.write_bytes(gzip.compress(data)[:-30])
    assert data.startswith(b"".join(read_chunks(str(cut)))[:100])


def test_rules_rule_and_docs(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "rules")
    assert code == 0 and "INF101" in out
    code, out, _ = run(capsys, "rules", "--format", "json")
    assert any(r["id"] == "INF101" for r in json.loads(out))
    code, out, _ = run(capsys, "rule", "inf101")
    assert code == 0 and out.startswith("# INF101")
    code, _, err = run(capsys, "rule", "XYZ999")
    assert code == 2 and "no rule" in err
    docs = tmp_path / "rules"
    assert run(capsys, "docs", "--out", str(docs), "--check")[0] == 1
    assert run(capsys, "docs", "--out", str(docs))[0] == 0
    (docs / "OLD.md").write_text("x")
    assert run(capsys, "docs", "--out", str(docs), "--check")[0] == 1
    assert run(capsys, "docs", "--out", str(docs))[0] == 0
    assert run(capsys, "docs", "--out", str(docs), "--check")[0] == 0


def test_eval_on_a_small_corpus(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "a.log").write_bytes(EXAMPLE.read_bytes())
    (tmp_path / "logs" / "b.log").write_text("hello\n")
    rows = [
        {"id": "a", "file": "logs/a.log", "label": "infrastructure", "category": "disk_full", "ambiguous": False},
        {"id": "b", "file": "logs/b.log", "label": "code", "category": "test_failure", "ambiguous": False},
        {"id": "c", "file": "logs/b.log", "label": "code", "category": "lint", "ambiguous": True},
    ]
    (tmp_path / "labels.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    code, out, _ = run(capsys, "eval", str(tmp_path))
    assert code == 0
    assert "cases: 2" in out
    assert "b: code/test_failure -> unknown/None" in out
    assert "infrastructure: precision 1.000  recall 1.000" in out
    code, out, _ = run(capsys, "eval", "--json", "--include-ambiguous", str(tmp_path))
    data = json.loads(out)
    assert data["cases"] == 3 and data["coverage"] == pytest.approx(1 / 3)
    (tmp_path / "labels.jsonl").write_text("{broken\n")
    code, _, err = run(capsys, "eval", str(tmp_path))
    assert code == 1 and "line 1" in err


def test_config_errors_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / ".ci-triage.toml"
    cfg.write_text("[overrides.INF101]\ndisabel = true\n")
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "classify", str(EXAMPLE))
    assert code == 2
    assert ".ci-triage.toml:2: overrides.INF101.disabel: unknown key" in err
    cfg.write_text("[overrides.INF101]\ndisable = true\n")
    code, out, _ = run(capsys, "classify", "--format", "json", str(EXAMPLE))
    assert json.loads(out)["findings"] == [] or all(f["rule"] != "INF101" for f in json.loads(out)["findings"])
    code, _, err = run(capsys, "classify", "--config", str(tmp_path / "missing.toml"), str(EXAMPLE))
    assert code == 2 and "cannot read" in err

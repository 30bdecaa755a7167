#!/usr/bin/env python3
"""Speed and memory of `ci-triage classify` beside ripgrep, measured side by side in one run.

    .venv/bin/python scripts/bench.py [--corpus ../shared/corpus/big] [--size-mb 500] [--repeat 3]

For each large real log (and a >= 500 MB log made by concatenating them) it runs
`ci-triage classify --format json FILE` and `rg -n -f PATTERNS FILE` (about 100 error patterns
taken from the catalog's own line patterns) alternately, `--repeat` times each, and prints the
median wall time, the peak resident memory of each process, and the ratio. It also times a
small log end to end, start-up included. Goals (issue 2): at most 4x ripgrep's time, peak
memory under 150 MB whatever the size, a small log under 0.5 s.

Machines here are noisy: only the ratios of runs made side by side mean much.
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "bot"]
# ASCII classes, as our prefilter uses; Unicode-aware classes make ripgrep's DFA overflow on
# ~100 joined patterns and fall back to an engine 100x slower, which would flatter us.
RG = ["rg", "-n", "--no-unicode", "--regex-size-limit", "1G", "--dfa-size-limit", "1G"]


def run(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode not in (0, 1):  # rg exits 1 when nothing matched
        raise SystemExit(f"{cmd[0]} failed ({proc.returncode}): {err[-500:]}")
    return elapsed, usage.ru_maxrss / 1024


def rg_patterns(limit: int = 100) -> list[str]:
    """About `limit` line patterns from the catalog that ripgrep's regex engine accepts."""
    sys.path.insert(0, str(ROOT))
    from bot.rules import load_catalog

    out: list[str] = []
    for rule in load_catalog().rules:
        for p in rule.match.lines:
            p = re.sub(r"\(\?P<\w+>", "(", p)  # rg -f joins patterns: group names would collide
            # The same relaxation our prefilter applies; it only makes ripgrep faster.
            p = re.sub(
                r"\{(\d+),(\d+)\}",
                lambda m: ("*" if m.group(1) == "0" else "+") if int(m.group(2)) > 8 else m.group(0),
                p,
            )
            if "(?<" in p or "(?=" in p or "(?!" in p:
                continue
            if not p.isascii():
                continue
            probe = subprocess.run([*RG, "-q", "-e", p, "-"], input=b"", capture_output=True, check=False)
            if probe.returncode == 2:
                continue
            out.append(p)
            break
        if len(out) >= limit:
            break
    return out


def prepare(corpus: Path, work: Path, size_mb: int) -> list[Path]:
    work.mkdir(parents=True, exist_ok=True)
    logs = []
    for gz in sorted(corpus.glob("*.gz")):
        target = work / gz.name.removesuffix(".gz")
        if not target.exists() or target.stat().st_size == 0:
            with gzip.open(gz, "rb") as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        logs.append(target)
    big = work / f"concatenated-{size_mb}mb.log"
    if not big.exists() or big.stat().st_size < size_mb << 20:
        with open(big, "wb") as dst:
            while dst.tell() < size_mb << 20:
                for log in logs:
                    with open(log, "rb") as src:
                        shutil.copyfileobj(src, dst, 1 << 20)
    return [*logs, big]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus" / "big"))
    parser.add_argument("--work", default="/tmp/ci-triage-bench")
    parser.add_argument("--size-mb", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("rg") is None:
        print("ripgrep (rg) is not installed: apt-get install ripgrep", file=sys.stderr)
        return 2
    files = prepare(Path(args.corpus), Path(args.work), args.size_mb)
    patterns = rg_patterns()
    pattern_file = Path(args.work) / "patterns.txt"
    pattern_file.write_text("\n".join(patterns) + "\n")
    listing = subprocess.run([*CLI, "rules"], capture_output=True, text=True).stdout
    n_rules = len(re.findall(r"^[A-Z]{3}\d{3,4} ", listing, re.M))
    print(f"ci-triage: {n_rules} rules (full catalog); ripgrep: {len(patterns)} patterns from the catalog")
    subprocess.run([*CLI, "classify", "--no-config", str(files[0])], capture_output=True, check=True)  # warm cache

    header = f"{'log':<58} {'MB':>6} {'triage s':>9} {'rg s':>7} {'ratio':>6} {'triage MB':>10} {'rg MB':>7}"
    print(header)
    print("-" * len(header))
    ratios = []
    for path in files:
        ours, theirs, mem_ours, mem_theirs = [], [], [], []
        for _ in range(args.repeat):
            t, m = run([*CLI, "classify", "--no-config", "--format", "json", str(path)])
            ours.append(t)
            mem_ours.append(m)
            t, m = run([*RG, "-f", str(pattern_file), str(path)])
            theirs.append(t)
            mem_theirs.append(m)
        a, b = statistics.median(ours), statistics.median(theirs)
        ratios.append(a / b)
        size = path.stat().st_size / (1 << 20)
        print(
            f"{path.name[:58]:<58} {size:>6.0f} {a:>9.2f} {b:>7.2f} {a / b:>6.2f} {max(mem_ours):>10.0f} "
            f"{max(mem_theirs):>7.0f}"
        )
    small = ROOT / "examples" / "podman-disk-full.log"
    times = [run([*CLI, "classify", "--no-config", str(small)])[0] for _ in range(5)]
    print()
    print(f"time ratio triage/ripgrep: median {statistics.median(ratios):.2f}, worst {max(ratios):.2f} (goal <= 4)")
    print(f"small log end to end, start-up included: median {statistics.median(times):.3f} s (goal < 0.5 s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Measure the classifier on a labelled corpus: confusion matrix, precision, recall, calibration.

Pure: the CLI reads `labels.jsonl` and the logs, classifies them and hands the pairs here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.core.model import Triage, Verdict

LABELS = ("infrastructure", "code")
COLUMNS = ("infrastructure", "code", "unknown")
BINS = ((0.5, 0.7), (0.7, 0.8), (0.8, 0.9), (0.9, 0.95), (0.95, 1.01))


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    label: str
    category: str
    triage: Triage


@dataclass(frozen=True, slots=True)
class Metrics:
    total: int
    matrix: dict[str, dict[str, int]]
    precision: dict[str, float]
    recall: dict[str, float]
    coverage: float
    category_accuracy: float
    calibration: tuple[tuple[str, int, float, float], ...]
    """(bin, count, mean confidence, share right) over answered cases."""
    misses: tuple[Case, ...]


def _ratio(a: int, b: int) -> float:
    return a / b if b else 0.0


def evaluate(cases: Sequence[Case]) -> Metrics:
    matrix = {label: dict.fromkeys(COLUMNS, 0) for label in LABELS}
    for c in cases:
        matrix[c.label][c.triage.verdict.value] += 1
    precision, recall = {}, {}
    for v in LABELS:
        predicted = sum(matrix[label][v] for label in LABELS)
        precision[v] = _ratio(matrix[v][v], predicted)
        recall[v] = _ratio(matrix[v][v], sum(matrix[v].values()))
    answered = [c for c in cases if c.triage.verdict is not Verdict.UNKNOWN]
    category_right = sum(c.triage.category == c.category for c in answered)
    calibration = []
    for lo, hi in BINS:
        inside = [c for c in answered if lo <= c.triage.confidence < hi]
        if not inside:
            continue
        right = sum(c.triage.verdict.value == c.label for c in inside)
        mean = sum(c.triage.confidence for c in inside) / len(inside)
        calibration.append((f"{lo:.2f}-{min(hi, 1.0):.2f}", len(inside), mean, right / len(inside)))
    misses = tuple(c for c in cases if c.triage.verdict.value != c.label or c.triage.category != c.category)
    return Metrics(
        total=len(cases),
        matrix=matrix,
        precision=precision,
        recall=recall,
        coverage=_ratio(len(answered), len(cases)),
        category_accuracy=_ratio(category_right, len(answered)),
        calibration=tuple(calibration),
        misses=misses,
    )


def render_metrics(m: Metrics) -> str:
    out = [f"cases: {m.total}", "", "confusion matrix (rows: label, columns: verdict)"]
    out.append(f"{'':>16}" + "".join(f"{c:>16}" for c in COLUMNS))
    for label in LABELS:
        out.append(f"{label:>16}" + "".join(f"{m.matrix[label][c]:>16}" for c in COLUMNS))
    out.append("")
    out.append("misses (id: expected -> actual)")
    for c in m.misses:
        t = c.triage
        top = t.findings[0].rule if t.findings else "-"
        out.append(f"  {c.id}: {c.label}/{c.category} -> {t.verdict.value}/{t.category} ({t.confidence:.2f}, {top})")
    out.append("")
    out.append("calibration (verdict confidence -> share right)")
    for name, n, mean, right in m.calibration:
        out.append(f"  {name}: n={n:<4} mean={mean:.2f} right={right:.2f}")
    out.append("")
    for v in LABELS:
        out.append(f"{v:>16}: precision {m.precision[v]:.3f}  recall {m.recall[v]:.3f}")
    out.append(f"coverage (share not unknown): {m.coverage:.3f}")
    out.append(f"category accuracy on answered: {m.category_accuracy:.3f}")
    return "\n".join(out) + "\n"

"""The classifier's goals on the labelled dev corpus (../shared/corpus/dev), when it is present.

Goals from the issue, on rows with `ambiguous: false`: infrastructure precision >= 0.97 and
recall >= 0.90, code precision >= 0.95 and recall >= 0.85, category accuracy >= 0.80 on
answered rows. The corpus is data beside the checkout, never copied into the repository.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import load_cases
from bot.core.evaluate import evaluate
from bot.rules import Catalog

DEV = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "dev"

pytestmark = [
    pytest.mark.corpus,
    pytest.mark.skipif(not (DEV / "labels.jsonl").is_file(), reason="../shared/corpus/dev is not beside this checkout"),
]


def test_goals_on_the_dev_corpus(catalog: Catalog) -> None:
    m = evaluate(load_cases(DEV, catalog, include_ambiguous=False))
    assert m.total >= 100
    assert m.precision["infrastructure"] >= 0.97
    assert m.recall["infrastructure"] >= 0.90
    assert m.precision["code"] >= 0.95
    assert m.recall["code"] >= 0.85
    assert m.category_accuracy >= 0.80

"""Shared fixtures: the catalog (loaded once) and paths to the shared corpus when present."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.engine import CompiledCatalog, compile_catalog
from bot.rules import Catalog, load_catalog

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="session")
def compiled(catalog: Catalog) -> CompiledCatalog:
    return compile_catalog(catalog.rules)

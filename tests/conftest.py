"""Shared test set-up. pytest puts this folder on sys.path, so `helpers` (shared builders) imports
from every test package; fixtures used across packages live here."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCENARIO_DIR = REPO / "mini_engine" / "scenarios"


@pytest.fixture
def scenario_dir() -> Path:
    """The bundled scenarios, as shipped inside the package."""
    return SCENARIO_DIR

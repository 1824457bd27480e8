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


@pytest.fixture(autouse=True)
def private_config_home(tmp_path_factory, monkeypatch) -> Path:
    """Every test sees an empty $XDG_CONFIG_HOME: a developer's own keymap.toml must not
    change what a test presses or a snapshot shows."""
    home = tmp_path_factory.mktemp("config-home")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    return home

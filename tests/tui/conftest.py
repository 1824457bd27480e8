"""TUI tests draw in colour whatever the developer's environment says (NO_COLOR)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _colours(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)

"""The bundled scenarios (mini_engine/scenarios/*.yaml), found through importlib.resources.

They ship as package data, so `resolve_scenario("hello")` works from an installed
package as well as from a source checkout (where `scenarios/` at the repository
root is a symlink to the same directory).
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from mini_engine.scenarios.loader import ScenarioError

DEFAULT_SCENARIO = "hello"


def _scenario_dir() -> Path:
    return Path(str(resources.files("mini_engine") / "scenarios"))


def bundled_scenarios() -> list[Path]:
    """Paths of every bundled scenario file, sorted by name."""
    directory = _scenario_dir()
    return sorted(p for p in directory.glob("*.yaml") if p.is_file())


def bundled_names() -> list[str]:
    return [p.stem for p in bundled_scenarios()]


def resolve_scenario(name_or_path: str | os.PathLike) -> Path:
    """A scenario file: an existing path, else a bundled name (`hello` or `hello.yaml`).

    Raises ScenarioError (with the bundled names) when it is neither.
    """
    path = Path(name_or_path)
    if path.exists():
        return path
    text = str(name_or_path)
    if os.sep not in text and "/" not in text:
        stem = text[:-5] if text.endswith(".yaml") else text[:-4] if text.endswith(".yml") else text
        candidate = _scenario_dir() / f"{stem}.yaml"
        if candidate.is_file():
            return candidate
    raise ScenarioError(f"no such file or bundled scenario (bundled: "
                        f"{', '.join(bundled_names())})", text)

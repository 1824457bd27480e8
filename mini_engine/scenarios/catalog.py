"""The bundled scenarios (mini_engine/scenarios/*.yaml), found through importlib.resources.

They ship as package data, so `resolve_scenario("hello")` works from an installed
package as well as from a source checkout (where `scenarios/` at the repository
root is a symlink to the same directory).
"""

from __future__ import annotations

import difflib
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
    """A scenario file: an existing path, else a bundled name (`hello`, `hello.yaml`,
    `hello.yml`).

    Raises ScenarioError (with the bundled names, and "did you mean 'kv_preemption'?"
    when a bare name is close to one) when it is neither, and for an empty name.
    Whether the path is a file that can be read is load_scenario's to say.
    """
    text = os.fsdecode(os.fspath(name_or_path))
    if not text:
        raise ScenarioError("empty file name: give a scenario file or a bundled scenario's "
                            "name", text)
    if os.path.lexists(text):  # False for a name the OS refuses (too long, NUL)
        return Path(text)
    hint = ""
    if os.sep not in text and "/" not in text:
        stem = text[:-5] if text.endswith(".yaml") else text[:-4] if text.endswith(".yml") else text
        candidate = _scenario_dir() / f"{stem}.yaml"
        if stem and os.path.isfile(candidate):  # (os.path: False, not OSError, if too long)
            return candidate
        close = difflib.get_close_matches(stem, bundled_names(), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
    raise ScenarioError(f"no such file or bundled scenario{hint} (bundled: "
                        f"{', '.join(bundled_names())})", text)

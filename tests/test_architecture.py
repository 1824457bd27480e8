"""The engine package never depends on the UI: mini_engine must not import Textual."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import mini_engine

PACKAGE_DIR = Path(mini_engine.__file__).resolve().parent
FORBIDDEN = "textual"


def _textual_imports(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [n for n in names if n == FORBIDDEN or n.startswith(FORBIDDEN + ".")]
    return found


def test_scanner_detects_textual_imports():
    # The scan below must be able to fail.
    assert _textual_imports("import textual") == ["textual"]
    assert _textual_imports("from textual.app import App") == ["textual.app"]
    assert _textual_imports("def f():\n    import textual.widgets as w") == ["textual.widgets"]
    assert _textual_imports("import textualize, os\nfrom . import textual") == []


def test_no_module_in_mini_engine_imports_textual():
    files = sorted(PACKAGE_DIR.rglob("*.py"))
    assert len(files) >= 10  # the scan really looked at the package
    offenders = {str(f.relative_to(PACKAGE_DIR)): hits for f in files
                 if (hits := _textual_imports(f.read_text(encoding="utf-8")))}
    assert offenders == {}


_PROBE = textwrap.dedent("""
    import importlib, pkgutil, sys
    {extra}
    import mini_engine
    names = [m.name for m in pkgutil.walk_packages(mini_engine.__path__, "mini_engine.")]
    for name in names:
        importlib.import_module(name)
    loaded = sorted(m for m in sys.modules if m == "textual" or m.startswith("textual."))
    print(len(names), loaded)
""")


def _probe(extra: str = "") -> tuple[int, str]:
    """Import mini_engine and all its submodules in a fresh interpreter; report textual."""
    result = subprocess.run([sys.executable, "-c", _PROBE.format(extra=extra)],
                            capture_output=True, text=True, timeout=120,
                            cwd=PACKAGE_DIR.parent)
    assert result.returncode == 0, result.stderr
    count, loaded = result.stdout.strip().split(" ", 1)
    return int(count), loaded


def test_importing_every_mini_engine_module_leaves_textual_unloaded():
    count, loaded = _probe()
    assert count >= 10  # walk_packages found the submodules
    assert loaded == "[]"


def test_probe_detects_textual_when_it_is_loaded():
    # Control: the probe does see textual in sys.modules (it is installed in the venv).
    _, loaded = _probe("import textual")
    assert "'textual'" in loaded

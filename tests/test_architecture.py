"""The layer rules of issue 7, enforced by scanning the source with `ast` (and fresh interpreters).

Rules (each checker returns a set of stable "items", one per violation):
- engine_layer: mini_engine/engine/** imports nothing from mini_engine outside mini_engine.engine
  (the facade `mini_engine` included), except mini_engine.version, nor tui.
- recording_layer: mini_engine/recording/** imports nothing from mini_engine.engine.core.
- tui_import: mini_engine imports tui only inside a function of mini_engine/cli (the lazy import
  of the `tui` command); never at module level, never elsewhere.
- tui_main_imports_cli: in a fresh interpreter, `python -m tui --help` and then importing every tui
  module (without running the app) leave mini_engine.cli unloaded.
- private_import: no `from x import _y` and no `m._y` on a name bound by an import.
- private_attribute: no `obj._y` where obj is not `self`/`cls`/`super()`, unless `_y` is defined in
  the same module (a class there assigns `self._y`, or defines `_y` in its body or `__slots__`,
  or the module defines `_y`): a class's own module may use its private fields.
- import_cycle: module-level imports (outside `if TYPE_CHECKING:`) between modules of mini_engine
  and tui form no cycle; an item is an import edge that lies inside a strongly connected component.
- module_size / function_size: see `module_lines` and `function_lines` for exactly what is counted.
- mini_engine never imports textual (scan and fresh-interpreter probe).

Others are restructuring the tree, so the suite is a ratchet: KNOWN_VIOLATIONS lists what is still
allowed to fail; a new violation fails `test_rule_has_no_new_violations`, and a listed item that is
no longer a violation fails `test_known_violations_are_still_real` (delete it from the list).
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap

import pytest

from architecture_rules import (MAX_FUNCTION_LINES, MAX_MODULE_LINES, PACKAGE_DIR, SOURCE_RULES,
                                Module, engine_layer, function_lines, function_size,
                                import_cycle, module_size, modules_from, private_attribute,
                                private_import, project_modules, recording_layer, tui_import,
                                tui_main_imports_cli)

FORBIDDEN = "textual"


# rule -> items still allowed to fail while the restructuring is under way. Owners: engine/core
# and recording = lead; cli = "cli" helper; tui = "tui" helper. This list may only shrink.
KNOWN_VIOLATIONS: dict[str, set[str]] = {
    "engine_layer": set(),
    "recording_layer": set(),
    "tui_import": set(),
    "tui_main_imports_cli": set(),
    "private_import": set(),
    "private_attribute": set(),
    "import_cycle": set(),
    "module_size": set(),
    "function_size": set(),
}


@pytest.fixture(scope="module")
def findings() -> dict[str, set[str]]:
    modules = project_modules()
    assert len(modules) >= 40 and "mini_engine.engine.request" in modules and "tui.app" in modules
    found = {rule: check(modules) for rule, check in SOURCE_RULES.items()}
    found["tui_main_imports_cli"] = tui_main_imports_cli()
    return found


def test_every_rule_has_a_ratchet_entry():
    assert set(KNOWN_VIOLATIONS) == set(SOURCE_RULES) | {"tui_main_imports_cli"}


@pytest.mark.parametrize("rule", sorted(KNOWN_VIOLATIONS))
def test_rule_has_no_new_violations(findings, rule):
    assert sorted(findings[rule] - KNOWN_VIOLATIONS[rule]) == []


@pytest.mark.parametrize("rule", sorted(KNOWN_VIOLATIONS))
def test_known_violations_are_still_real(findings, rule):
    # A fixed item must leave KNOWN_VIOLATIONS, so the list can only shrink.
    assert sorted(KNOWN_VIOLATIONS[rule] - findings[rule]) == []


# ---------------------------------------------------------------------- controls: each can fail

def test_engine_layer_checker_fails_on_imports_above_the_engine():
    modules = modules_from({
        "mini_engine/__init__.py": "from mini_engine.engine.a import A\n",
        "mini_engine/version.py": "",
        "mini_engine/engine/__init__.py": "",
        "mini_engine/engine/a.py": """
            import numpy
            from mini_engine.engine import b
            from mini_engine.version import __version__
            from . import b as bb
            from ..scenarios.spec import Scenario
            def f():
                import mini_engine
        """,
        "mini_engine/engine/b.py": "",
        "mini_engine/scenarios/spec.py": "",
    })
    assert engine_layer(modules) == {"mini_engine/engine/a.py imports mini_engine.scenarios.spec",
                                     "mini_engine/engine/a.py imports mini_engine"}


def test_recording_layer_checker_fails_on_engine_core_imports():
    modules = modules_from({
        "mini_engine/recording/r.py": """
            from mini_engine.engine.request import Request
            from mini_engine.engine import core
            from mini_engine.engine.core.sched.output import SchedulerOutput
        """,
        "mini_engine/engine/core/__init__.py": "",
    })
    assert recording_layer(modules) == {
        "mini_engine/recording/r.py imports mini_engine.engine.core",
        "mini_engine/recording/r.py imports mini_engine.engine.core.sched.output"}


def test_tui_import_checker_allows_only_the_clis_lazy_import():
    modules = modules_from({
        "mini_engine/cli/tui_command.py": "def run():\n    from tui.app import DebuggerApp\n",
        "mini_engine/cli/top.py": "import tui\n",
        "mini_engine/debug/session.py": "def f():\n    import tui.app\n",
        "tui/app.py": "import mini_engine\n",
    })
    assert tui_import(modules) == {"mini_engine/cli/top.py imports tui",
                                   "mini_engine/debug/session.py imports tui.app"}


def test_tui_main_probe_sees_the_cli_when_it_is_loaded():
    assert tui_main_imports_cli("import mini_engine.cli") == {"python -m tui --help",
                                                               "import every tui module"}


def test_private_import_checker_fails_on_underscore_names_of_other_modules():
    modules = modules_from({
        "pkg/__init__.py": "",
        "pkg/m.py": "_hidden = 1\n",
        "pkg/a.py": """
            import os
            from pkg import m
            from pkg.m import _hidden, __doc__
            from . import m as mm
            os._exit
            m._hidden
            mm._hidden
            os.path.join
        """,
    })
    assert private_import(modules) == {"pkg/a.py: from pkg.m import _hidden",
                                       "pkg/a.py: os._exit", "pkg/a.py: m._hidden",
                                       "pkg/a.py: mm._hidden"}


def test_private_attribute_checker_allows_only_own_objects_and_own_module_names():
    modules = modules_from({"pkg/a.py": """
        class Box:
            __slots__ = ("_slot",)
            def __init__(self, other):
                self._items = []
                self._helper()
                other._items  # another Box: its class is defined here
                other._slot
            def _helper(self):
                return super()._base
        def peek(request, point):
            point._replace(x=1)
            return request._all_token_ids, request.state._index, request.__dict__
    """})
    assert private_attribute(modules) == {"pkg/a.py: request._all_token_ids",
                                          "pkg/a.py: request.state._index"}


def test_import_cycle_checker_fails_on_module_level_cycles_only():
    modules = modules_from({
        "pkg/__init__.py": "",
        "pkg/a.py": "from pkg.b import B\nimport pkg.d\nimport pkg.e\n",
        "pkg/b.py": "from pkg import c\n",
        "pkg/c.py": "import pkg.a\n",
        "pkg/d.py": "def f():\n    from pkg.a import A\n",  # lazy: no cycle
        "pkg/e.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import A\n",
    })
    assert import_cycle(modules) == {"pkg.a -> pkg.b", "pkg.b -> pkg.c", "pkg.c -> pkg.a"}


def test_size_checkers_fail_on_long_modules_and_functions():
    long_body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    fits = f'def fits():\n    """Doc."""\n\n    # a comment\n{long_body[:-len("    x79 = 79")]}\n'
    too_long = (f"class K:\n    @staticmethod\n    def method():\n"
                f'        """Doc."""\n' + textwrap.indent(long_body, "    ") + "\n")
    modules = modules_from({"pkg/a.py": fits + too_long,
                            "pkg/big.py": "\n" * MAX_MODULE_LINES + "x = 1\n",
                            "pkg/ok.py": "\n" * (MAX_MODULE_LINES - 1) + "x = 1\n"})
    assert function_size(modules) == {"pkg/a.py:K.method"}
    assert module_size(modules) == {"pkg/big.py"}
    node = next(n for n in ast.walk(modules["pkg.a"].tree)
                if isinstance(n, ast.FunctionDef) and n.name == "fits")
    assert function_lines(node, modules["pkg.a"].source.splitlines()) == MAX_FUNCTION_LINES


# ---------------------------------------------------------------------- mini_engine never imports textual

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

"""The checkers behind tests/test_architecture.py: read mini_engine/ and tui/ with `ast` and
report each rule's violations as a set of stable items (no line numbers, so a list of
known violations does not go stale when unrelated lines move)."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import mini_engine

PACKAGE_DIR = Path(mini_engine.__file__).resolve().parent
REPO = PACKAGE_DIR.parent
PACKAGES = ("mini_engine", "tui")
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80
# Documented public API whose names start with an underscore (collections.namedtuple's methods).
PUBLIC_UNDERSCORE_NAMES = frozenset({"_replace", "_asdict", "_fields", "_make", "_field_defaults"})


# ---------------------------------------------------------------------- reading the source

@dataclass(frozen=True)
class Module:
    name: str  # dotted: mini_engine.engine.request
    path: str  # relative to the repository, with "/"
    source: str
    is_package: bool

    @cached_property
    def tree(self) -> ast.Module:
        return ast.parse(self.source, self.path)


@dataclass(frozen=True)
class Import:
    target: str  # the module imported (a submodule if `from pkg import submodule`)
    name: str | None  # the name taken from it by `from target import name`, else None
    module_level: bool  # not inside a function
    type_checking: bool  # inside `if TYPE_CHECKING:`


def project_modules() -> dict[str, Module]:
    modules = {}
    for package in PACKAGES:
        for file in sorted((REPO / package).rglob("*.py")):
            rel = file.relative_to(REPO)
            parts = list(rel.with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            name = ".".join(parts[:-1] if is_package else parts)
            modules[name] = Module(name, rel.as_posix(), file.read_text(encoding="utf-8"),
                                   is_package)
    return modules


def modules_from(sources: dict[str, str]) -> dict[str, Module]:
    """Synthetic modules for the control tests: {"pkg/a.py": source}."""
    modules = {}
    for path, source in sources.items():
        parts = path[:-3].split("/")
        is_package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_package else parts)
        modules[name] = Module(name, path, textwrap.dedent(source), is_package)
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return ((isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
            or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def _resolve(module: Module, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.name.split(".")
    base = base if module.is_package else base[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(module: Module, known: set[str]) -> list[Import]:
    """Every import statement of `module`, with where it sits (module level, TYPE_CHECKING)."""
    found: list[Import] = []

    def visit(node: ast.AST, in_function: bool, in_type_checking: bool) -> None:
        if isinstance(node, ast.Import):
            found.extend(Import(a.name, None, not in_function, in_type_checking)
                         for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, node)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                target, name = (sub, None) if sub in known else (base, alias.name)
                found.append(Import(target, name, not in_function, in_type_checking))
        for child in ast.iter_child_nodes(node):
            visit(child, in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                          ast.Lambda)),
                  in_type_checking or (isinstance(node, ast.If) and _is_type_checking(node.test)
                                       and child in node.body))

    visit(module.tree, False, False)
    return found


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


# ---------------------------------------------------------------------- the rules

def engine_layer(modules: dict[str, Module]) -> set[str]:
    items = set()
    for module in modules.values():
        if not _within(module.name, "mini_engine.engine"):
            continue
        for imp in imports_of(module, set(modules)):
            above = _within(imp.target, "mini_engine") or _within(imp.target, "tui")
            if (above and not _within(imp.target, "mini_engine.engine")
                    and imp.target != "mini_engine.version"):
                items.add(f"{module.path} imports {imp.target}")
    return items


def recording_layer(modules: dict[str, Module]) -> set[str]:
    return {f"{module.path} imports {imp.target}"
            for module in modules.values() if _within(module.name, "mini_engine.recording")
            for imp in imports_of(module, set(modules))
            if _within(imp.target, "mini_engine.engine.core")}


def tui_import(modules: dict[str, Module]) -> set[str]:
    items = set()
    for module in modules.values():
        if not _within(module.name, "mini_engine"):
            continue
        for imp in imports_of(module, set(modules)):
            lazy_in_cli = not imp.module_level and _within(module.name, "mini_engine.cli")
            if _within(imp.target, "tui") and not lazy_in_cli:
                items.add(f"{module.path} imports {imp.target}")
    return items


def _import_bound_names(module: Module, known: set[str]) -> set[str]:
    """Names bound to modules by this file's imports (`import a.b` binds `a`)."""
    names = set()
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            names.update(a.asname or a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, node)
            names.update(a.asname or a.name for a in node.names
                         if f"{base}.{a.name}" in known)
    return names


def _base_name(node: ast.expr) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def private_import(modules: dict[str, Module]) -> set[str]:
    items = set()
    for module in modules.values():
        tree = module.tree
        bound = _import_bound_names(module, set(modules))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                items.update(f"{module.path}: from {_resolve(module, node)} import {a.name}"
                             for a in node.names if _is_private(a.name))
            elif (isinstance(node, ast.Attribute) and _is_private(node.attr)
                  and isinstance(node.value, (ast.Name, ast.Attribute))
                  and _base_name(node.value) in bound):
                items.add(f"{module.path}: {ast.unparse(node)}")
    return items


def _defined_private_names(tree: ast.Module) -> set[str]:
    """Underscore names this module defines: its functions, classes, variables and fields."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
              and isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
            names.add(node.attr)
        elif (isinstance(node, ast.Assign) and isinstance(node.value, (ast.Tuple, ast.List))
              and any(isinstance(t, ast.Name) and t.id == "__slots__" for t in node.targets)):
            names.update(e.value for e in node.value.elts if isinstance(e, ast.Constant))
        elif (isinstance(node, ast.Call) and len(node.args) >= 2
              and isinstance(node.args[0], ast.Name) and node.args[0].id in ("self", "cls")
              and isinstance(node.args[1], ast.Constant)
              and ast.unparse(node.func) in ("setattr", "object.__setattr__")):
            names.add(node.args[1].value)  # setattr(self, "_x", ...) in frozen dataclasses
    return {n for n in names if isinstance(n, str) and _is_private(n)}


def _is_own_object(node: ast.expr) -> bool:
    if isinstance(node, ast.Name):
        return node.id in ("self", "cls")
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id == "super")


def private_attribute(modules: dict[str, Module]) -> set[str]:
    items = set()
    for module in modules.values():
        tree = module.tree
        bound = _import_bound_names(module, set(modules))
        own = _defined_private_names(tree) | PUBLIC_UNDERSCORE_NAMES
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and _is_private(node.attr)
                    and not _is_own_object(node.value) and node.attr not in own
                    and _base_name(node.value) not in bound):  # that is private_import
                items.add(f"{module.path}: {ast.unparse(node)}")
    return items


def import_graph(modules: dict[str, Module]) -> dict[str, set[str]]:
    """Module -> project modules it imports when it is imported (module level, not TYPE_CHECKING)."""
    return {module.name: {imp.target for imp in imports_of(module, set(modules))
                          if imp.module_level and not imp.type_checking
                          and imp.target in modules and imp.target != module.name}
            for module in modules.values()}


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm: the strongly connected components of `graph`."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components: list[set[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for succ in sorted(graph.get(node, ())):
            if succ not in index:
                connect(succ)
                low[node] = min(low[node], low[succ])
            elif succ in stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                component.add(member)
                if member == node:
                    break
            components.append(component)

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return components


def import_cycle(modules: dict[str, Module]) -> set[str]:
    graph = import_graph(modules)
    return {f"{a} -> {b}" for component in strongly_connected(graph) if len(component) > 1
            for a in component for b in graph[a] if b in component}


def module_lines(source: str) -> int:
    """Physical lines of the file, blank lines, comments and docstrings included."""
    return len(source.splitlines())


def function_lines(node: ast.FunctionDef | ast.AsyncFunctionDef, lines: list[str]) -> int:
    """Lines from the first body statement (the docstring, if any) to the function's last line,
    not counting blank lines and comment-only lines; decorators and the signature are not
    counted; nested functions count towards their enclosing function (and are checked too)."""
    body = lines[node.body[0].lineno - 1:node.end_lineno]
    return sum(1 for line in body if line.strip() and not line.strip().startswith("#"))


def module_size(modules: dict[str, Module]) -> set[str]:
    return {module.path for module in modules.values()
            if module_lines(module.source) > MAX_MODULE_LINES}


def _functions(tree: ast.Module):
    """(qualified name, node) of every function and method, nested ones included."""
    def walk(node: ast.AST, prefix: str):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield prefix + child.name, child
                yield from walk(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                yield from walk(child, f"{prefix}{child.name}.")
            else:
                yield from walk(child, prefix)
    yield from walk(tree, "")


def function_size(modules: dict[str, Module]) -> set[str]:
    items = set()
    for module in modules.values():
        lines = module.source.splitlines()
        items.update(f"{module.path}:{name}" for name, node in _functions(module.tree)
                     if function_lines(node, lines) > MAX_FUNCTION_LINES)
    return items


_TUI_MAIN_PROBE = textwrap.dedent("""
    import importlib, pkgutil, runpy, sys
    {extra}
    def cli_loaded():
        return any(m == "mini_engine.cli" or m.startswith("mini_engine.cli.") for m in sys.modules)
    sys.argv = ["tui", "--help"]
    try:
        runpy.run_module("tui", run_name="__main__", alter_sys=True)
    except SystemExit:
        pass
    after_help = cli_loaded()
    import tui
    for info in pkgutil.walk_packages(tui.__path__, "tui."):
        importlib.import_module(info.name)  # the app's machinery, without running it
    print()
    print("PROBE", after_help, cli_loaded())
""")


def tui_main_imports_cli(extra: str = "") -> set[str]:
    """In a fresh interpreter: run `python -m tui --help`, then import every tui module (nothing
    runs the app); items say after which of the two mini_engine.cli was in sys.modules."""
    result = subprocess.run([sys.executable, "-c", _TUI_MAIN_PROBE.format(extra=extra)],
                            capture_output=True, text=True, timeout=120, cwd=REPO,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    words = result.stdout.strip().splitlines()[-1].split()
    assert words[0] == "PROBE" and len(words) == 3, result.stdout[-500:]
    return ({"python -m tui --help"} if words[1] == "True" else set()) | (
        {"import every tui module"} if words[2] == "True" else set())


SOURCE_RULES = {
    "engine_layer": engine_layer, "recording_layer": recording_layer, "tui_import": tui_import,
    "private_import": private_import, "private_attribute": private_attribute,
    "import_cycle": import_cycle, "module_size": module_size, "function_size": function_size,
}

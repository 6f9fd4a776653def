"""The layout shows the flow: no import circle, and no wing imports a wing above it.

spec -> transport -> traffic -> rules -> results -> report -> runner -> cli. The reference deployment
sits beside the report (it needs only the spec); `constants`, `text` and `config` are the floor.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import conformance

PACKAGE = Path(conformance.__file__).resolve().parent

#: Height of each wing; a module may import only modules of its own height or lower.
HEIGHT = {
    "__init__": 0, "constants": 0, "text": 0, "config": 1,
    "spec": 1, "transport": 2, "traffic": 3, "rules": 4, "results": 5,
    "report": 6, "reference": 6, "runner": 7, "cli": 8, "selftest": 8,
}


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Every conformance module each module imports, at any depth of its body."""
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("conformance"):
                targets = [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names if a.name.startswith("conformance")]
            for target in targets:
                while target not in modules and "." in target:
                    target = target.rsplit(".", 1)[0]
                if target in modules and target != name:
                    graph[name].add(target)
    return graph


#: Modules that import parts of the suite inside functions on purpose, each saying why in its docstring
#: or beside the import: the pytest entry point and the command stay light for every session and
#: subcommand, and the report's rule book survives a family module that fails to import. Anywhere
#: else a function-level import would only hide an import circle.
LAZY_IMPORTERS = {"conformance.runner.plugin", "conformance.cli", "conformance.report._rules"}


def test_function_level_imports_are_only_the_deliberate_lazy_ones() -> None:
    found = []
    for name, path in _modules().items():
        if name in LAZY_IMPORTERS:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(func):
                module = node.module if isinstance(node, ast.ImportFrom) else (
                    node.names[0].name if isinstance(node, ast.Import) else None)
                if module and module.startswith("conformance"):
                    found.append(f"{name}.{func.name} imports {module} (line {node.lineno})")
    assert not found, "function-level imports of the suite (lift them to module level):\n" + "\n".join(found)


def _height(module: str) -> int:
    parts = module.split(".")
    return HEIGHT[parts[1]] if len(parts) > 1 else 0


def test_every_wing_has_a_height() -> None:
    assert {m.split(".")[1] for m in _modules() if "." in m} <= set(HEIGHT)


def test_no_module_imports_a_higher_wing() -> None:
    graph = _imports(_modules())
    upward = sorted((a, b) for a, deps in graph.items() for b in deps if _height(b) > _height(a))
    assert not upward


def test_no_import_circle() -> None:
    graph = _imports(_modules())
    seen: dict[str, int] = {}  # 1 = on the current path, 2 = done
    circles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        seen[node] = 1
        for dep in sorted(graph[node]):
            if seen.get(dep) == 1:
                circles.append([*path[path.index(dep):], dep])
            elif dep not in seen:
                visit(dep, [*path, dep])
        seen[node] = 2

    for module in sorted(graph):
        if module not in seen:
            visit(module, [module])
    assert not circles


def test_architecture_module_map_is_the_tree() -> None:
    doc = (PACKAGE.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`(conformance/[\w/]+\.py)`", doc))
    tree = {p.relative_to(PACKAGE.parent).as_posix() for p in PACKAGE.rglob("*.py")}
    assert not named - tree, f"architecture.md names modules that do not exist: {sorted(named - tree)}"
    assert not tree - named, f"modules missing from architecture.md: {sorted(tree - named)}"


def test_pyproject_lists_every_package() -> None:
    """The package list is explicit (the vendored specs are mapped in); a package left out of it is
    missing from the wheel."""
    import tomllib

    listed = set(tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    tree = {
        p.parent.relative_to(PACKAGE.parent).as_posix().replace("/", ".") for p in PACKAGE.rglob("__init__.py")
    }
    assert tree <= listed, f"pyproject.toml [tool.setuptools] packages misses {sorted(tree - listed)}"
    assert listed - tree == {"conformance.spec.vendored"}

"""The shape of connector/ holds: dependencies point one way, no cycles, small modules and functions."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "connector"
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 60

# Who may import whom, by layer (the first part of the module path under connector/). Dependencies
# point one way: entrypoints → services → ports ← adapters; domain depends on nothing of ours.
ALLOWED = {
    "domain": {"domain"},
    "errors": set(),
    "budget": set(),
    "telemetry": set(),
    "settings": set(),
    "ports": {"domain"},
    "services": {"domain", "ports", "services", "errors", "budget", "telemetry"},
    "adapters": {"domain", "ports", "adapters", "errors", "budget", "telemetry", "settings"},
    "bootstrap": {"domain", "ports", "services", "adapters", "errors", "telemetry", "settings"},
    "entrypoints": {"domain", "bootstrap", "entrypoints", "errors", "telemetry", "settings"},
    "setup": {
        "domain",
        "ports",
        "services",
        "adapters",
        "setup",
        "errors",
        "telemetry",
        "settings",
        "bootstrap",
    },
    "__init__": set(),
    "__main__": {"setup"},
}
# SDKs stay at the edge: the Xero SDK, HTTP and Azure only in adapters (azure.functions in entrypoints).
EDGE = {"xero_python": {"adapters"}, "httpx": {"adapters"}, "azure": {"adapters"}}


def modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, path


def imports_of(path: Path) -> Iterator[str]:
    """Every module imported, including imports inside functions and under TYPE_CHECKING."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_dependencies_point_one_way() -> None:
    wrong = []
    for name, path in modules():
        own = layer(name)
        for imported in imports_of(path):
            if imported.startswith("connector."):
                target = layer(imported)
                if (target != own and target not in ALLOWED[own]) or (own == target and own in {"ports"}):
                    wrong.append(f"{name} imports {imported}")
            top = imported.split(".")[0]
            functions_binding = imported.startswith("azure.functions") and own == "entrypoints"
            if top in EDGE and own not in EDGE[top] and not functions_binding:
                wrong.append(f"{name} imports {imported} (only {sorted(EDGE[top])} may)")
    assert wrong == []


def test_no_import_cycle_between_modules_or_packages() -> None:
    graph: dict[str, set[str]] = {}
    for name, path in modules():
        graph[name] = {imported for imported in imports_of(path) if imported.startswith("connector")}
    packages: dict[str, set[str]] = {}
    for name, targets in graph.items():
        package = name.rsplit(".", 1)[0] if name.count(".") > 1 else name
        packages.setdefault(package, set()).update(
            t.rsplit(".", 1)[0] if t.count(".") > 1 else t for t in targets
        )
    for nodes in (graph, packages):
        assert _cycles(nodes) == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found: list[list[str]] = []
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph.get(node, set()) - {node}):
            if state.get(target) == 1:
                found.append([*trail[trail.index(target) :], target] if target in trail else [node, target])
            elif target in graph and state.get(target) is None:
                visit(target, [*trail, target])
        state[node] = 2

    for node in sorted(graph):
        if state.get(node) is None:
            visit(node, [node])
    return found


def test_modules_and_functions_stay_small() -> None:
    too_long = []
    for name, path in modules():
        source = path.read_text()
        if len(source.splitlines()) > MAX_MODULE_LINES:
            too_long.append(f"{name}: {len(source.splitlines())} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{name}.{node.name}: {length} lines")
    assert too_long == []


@pytest.mark.parametrize("cycle", [{"a": {"b"}, "b": {"a"}}, {"a": {"b"}, "b": {"c"}, "c": {"a"}}])
def test_the_cycle_check_can_fail(cycle: dict[str, set[str]]) -> None:
    assert _cycles(cycle) != []

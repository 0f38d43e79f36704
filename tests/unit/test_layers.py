"""The package layers point one way: core <- wire, persistence <- sim <- runtime <- clients, bench; and
no module imports itself through others (no import cycle, at any level).

Every import statement of every module (module level, inside functions and under TYPE_CHECKING alike)
is read from the source with `ast`, so a layering violation or a cycle fails here however it is written.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# what each layer may import besides itself (a module may always import modules of its own layer)
ALLOWED = {
    "exchange.core": set(),
    "exchange.wire": {"exchange.core"},
    "exchange.persistence": {"exchange.core"},
    "exchange.config": {"exchange.core"},
    "exchange.sim": {"exchange.core", "exchange.wire", "exchange.persistence", "exchange.config"},
    "exchange.runtime": {"exchange.core", "exchange.wire", "exchange.persistence", "exchange.config", "exchange.sim"},
}


def modules() -> dict[str, Path]:
    found = {}
    for package in ("exchange", "clients", "bench"):
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def imported(name: str, path: Path) -> set[str]:
    """Absolute names of everything the module at `path` imports."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            out.add(target)
            out.update(f"{target}.{a.name}" for a in node.names)
    return out


def layer(name: str) -> str | None:
    return next((lay for lay in ALLOWED if name == lay or name.startswith(lay + ".")), None)


def test_the_exchange_package_never_imports_clients_or_bench():
    bad = [(m, t) for m, p in modules().items() if m.startswith("exchange")
           for t in imported(m, p) if t.split(".")[0] in ("clients", "bench")]
    assert bad == []


def test_each_layer_imports_only_the_layers_below_it():
    bad = []
    for m, path in modules().items():
        own = layer(m)
        if own is None:
            continue
        for target in imported(m, path):
            other = layer(target)
            if other is not None and other != own and other not in ALLOWED[own]:
                bad.append(f"{m} imports {target}")
    assert bad == []


def import_graph() -> dict[str, set[str]]:
    """Module -> the modules of exchange/, clients/ and bench/ it imports (a name imported from a module
    resolves to that module; importing a package is importing its __init__)."""
    found = modules()
    graph = {}
    for m, path in found.items():
        targets = set()
        for t in imported(m, path):
            parts = t.split(".")
            while parts and ".".join(parts) not in found:
                parts.pop()
            if parts and ".".join(parts) != m:
                targets.add(".".join(parts))
        graph[m] = targets
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a path [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_the_module_import_graph_has_no_cycle():
    graph = import_graph()
    assert {"exchange.core.engine", "exchange.runtime.server", "clients.sdk", "bench.book"} <= graph.keys()
    assert find_cycle(graph) is None

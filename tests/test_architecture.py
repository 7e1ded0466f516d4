"""The import graph keeps the architecture: a kernel that imports no feature, and no cycle anywhere.

Every module of ``rewards/``, ``draws/``, ``partners/`` and ``signedjson/`` is parsed with ``ast``
(nothing is imported): each ``import`` and ``from ... import`` statement counts, also those inside
functions, and so does ``importlib.import_module("...")`` with a literal name. Imports under
``if TYPE_CHECKING:`` count for the kernel rule (the kernel may not even name a feature's types) but
not for cycles (they never run). The kernel is ``rewards/`` without the loyalty features inside
it; the features are listed in ``FEATURES`` below (snapshots and rating are one feature: the rating
engine computes snapshots). Features may import the kernel and ``signedjson``; features may import each other only
along the arrows of an acyclic graph; the kernel finds features only through the ``FEATURES``
setting (dotted names, loaded by the app factory).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("rewards", "draws", "partners", "signedjson")

# Package prefix -> feature name. Anything else under rewards/ is the kernel.
FEATURES: dict[str, str] = {
    "rewards.snapshots": "snapshots",
    "rewards.rating": "snapshots",
    "rewards.flags": "flags",
    "draws": "draws",
    "partners": "partners",
}
PURE_SHARED = ("signedjson",)  # imports nothing of ours; the standalone verifier ships with it

Edge = tuple[str, str, int]  # importer, imported, line


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def discover() -> dict[str, Path]:
    """Every module of the packages, by dotted name."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[_module_name(path)] = path
    return found


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The module of ours that ``name`` (a module or a name inside one) refers to, else None."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def _targets(node: ast.AST, importer: str, is_package: bool) -> Iterator[str]:
    """The dotted names one AST node imports."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name
    elif isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            anchor = importer.split(".")
            anchor = anchor if is_package else anchor[:-1]
            anchor = anchor[: len(anchor) - (node.level - 1)]
            base = ".".join(anchor + ([base] if base else []))
        for alias in node.names:
            yield f"{base}.{alias.name}" if alias.name != "*" else base
    elif isinstance(node, ast.Call):
        func = node.func
        called = getattr(func, "attr", None) or getattr(func, "id", "")
        if called == "import_module" and node.args and isinstance(node.args[0], ast.Constant):
            if isinstance(node.args[0].value, str):
                yield node.args[0].value


def _type_checking_only(tree: ast.Module) -> set[int]:
    """The ids of the nodes inside ``if TYPE_CHECKING:`` blocks (never run: they name types only)."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = getattr(test, "id", None) or getattr(test, "attr", "")
            if name == "TYPE_CHECKING":
                inside.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    return inside


def import_edges(*, type_checking: bool = True) -> list[Edge]:
    """Every import between modules of ours, function-level ones included; ``type_checking=False``
    leaves out those under ``if TYPE_CHECKING:``, which never run and so cannot make a cycle."""
    modules = discover()
    edges: set[Edge] = set()
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        skip = set() if type_checking else _type_checking_only(tree)
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            for target in _targets(node, name, path.name == "__init__.py"):
                resolved = _resolve(target, modules)
                if resolved is not None and resolved != name:
                    edges.add((name, resolved, getattr(node, "lineno", 0)))
    return sorted(edges)


def feature_of(module: str) -> str | None:
    """The feature a module belongs to; None for the kernel (and for ``signedjson``)."""
    for prefix, feature in FEATURES.items():
        if module == prefix or module.startswith(prefix + "."):
            return feature
    return None


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative: the components with more than one node (the cycles)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _cycle_report(edges: list[Edge], group: dict[str, str] | None = None) -> list[str]:
    """The edges inside every cycle of the graph (of modules, or of the groups ``group`` maps them to)."""
    def key(module: str) -> str:
        return group.get(module, module) if group is not None else module

    graph: dict[str, set[str]] = {}
    for src, dst, _line in edges:
        a, b = key(src), key(dst)
        if a != b:
            graph.setdefault(a, set()).add(b)
    lines = []
    for component in _strongly_connected(graph):
        members = set(component)
        lines.append("cycle: " + " <-> ".join(component))
        lines.extend(
            f"    {src}:{line} imports {dst}"
            for src, dst, line in edges
            if key(src) in members and key(dst) in members and key(src) != key(dst)
        )
    return lines


def test_the_graph_sees_every_kind_of_import() -> None:
    edges = {(src, dst) for src, dst, _line in import_edges()}
    assert ("rewards.cli", "rewards.db") in edges  # module level
    assert ("rewards", "rewards.config") in edges  # inside create_app
    assert ("rewards.audit.chain", "signedjson") in edges
    assert ("rewards.rating.behaviour", "rewards.rating.engine") in edges  # under TYPE_CHECKING
    assert ("rewards.rating.behaviour", "rewards.rating.engine") not in {
        (src, dst) for src, dst, _line in import_edges(type_checking=False)
    }
    assert len(discover()) > 100


def test_the_kernel_imports_no_feature() -> None:
    offending = [
        f"{src}:{line} imports {dst}"
        for src, dst, line in import_edges()
        if feature_of(src) is None and feature_of(dst) is not None and not src.startswith(PURE_SHARED)
    ]
    print("\n".join(offending))
    assert offending == []


def test_signedjson_imports_nothing_of_ours() -> None:
    offending = [f"{src}:{line} imports {dst}" for src, dst, line in import_edges()
                 if src.startswith(PURE_SHARED) and not dst.startswith(PURE_SHARED)]
    print("\n".join(offending))
    assert offending == []


def test_no_module_import_cycle() -> None:
    report = _cycle_report(import_edges(type_checking=False))
    print("\n".join(report))
    assert report == []


def test_features_depend_on_each_other_without_a_cycle() -> None:
    edges = import_edges(type_checking=False)
    group = {m: f for m in {e[0] for e in edges} | {e[1] for e in edges} if (f := feature_of(m)) is not None}
    report = _cycle_report([e for e in edges if e[0] in group and e[1] in group], group)
    print("\n".join(report))
    assert report == []


def test_import_module_with_a_literal_name_is_an_import() -> None:
    tree = ast.parse("import importlib\nimportlib.import_module('draws.feature')\nimport_module(name)\n")
    found = [t for node in ast.walk(tree) for t in _targets(node, "rewards.example", False)]
    assert found == ["importlib", "draws.feature"]


def test_a_cycle_is_reported_with_its_edges() -> None:
    edges = [("a", "b", 1), ("b", "c", 2), ("c", "a", 3), ("c", "d", 4)]
    assert _cycle_report(edges) == [
        "cycle: a <-> b <-> c",
        "    a:1 imports b",
        "    b:2 imports c",
        "    c:3 imports a",
    ]

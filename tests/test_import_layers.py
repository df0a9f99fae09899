"""The layers hold: falco (pure) <- kube <- ops <- ui / cli, the simulator imports only falco, nothing but the
CLI's demo and `falcotui sim` imports the simulator, and no two falcotui modules import each other (a cycle,
lazy imports inside functions included: they are dependencies all the same).

Read from the source with `ast` (nothing is imported): every `import`/`from ... import` of a falcotui
module, at any depth, except under `if TYPE_CHECKING:` (annotations only, never run)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "falcotui"

#: what each layer may import besides itself (the package root `falcotui` holds only the version)
ALLOWED = {
    "falco": set(),
    "kube": {"falco"},
    "sim": {"falco"},
    "ops": {"falco", "kube"},
    "ui": {"falco", "kube", "ops"},
    "cli": {"falco", "kube", "ops", "ui"},
}
#: the only modules outside the simulator that start it: the demo cluster and `falcotui sim`
SIM_USERS = {"falcotui.cli.demo", "falcotui.cli.sim_cmd"}


def module_files(package: Path = PACKAGE) -> dict[str, Path]:
    found = {}
    for path in package.rglob("*.py"):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                skipped.update(id(n) for n in ast.walk(child))
    return skipped


def imported_modules(name: str, path: Path, known: dict[str, Path]) -> Iterator[tuple[str, int]]:
    """(falcotui module, line) for each import in `path` (module `name`), resolved to a known module."""

    def resolve(dotted: str) -> str | None:
        while dotted and dotted not in known:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    tree = ast.parse(path.read_text(), str(path))
    skipped = _type_checking_nodes(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                head = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*head, *([node.module] if node.module else [])])
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for target in targets:
            if target == "falcotui" or target.startswith("falcotui."):
                resolved = resolve(target)
                if resolved is not None and resolved != name:
                    yield resolved, node.lineno


def import_graph(package: Path = PACKAGE) -> dict[str, dict[str, int]]:
    known = module_files(package)
    graph: dict[str, dict[str, int]] = {}
    for name, path in known.items():
        edges = graph.setdefault(name, {})
        for target, line in imported_modules(name, path, known):
            edges.setdefault(target, line)
    return graph


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ALLOWED else ""


def upward_imports(graph: dict[str, dict[str, int]]) -> list[str]:
    found = []
    for module, edges in sorted(graph.items()):
        here = layer(module)
        for target, line in sorted(edges.items()):
            there = layer(target)
            if not here or not there or there == here:
                continue  # the package root, or within one layer
            if there == "sim":
                ok = module in SIM_USERS
            else:
                ok = there in ALLOWED[here]
            if not ok:
                found.append(f"{module} (line {line}) imports {target}: {here} may not import {there}")
    return found


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, {}))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, {})))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
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


def describe(component: list[str], graph: dict[str, dict[str, int]]) -> str:
    members = set(component)
    edges = [f"{m}:{line} -> {t}" for m in component for t, line in sorted(graph[m].items()) if t in members]
    return "; ".join(edges)


def test_no_module_imports_a_layer_above_it_and_only_the_demo_starts_the_simulator() -> None:
    assert upward_imports(import_graph()) == []


def test_no_import_cycles() -> None:
    graph = import_graph()
    assert [describe(c, graph) for c in cycles(graph)] == []


@pytest.mark.parametrize(
    ("files", "upward", "cyclic"),
    [
        ({"falco/a.py": "from falcotui.kube import b\n", "kube/b.py": ""}, 1, 0),
        ({"ops/a.py": "def f():\n    from falcotui.ui.b import x\n", "ui/b.py": "x = 1\n"}, 1, 0),
        ({"sim/a.py": "from falcotui.kube.b import x\n", "kube/b.py": "x = 1\n"}, 1, 0),
        ({"ops/a.py": "import falcotui.sim.b\n", "sim/b.py": ""}, 1, 0),
        ({"cli/demo.py": "from falcotui.sim.b import x\n", "sim/b.py": "x = 1\n"}, 0, 0),
        ({"ui/a.py": "from .b import x\n", "ui/b.py": "def f():\n    from falcotui.ui.a import y\n"}, 0, 1),
        ({"ui/a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from falcotui.ui.b import x\n",
          "ui/b.py": "from falcotui.ui.a import y\n"}, 0, 0),
    ],
)  # fmt: skip
def test_the_checks_find_what_they_look_for(tmp_path: Path, files: dict[str, str], upward: int, cyclic: int):
    package = tmp_path / "falcotui"
    for rel, text in {"__init__.py": "", **files}.items():
        path = package / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        (path.parent / "__init__.py").touch()
        path.write_text(text)
    graph = import_graph(package)
    assert len(upward_imports(graph)) == upward
    assert len(cycles(graph)) == cyclic

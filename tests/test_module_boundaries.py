"""A module owns its names: no private name imported across modules, no import inside a function to
dodge a cycle, no import cycle between headwater's modules. Walks headwater/ with ``ast``."""

from __future__ import annotations

import ast
from pathlib import Path

import headwater

ROOT = Path(headwater.__file__).parent

#: Imports inside a function that are genuinely optional third-party dependencies (or heavy ones a
#: command only needs on its own path): ``(module path, imported module)``.
OPTIONAL_IMPORTS: set[tuple[str, str]] = set()


def modules() -> dict[str, ast.Module]:
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT.parent).with_suffix("")
        parts = list(relative.parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = ast.parse(path.read_text(), str(path))
    return out


def _resolve(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports(name: str, tree: ast.Module, known: set[str]) -> list[tuple[str, list[str], bool, int]]:
    """Every import of ``tree``: (module, names, inside a function, line). TYPE_CHECKING imports count too."""
    is_package = f"{name}.__init__" not in known and any(k.startswith(name + ".") for k in known)
    found: list[tuple[str, list[str], bool, int]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                for alias in child.names:
                    found.append((alias.name, [], in_function, child.lineno))
            elif isinstance(child, ast.ImportFrom):
                target = _resolve(name, child, is_package)
                found.append((target, [a.name for a in child.names], in_function, child.lineno))
            else:
                visit(child, nested)

    visit(tree, False)
    return found


def _target(module: str, names: list[str], known: set[str]) -> list[str]:
    """The headwater modules an import reads (``from pkg import mod`` reads ``pkg.mod``)."""
    if not module.startswith("headwater"):
        return []
    targets = [f"{module}.{n}" for n in names if f"{module}.{n}" in known]
    if len(targets) < len(names) or not names:
        targets.append(module)
    return [t for t in targets if t in known]


def test_no_private_name_is_imported_across_modules() -> None:
    found = modules()
    known = set(found)
    bad = []
    for name, tree in found.items():
        for module, names, _, line in imports(name, tree, known):
            if module.startswith("headwater") and module != name:
                bad += [f"{name}:{line} imports {module}.{n}" for n in names
                        if n.startswith("_") and not n.startswith("__")]
    assert not bad, "\n".join(bad)


def test_no_headwater_import_inside_a_function() -> None:
    found = modules()
    known = set(found)
    bad = []
    for name, tree in found.items():
        for module, _, in_function, line in imports(name, tree, known):
            if in_function and module.startswith("headwater") and (name, module) not in OPTIONAL_IMPORTS:
                bad.append(f"{name}:{line} imports {module} inside a function")
    assert not bad, "\n".join(bad)


def import_graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    graph: dict[str, set[str]] = {name: set() for name in found}
    for name, tree in found.items():
        for module, names, _, _ in imports(name, tree, known):
            for target in _target(module, names, known):
                if target != name and not name.startswith(target + "."):  # a package's own __init__ is not a cycle
                    graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def strongconnect(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    return out


def test_no_import_cycle() -> None:
    found = cycles(import_graph())
    assert not found, "\n".join(" <-> ".join(c) for c in found)


def test_the_checks_see_a_cycle_and_a_private_import() -> None:
    """The walkers themselves: a made-up graph with a cycle is caught, one without is not."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    tree = ast.parse("from headwater.x import _y\ndef f():\n    import headwater.z\n")
    assert imports("headwater.w", tree, {"headwater.w", "headwater.x", "headwater.z"}) == [
        ("headwater.x", ["_y"], False, 1), ("headwater.z", [], True, 3)]

"""The engine's import graph: no cycles (imports inside functions count), no streamlit."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "dcviz"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported_names(path: Path) -> set[str]:
    """Every module that ``path`` imports, anywhere in the file (functions, TYPE_CHECKING
    blocks excepted: they never run)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    skip = set()
    for node in ast.walk(tree):  # `if TYPE_CHECKING:` bodies are for type checkers only
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            skip.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    out = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for a in node.names:  # `from pkg import sub` imports the submodule pkg.sub
                out.add(f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base)
    return out


def graph() -> dict[str, set[str]]:
    """Module -> the dcviz modules it imports (the most specific module each import names)."""
    g = {}
    for name, path in MODULES.items():
        deps = set()
        for target in imported_names(path):
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name:
                deps.add(target)
        g[name] = deps
    return g


def find_cycle(g: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``g`` as a path a -> ... -> a, or None (depth-first search)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(u):
        state[u] = 1
        stack.append(u)
        for v in sorted(g[u]):
            if state.get(v) == 1:
                return stack[stack.index(v):] + [v]
            if v not in state:
                found = visit(v)
                if found:
                    return found
        stack.pop()
        state[u] = 2
        return None

    for u in sorted(g):
        if u not in state:
            found = visit(u)
            if found:
                return found
    return None


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_the_graph_sees_imports_inside_functions(tmp_path):
    g = graph()
    assert "dcviz.methods.base" in g["dcviz.runs.engine"]  # a module-level import
    assert "dcviz.viz" in g["dcviz.inference"]  # an import inside a function
    assert all(d in MODULES for deps in g.values() for d in deps)


def test_no_module_imports_one_that_imports_it_back():
    cycle = find_cycle(graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_engine_module_imports_streamlit():
    for name, path in MODULES.items():
        bad = {m for m in imported_names(path) if m.split(".")[0] == "streamlit"}
        assert not bad, f"{name} imports {bad}: the engine never imports streamlit"


def test_only_methods_and_lenses_name_a_method():
    """Outside dcviz/methods/ and dcviz/viz/, engine code asks the registry; the one exception
    is the default run (dcviz.methods.DEFAULT_RUN, which lives in methods/)."""
    from dcviz.methods import REGISTRY
    ids = set(REGISTRY)
    for name, path in MODULES.items():
        if name.startswith(("dcviz.methods", "dcviz.viz")):
            continue
        named = {node.value for node in ast.walk(ast.parse(path.read_text()))
                 if isinstance(node, ast.Constant) and node.value in ids}
        assert not named, f"{name} names method id(s) {sorted(named)}"

"""The package's layering, checked on its source with ``ast``: imports flow one way
(skeleton -> data -> models -> engine -> inference / export / bench -> commands / cli), there is
no import cycle (function-local imports included), and function-local imports are kept for
optional extras only."""

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "src" / "adasgn"

# lowest first; a module may import its own layer and the layers below
LAYERS = [
    {"adasgn", "adasgn.errors", "adasgn.atomic", "adasgn.skeleton"},
    {"adasgn.data"},
    {"adasgn.models"},
    {"adasgn.engine"},
    {"adasgn.inference", "adasgn.export", "adasgn.bench", "adasgn.stream", "adasgn.video"},
    {"adasgn.commands", "adasgn.cli", "adasgn.entry", "adasgn.__main__"},
]
# function-local imports allowed: optional extras (and the standard library's lazy corners)
OPTIONAL = {"onnx", "onnxruntime", "torch.utils.tensorboard", "scipy", "scipy.io", "mediapipe",
            "cv2"}


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _resolve(mod: str, node: ast.ImportFrom | ast.Import, is_pkg: bool) -> list[str]:
    """Absolute names of what an import statement in module ``mod`` imports."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if node.level == 0:
        base = node.module or ""
    else:
        parts = mod.split(".")
        if not is_pkg:
            parts = parts[:-1]
        parts = parts[: len(parts) - (node.level - 1)]
        base = ".".join(parts + ([node.module] if node.module else []))
    # "from . import commands" imports the submodule adasgn.commands
    return [f"{base}.{a.name}" if node.module is None else base for a in node.names]


def _graph():
    modules = {}
    for f in sorted(PKG.rglob("*.py")):
        modules[_module_name(f)] = (f, f.name == "__init__.py")
    edges: dict[str, set[str]] = {m: set() for m in modules}
    local: list[tuple[str, int, str]] = []
    for mod, (f, is_pkg) in modules.items():
        tree = ast.parse(f.read_text(), str(f))
        in_function = set()
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                in_function.update(id(n) for n in ast.walk(fn)
                                   if isinstance(n, (ast.Import, ast.ImportFrom)))
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            for target in _resolve(mod, node, is_pkg):
                if id(node) in in_function:
                    local.append((mod, node.lineno, target))
                if not (target == "adasgn" or target.startswith("adasgn.")):
                    continue
                # the module itself, or the nearest enclosing package that exists
                while target not in modules and "." in target:
                    target = target.rsplit(".", 1)[0]
                if target in modules and target != mod:
                    edges[mod].add(target)
                    # importing a submodule runs the __init__ of every package above it, except
                    # those already being imported because they enclose the importer
                    pkg = target
                    while "." in pkg:
                        pkg = pkg.rsplit(".", 1)[0]
                        if pkg in modules and not mod.startswith(pkg + ".") and pkg != mod \
                                and pkg != "adasgn":
                            edges[mod].add(pkg)
    return modules, edges, local


def _layer(mod: str) -> int:
    best = None
    for i, names in enumerate(LAYERS):
        for n in names:
            if (mod == n or mod.startswith(n + ".")) and (best is None or len(n) > best[1]):
                best = (i, len(n))
    assert best is not None, f"{mod} belongs to no layer: add it to LAYERS"
    return best[0]


def test_every_module_has_a_layer():
    modules, _, _ = _graph()
    for m in modules:
        _layer(m)


def test_no_upward_import():
    _, edges, _ = _graph()
    upward = [f"{a} (layer {_layer(a)}) imports {b} (layer {_layer(b)})"
              for a, targets in edges.items() for b in targets if _layer(b) > _layer(a)]
    assert not upward, "\n".join(upward)


def test_no_import_cycle():
    _, edges, _ = _graph()
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for t in sorted(edges[m]):
            if state.get(t) == 1:
                cycles.append(stack[stack.index(t):] + [t])
            elif t not in state:
                visit(t)
        stack.pop()
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m)
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_function_local_imports_are_only_for_optional_extras():
    _, _, local = _graph()
    bad = [f"{m}:{line} imports {t}" for m, line, t in local
           if not any(t == o or t.startswith(o + ".") for o in OPTIONAL)]
    assert not bad, "\n".join(bad)


def test_the_checker_sees_a_cycle(tmp_path, monkeypatch):
    """The checker itself: a planted cycle through a function-local import is found."""
    pkg = tmp_path / "adasgn"
    (pkg / "models").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "models" / "__init__.py").write_text("from .a import x\n")
    (pkg / "models" / "a.py").write_text("def f():\n    from ..engine import y\nx = 1\n")
    (pkg / "engine.py").write_text("from .models import x\ny = 2\n")
    monkeypatch.setattr(__import__(__name__), "PKG", pkg)
    with pytest.raises(AssertionError, match="adasgn.models.a -> adasgn.engine"):
        test_no_import_cycle()
    with pytest.raises(AssertionError, match="imports adasgn.engine"):
        test_no_upward_import()

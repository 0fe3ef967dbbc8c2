"""The core's layout rules, checked on the source (as build.py checks "no bpy in the core").

* Packages are layers; a module imports only from lower layers or from its own package
  (``LAYERS``). Imports inside functions count too.
* No import cycle between modules.
* No private name (``_x``) is imported across modules or reached through another module
  (tests, benchmarks and the add-on included).
* Size: no file over 700 lines, no class over 400, no function over 100 (docstrings aside).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "neuralpoly_core"

#: Layer of each top-level name of the core: imports go downwards (or inside one package).
LAYERS = {
    "errors": 0, "version": 0, "_compat": 0,
    "budget": 1,
    "_checks": 1, "fileio": 1, "reporting": 1,
    "network": 2,
    "mesh": 3,
    "polytope": 4, "levelset": 4, "construct": 4,
    "summary": 5, "regions": 5, "folding": 5,
    "training": 6,
    "sweeps": 7, "experiments": 7, "lowpoly": 7,
    "jobs": 8,
    "cli": 9,
    "__init__": 10, "__main__": 10,
}
MAX_FILE_LINES, MAX_CLASS_LINES, MAX_FUNCTION_LINES = 700, 400, 100

#: Files still being split (issue 8); this set must end empty.
BEING_SPLIT = {"neuralpoly_core/levelset/exact.py", "neuralpoly_core/training/polytope.py",
               "neuralpoly_core/levelset/marching.py", "neuralpoly_core/mesh/planar.py",
               "neuralpoly_core/mesh/topology.py", "neuralpoly_core/polytope/radial.py",
               "tests/test_levelset.py", "tests/test_training.py"}


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(CORE.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        parts = list(path.relative_to(CORE).with_suffix("").parts)
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> list[str]:
    """Core modules (dotted, relative to the core) that a ``from ... import`` names."""
    if node.level == 0:
        if not (node.module or "").startswith("neuralpoly_core"):
            return []
        base = (node.module or "").split(".")[1:]
    else:
        pkg = module.split(".") if is_package else module.split(".")[:-1]
        if module == "__init__":
            pkg = []
        base = pkg[:len(pkg) - (node.level - 1)] + (node.module.split(".") if node.module else [])
    targets = []
    for alias in node.names:
        candidate = ".".join(base + [alias.name])
        targets.append(candidate if candidate in MODULES else ".".join(base) or "__init__")
    return targets


def _imports(module: str, path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            found += [(t, node.lineno) for t in _resolve(module, is_package, node)]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("neuralpoly_core."):
                    found.append((alias.name.split(".", 1)[1], node.lineno))
    return [(t, line) for t, line in found if t in MODULES and t != module]


def _layer(module: str) -> int:
    return LAYERS[module.split(".")[0]]


def test_every_top_level_name_has_a_layer():
    assert {m.split(".")[0] for m in MODULES} <= set(LAYERS)


def test_imports_go_down_the_layers():
    bad = []
    for module, path in MODULES.items():
        for target, line in _imports(module, path):
            same_package = module.split(".")[0] == target.split(".")[0]
            if not same_package and _layer(target) >= _layer(module):
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {target} (layer {_layer(target)}, "
                           f"not below {module.split('.')[0]}'s {_layer(module)})")
    assert not bad, "\n".join(bad)


def test_no_import_cycle():
    graph = {m: sorted({t for t, _ in _imports(m, p)}) for m, p in MODULES.items()}
    # a package's __init__ re-exports its modules; edges into a package mean its __init__
    state: dict[str, int] = {}
    cycles = []

    def visit(m, stack):
        state[m] = 1
        for t in graph[m]:
            if t.startswith(m + ".") or m.startswith(t + "."):
                continue                      # a package and its own modules
            if state.get(t) == 1:
                cycles.append(" -> ".join(stack[stack.index(t):] + [t]))
            elif t not in state:
                visit(t, stack + [t])
        state[m] = 2

    for m in graph:
        if m not in state:
            visit(m, [m])
    assert not cycles, "\n".join(cycles)


def _python_files():
    for folder in ("neuralpoly_core", "addon", "tests", "bench", "scripts"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "__pycache__" not in path.parts:
                yield path


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _ours(module: str | None, level: int) -> bool:
    return level > 0 or (module or "").split(".")[0] in ("neuralpoly_core", "npb_helpers", "curve_helpers")


def test_no_private_name_crosses_a_module():
    private_modules = {m.rsplit(".", 1)[-1] for m in MODULES if _private(m.rsplit(".", 1)[-1])}
    bad = []
    for path in _python_files():
        if path.relative_to(ROOT).as_posix() in BEING_SPLIT:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        modules = set()                        # names bound to the project's modules and objects
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and _ours(node.module, node.level):
                for alias in node.names:
                    if _private(alias.name) and alias.name not in private_modules:
                        bad.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {alias.name}")
                    modules.add(alias.asname or alias.name)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if _ours(alias.name, 0):
                        modules.add(alias.asname or alias.name.split(".")[0])
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and _private(node.attr) and isinstance(node.value, ast.Name) \
                    and node.value.id in modules and node.value.id not in ("self", "cls"):
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno} uses {node.value.id}.{node.attr}")
    assert not bad, "\n".join(bad)


def _body_lines(node) -> int:
    """Lines of a function or class without its docstring."""
    n = node.end_lineno - node.lineno + 1
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
            and isinstance(body[0].value.value, str):
        n -= body[0].end_lineno - body[0].lineno + 1
    return n


def _sizes():
    for path in sorted(CORE.rglob("*.py")) + sorted((ROOT / "addon").glob("*.py")):
        if "__pycache__" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        yield path, "file", path.name, len(text.splitlines()), MAX_FILE_LINES
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef):
                yield path, "class", node.name, _body_lines(node), MAX_CLASS_LINES
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield path, "function", node.name, _body_lines(node), MAX_FUNCTION_LINES


def test_files_classes_and_functions_stay_readable():
    bad = [f"{path.relative_to(ROOT)}: {kind} {name} has {n} lines (limit {limit})"
           for path, kind, name, n, limit in _sizes()
           if n > limit and path.relative_to(ROOT).as_posix() not in BEING_SPLIT]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.count(".") == 0 and (CORE / m).is_dir()))
def test_every_package_says_its_job_in_one_sentence(module):
    doc = ast.get_docstring(ast.parse((CORE / module / "__init__.py").read_text(encoding="utf-8")))
    assert doc and doc.strip().count("\n") == 0 and doc.strip().endswith("."), module

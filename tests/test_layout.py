"""The package's layout rules, checked by walking every module's imports.

The rules (see the contributor page, ``docs/contributing.rst``): no import cycles; no private name
taken from another module (the ``__init__`` re-exports excepted); ``collapse/`` and
``datasets/`` import nothing else of the library; the torch layer imports neither
scikit-learn nor skorch; only the command line imports ``plotting``, and neither imports
skorch; every module is small and says its one job in its first docstring line.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import sklearn_mlabnc

PACKAGE = "sklearn_mlabnc"
ROOT = Path(sklearn_mlabnc.__file__).parent
MAX_LINES = 600
TORCH_LAYER = ("_losses", "_heads", "backbones", "_network")
SELF_CONTAINED = ("collapse", "datasets")


def _module_name(path: Path) -> str:
    parts = [PACKAGE, *path.relative_to(ROOT).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _type_checking_lines(tree: ast.AST) -> set[int]:
    """Line numbers inside ``if TYPE_CHECKING:`` blocks (never executed)."""
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def _imports(name: str) -> list[tuple[str, list[str]]]:
    """Every executed import of module ``name``: (absolute module, imported names).

    Function-level imports count too: a lazy import still makes a dependency, and hiding a
    cycle inside a function is how cycles creep in.
    """
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    skip = _type_checking_lines(tree)
    package = name if _is_package(name) else name.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append((module, [alias.name for alias in node.names]))
    return found


def _internal_edges(name: str) -> set[str]:
    """Package modules that ``name`` imports (a submodule named in ``from pkg import x``)."""
    edges = set()
    for module, names in _imports(name):
        if module != PACKAGE and not module.startswith(PACKAGE + "."):
            continue
        submodules = [f"{module}.{n}" for n in names if f"{module}.{n}" in MODULES]
        edges.update(submodules)
        if len(submodules) < len(names) or not names:
            edges.add(module)
    edges.discard(name)
    return {e for e in edges if e in MODULES}


GRAPH = {name: _internal_edges(name) for name in MODULES}


def _closure(name: str) -> set[str]:
    seen, stack = set(), [name]
    while stack:
        for nxt in GRAPH[stack.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def _external(name: str) -> set[str]:
    return {module.split(".")[0] for module, _ in _imports(name)}


def test_the_walk_sees_the_package():
    # Guards the walker itself: it must find the modules and the edges everybody knows of.
    assert f"{PACKAGE}._classifier" in MODULES
    assert f"{PACKAGE}.collapse" in MODULES
    assert f"{PACKAGE}._classifier" in GRAPH[PACKAGE]
    assert "torch" in _external(f"{PACKAGE}._losses")


def test_no_import_cycles():
    cycles = sorted(name for name in MODULES if name in _closure(name))
    assert not cycles, f"modules on an import cycle: {cycles}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_private_names_from_other_modules(name):
    if _is_package(name):
        return  # __init__ files re-export the private modules' public names
    offenders = [
        f"{module}.{imported}"
        for module, names in _imports(name)
        if module.startswith(PACKAGE)
        for imported in names
        if imported.startswith("_") and f"{module}.{imported}" not in MODULES
    ]
    assert not offenders, f"{name} imports private names of other modules: {offenders}"


@pytest.mark.parametrize("sub", SELF_CONTAINED)
def test_self_contained_subpackages(sub):
    prefix = f"{PACKAGE}.{sub}"
    for name in MODULES:
        if name == prefix or name.startswith(prefix + "."):
            outside = {e for e in GRAPH[name] if e != prefix and not e.startswith(prefix + ".")}
            assert not outside, f"{name} imports {sorted(outside)}, outside {prefix}/"


@pytest.mark.parametrize("name", TORCH_LAYER)
def test_torch_layer_is_plain_torch(name):
    imported = _external(f"{PACKAGE}.{name}")
    assert not imported & {"sklearn", "skorch"}, f"{name} imports {imported}"


def test_only_the_command_line_imports_plotting():
    plotting = {n for n in MODULES if n == f"{PACKAGE}.plotting" or ".plotting." in n + "."}
    importers = {n for n in MODULES if GRAPH[n] & plotting and n not in plotting}
    assert importers <= {f"{PACKAGE}.cli"}, f"plotting imported by {sorted(importers)}"
    for name in plotting | {f"{PACKAGE}.cli"}:
        assert "skorch" not in _external(name), f"{name} imports skorch"
    for name in plotting:
        reached = _closure(name) | {name}
        assert not any("skorch" in _external(n) for n in reached), (
            f"{name} reaches skorch through {sorted(reached)}"
        )


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_are_small_and_say_their_job(name):
    source = MODULES[name].read_text(encoding="utf-8")
    n_lines = source.count("\n")
    assert n_lines <= MAX_LINES, f"{name} has {n_lines} lines (at most {MAX_LINES})"
    doc = ast.get_docstring(ast.parse(source))
    assert doc and doc.splitlines()[0].strip(), f"{name} has no docstring saying its job"

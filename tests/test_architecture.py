"""The floor plan, checked: layers import down only, no import cycle, rooms of bounded size.

docs/design.md draws the layers; this test is what keeps them true. Imports are read from the
source with `ast` (late imports inside functions included, and ``"inferwatch.x:attr"`` strings,
which are imports by another name), with the package-dir mapping of pyproject.toml resolved.
"""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from tests.conftest import STARTED_FIRST

REPO_ROOT = Path(__file__).resolve().parent.parent

# Rank of each layer: a module imports only modules of its own rank or below.
CORE, AREA, LOCALSTACK, APP, DEMO = range(5)
LAYER_NAMES = {CORE: "core", AREA: "area", LOCALSTACK: "localstack", APP: "application", DEMO: "demo"}
AREAS = ("exporters", "dashboards", "alerts", "slo", "workloads")
# The upward references allowed: the entry point's lazy command table names the demo's command,
# and `python -m inferwatch` (inferwatch/__main__.py, where Python looks for it) runs the entry point.
ENTRY_POINT_EDGES = {("inferwatch.app.cli", "inferwatch.demo.cli"), ("inferwatch.__main__", "inferwatch.app.cli")}
MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 120
GENERATED = re.compile(r"_pb2(_grpc)?\.py$")
MODULE_STRING = re.compile(r"(inferwatch(?:\.\w+)+)(?::\w+)?")


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    is_package: bool


def package_dirs() -> dict[str, Path]:
    """pyproject's setuptools package-dir: import package -> folder."""
    data = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    mapping = data["tool"]["setuptools"]["package-dir"]
    return {pkg: REPO_ROOT / folder for pkg, folder in mapping.items()}


@cache
def product_modules() -> dict[str, Module]:
    """Every product module by dotted name (generated protobuf code left out)."""
    dirs = package_dirs()
    mapped = {folder.resolve() for pkg, folder in dirs.items() if pkg != "inferwatch"}
    out: dict[str, Module] = {}
    for pkg, folder in dirs.items():
        for path in sorted(folder.rglob("*.py")):
            if GENERATED.search(path.name):
                continue
            rel = path.relative_to(folder).with_suffix("")
            if pkg == "inferwatch" and any(p.resolve() in mapped for p in path.parents):
                continue  # a folder mapped to another package
            parts = list(rel.parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts = parts[:-1]
            name = ".".join([pkg, *parts])
            out[name] = Module(name, path, is_package)
    return out


def layer_of(name: str) -> int:
    parts = name.split(".")
    if len(parts) > 1 and parts[1] in AREAS:
        return AREA
    if len(parts) > 1 and parts[1] == "localstack":
        return LOCALSTACK
    if len(parts) > 1 and parts[1] == "app":
        return APP
    if len(parts) > 1 and parts[1] == "demo":
        return DEMO
    return CORE


def _resolve(name: str, modules: dict[str, Module]) -> str | None:
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def imported_names(module: Module) -> Iterator[str]:
    """Every ``inferwatch.*`` name the module imports, anywhere in it, or names in a module:attr string."""
    tree = ast.parse(module.path.read_text(), str(module.path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.name.split(".") if module.is_package else module.name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            yield target
            yield from (f"{target}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            match = MODULE_STRING.fullmatch(node.value.strip())
            if match:
                yield match.group(1)


@cache
def import_graph() -> dict[str, frozenset[str]]:
    modules = product_modules()
    graph: dict[str, frozenset[str]] = {}
    for name, module in modules.items():
        targets = {_resolve(t, modules) for t in imported_names(module) if t.startswith("inferwatch")}
        graph[name] = frozenset(t for t in targets if t and t != name)
    return graph


def strongly_connected(graph: dict[str, frozenset[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative: the components with more than one module are the cycles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph[root])))]
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
                    work.append((child, iter(sorted(graph.get(child, ())))))
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
                components.append(sorted(component))
    return [c for c in components if len(c) > 1]


def test_the_import_graph_sees_every_layer() -> None:
    """Guards the guard: the scan finds modules of every layer and real edges between them."""
    layers = {layer_of(name) for name in product_modules()}
    assert layers == set(LAYER_NAMES), sorted(LAYER_NAMES[x] for x in layers)
    assert "inferwatch.config" in import_graph()["inferwatch.slo.loader"] | {
        t.rpartition(".")[0] for t in import_graph()["inferwatch.slo.loader"]
    }


def test_no_import_cycle() -> None:
    cycles = strongly_connected(dict(import_graph()))
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_imports_point_down_only() -> None:
    wrong = [
        f"{name} ({LAYER_NAMES[layer_of(name)]}) imports {target} ({LAYER_NAMES[layer_of(target)]})"
        for name, targets in import_graph().items()
        for target in sorted(targets)
        if layer_of(target) > layer_of(name) and (name, target) not in ENTRY_POINT_EDGES
    ]
    assert not wrong, "\n".join(wrong)


def _python_files(folder: Path) -> Iterator[Path]:
    yield from (p for p in sorted(folder.rglob("*.py")) if "__pycache__" not in p.parts)


@pytest.mark.parametrize(("importer", "forbidden"), [("bench", "tests"), ("tests", "bench")])
def test_bench_and_tests_do_not_import_each_other(importer: str, forbidden: str) -> None:
    wrong = []
    for path in _python_files(REPO_ROOT / importer):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            wrong += [f"{path.relative_to(REPO_ROOT)}: {n}" for n in names if n.split(".")[0] == forbidden]
    assert not wrong, "\n".join(wrong)


def test_product_imports_neither_tests_nor_bench() -> None:
    wrong = []
    for module in product_modules().values():
        for node in ast.walk(ast.parse(module.path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            wrong += [f"{module.name}: {n}" for n in names if n.split(".")[0] in ("tests", "bench")]
    assert not wrong, "\n".join(wrong)


def test_rooms_stay_small() -> None:
    """No product file over MAX_FILE_LINES lines, no function over MAX_FUNCTION_LINES."""
    too_long = []
    for module in product_modules().values():
        text = module.path.read_text()
        rel = module.path.relative_to(REPO_ROOT)
        if (lines := text.count("\n")) > MAX_FILE_LINES:
            too_long.append(f"{rel}: {lines} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno is not None:
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{rel}:{node.lineno} {node.name}() {length} lines")
    assert not too_long, "\n".join(too_long)


def test_nothing_reads_the_shared_folder_beside_the_checkout() -> None:
    """A user's clone (and the wheel) has no ../shared: product, tests and bench never look there."""
    pattern = re.compile(r"""["'/]shared["'/]|\.\./shared|parent\s*/\s*["']shared""")
    wrong = []
    product_dirs = {m.path.parent for m in product_modules().values()}
    for folder in (*sorted(product_dirs), REPO_ROOT / "tests", REPO_ROOT / "bench"):
        for path in folder.glob("*.py") if folder in product_dirs else _python_files(folder):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if pattern.search(line) and path != Path(__file__):
                    wrong.append(f"{path.relative_to(REPO_ROOT)}:{number}: {line.strip()}")
    assert not wrong, "\n".join(sorted(set(wrong)))


def test_the_map_in_design_md_names_every_room_of_the_core() -> None:
    """docs/design.md's map is where a newcomer finds a module: every module and package directly under
    inferwatch/ is on it (the Prometheus reader's HTTP layer, promhttp.py, once was not)."""
    design = (REPO_ROOT / "docs" / "design.md").read_text()
    start = design.index("```\ninferwatch/")
    floor_plan = design[start : design.index("```", start + 3)]
    named = set(re.findall(r"[\w.]+\.py|\w+/", floor_plan))
    core = REPO_ROOT / "inferwatch"
    rooms = {p.name for p in core.glob("*.py") if p.name not in ("__init__.py", "__main__.py")}
    rooms |= {f"{p.name}/" for p in core.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert sorted(rooms - named) == []


def test_the_files_make_test_starts_first_exist() -> None:
    """A renamed long file would silently lose its early start on `make test`'s workers."""
    assert [p for p in STARTED_FIRST if not (REPO_ROOT / p).is_file()] == []

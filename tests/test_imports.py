"""The shape of the code (DESIGN.md §5b): no import cycles between the project's modules,
no face importing another face, and no domain app importing a face.

The imports are read from the source with `ast`, not by importing anything, and every
`import` statement counts wherever it stands: one inside a function (a "lazy" import)
still makes the cycle, it only moves the failure from start-up to the first call.
"""

import ast
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
# Folders of the project that hold no application code.
NOT_APPLICATION_CODE = {"tests", "bench", "build", "node_modules", "migrations", "static"}

# One app per kind of user; a new face (the public help page) is added here.
FACES = {"dashboard", "phone", "review"}
SHARED = {"pages"}  # the pieces every face's pages share: faces may import it
DOMAIN_APPS = {"volunteers", "incidents", "dispatch", "signin", "briefings"}
# The one module outside the faces that may name them: it routes to each.
MAY_IMPORT_FACES = {"config.urls"}

# Imports that would make a cycle and are meant to, each with the reason. Keep it empty.
CYCLES_ALLOWED: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int

    def __str__(self):
        return f"{self.importer} → {self.imported} ({_path_of(self.importer)}:{self.line})"


def _application_packages() -> list[str]:
    return sorted(
        init.parent.name
        for init in PROJECT.glob("*/__init__.py")
        if init.parent.name not in NOT_APPLICATION_CODE and not init.parent.name.startswith(".")
    )


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PROJECT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _path_of(module: str) -> str:
    return _MODULE_PATHS[module].relative_to(PROJECT).as_posix()


def _project_modules() -> dict[str, Path]:
    modules = {}
    for package in _application_packages():
        for path in sorted((PROJECT / package).rglob("*.py")):
            if NOT_APPLICATION_CODE.isdisjoint(path.relative_to(PROJECT).parts[:-1]):
                modules[_module_name(path)] = path
    return modules


_MODULE_PATHS = _project_modules()


def _project_module(name: str) -> str | None:
    """The project module a dotted name refers to: the name itself, or the module that
    holds it (`dispatch.sms.gateways.SmsSendError` → `dispatch.sms.gateways`)."""
    while name:
        if name in _MODULE_PATHS:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports_of(module: str, source: str | None = None) -> list[Import]:
    path = _MODULE_PATHS[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    if source is None:
        source = path.read_text(encoding="utf-8")
    found = []
    # ast.walk visits every node: imports inside functions, classes and `if`s count.
    for node in ast.walk(ast.parse(source, str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from dispatch import services` imports the module dispatch.services;
            # `from dispatch.services import X` imports dispatch.services.
            names = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            imported = _project_module(name)
            if imported is not None and imported != module:
                found.append(Import(module, imported, node.lineno))
    return found


def _import_graph() -> dict[str, list[Import]]:
    graph = defaultdict(list)
    for module in _MODULE_PATHS:
        for edge in _imports_of(module):
            if (edge.importer, edge.imported) not in CYCLES_ALLOWED:
                graph[module].append(edge)
    return graph


def _cycles(graph: dict[str, list[Import]]) -> list[tuple[list[Import], list[Import]]]:
    """For each group of modules that import each other (Tarjan's strongly connected
    components): its shortest cycle through its first module, and the group's other
    imports among its own modules."""
    index, low, on_stack, stack, groups = {}, {}, set(), [], []

    def visit(module):
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for edge in graph.get(module, []):
            if edge.imported not in index:
                visit(edge.imported)
                low[module] = min(low[module], low[edge.imported])
            elif edge.imported in on_stack:
                low[module] = min(low[module], index[edge.imported])
        if low[module] == index[module]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == module:
                    break
            if len(group) > 1:
                groups.append(group)

    for module in sorted(graph):
        if module not in index:
            visit(module)

    cycles = []
    for group in groups:
        start = min(group)
        # Breadth-first within the group: the shortest way from start back to start.
        paths = {start: []}
        queue = [start]
        cycle = None
        while queue and cycle is None:
            module = queue.pop(0)
            for edge in graph.get(module, []):
                if edge.imported not in group:
                    continue
                if edge.imported == start:
                    cycle = [*paths[module], edge]
                    break
                if edge.imported not in paths:
                    paths[edge.imported] = [*paths[module], edge]
                    queue.append(edge.imported)
        inside = [
            edge
            for member in sorted(group)
            for edge in graph.get(member, [])
            if edge.imported in group
        ]
        cycles.append((cycle, [edge for edge in inside if edge not in cycle]))
    return cycles


def _describe(cycle: list[Import], also: list[Import]) -> str:
    lines = ["cycle:", *(f"  {edge}" for edge in cycle)]
    if also:
        lines += ["and within the same modules:", *(f"  {edge}" for edge in also)]
    return "\n".join(lines)


def test_it_finds_the_project_modules():
    assert {"dispatch.services", "dispatch.tasks", "config.urls", "dashboard.views"} <= set(
        _MODULE_PATHS
    )
    assert not any(".migrations." in module for module in _MODULE_PATHS)
    assert not any(module.startswith(("tests.", "bench.")) for module in _MODULE_PATHS)


def test_it_counts_an_import_inside_a_function_and_a_relative_one():
    lazy = "def f():\n    from dispatch import services\n"
    relative = "from ..services import assignment_accept\nfrom . import gateways\n"

    assert _imports_of("dispatch.queue", lazy) == [Import("dispatch.queue", "dispatch.services", 2)]
    assert [edge.imported for edge in _imports_of("dispatch.sms.offers", relative)] == [
        "dispatch.services",
        "dispatch.sms.gateways",
    ]


def test_it_finds_a_cycle_a_lazy_import_makes():
    graph = {
        "dispatch.queue": _imports_of("dispatch.queue", "def f():\n    import dispatch.services\n"),
        "dispatch.services": [Import("dispatch.services", "dispatch.queue", 24)],
    }

    ((cycle, also),) = _cycles(graph)

    assert [(edge.importer, edge.imported) for edge in cycle] == [
        ("dispatch.queue", "dispatch.services"),
        ("dispatch.services", "dispatch.queue"),
    ]
    assert also == []


def test_no_module_imports_itself_through_others():
    cycles = _cycles(_import_graph())

    if cycles:
        pytest.fail("\n".join(_describe(*cycle) for cycle in cycles), pytrace=False)


def _app_of(module: str) -> str:
    return module.partition(".")[0]


def test_no_face_imports_another_face():
    wrong = [
        str(edge)
        for module in _MODULE_PATHS
        if _app_of(module) in FACES
        for edge in _imports_of(module)
        if _app_of(edge.imported) in FACES - {_app_of(module)}
    ]

    assert wrong == []


def test_no_domain_app_nor_shared_piece_nor_config_imports_a_face():
    wrong = [
        str(edge)
        for module in _MODULE_PATHS
        if _app_of(module) in DOMAIN_APPS | SHARED | {"config"} and module not in MAY_IMPORT_FACES
        for edge in _imports_of(module)
        if _app_of(edge.imported) in FACES
    ]

    assert wrong == []

"""Import layering of src/digitseg: no library module imports an entry point, no import cycle,
and arrows point down the layers of ``digitseg``'s docstring.

The import graph comes from the source (``ast``), not from importing: an import statement
anywhere in a module counts as an arrow; only those outside functions can make an import cycle
(an ``if TYPE_CHECKING:`` import counts: a cycle of types is a cycle too).
"""

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

import digitseg

PACKAGE_DIR = Path(digitseg.__file__).parent
ENTRY_POINTS = {
    "digitseg.train",
    "digitseg.eval",
    "digitseg.generate",
    "digitseg.segment",
    "digitseg.onnx_export",
    "digitseg.classifier.train",
}
# Layers bottom to top, as digitseg's docstring lists them: a module imports from its own
# layer or those below. Entry points are the top layer.
LAYERS = (
    {"digitseg", "digitseg.classes", "digitseg.utils", "digitseg.viz"},
    {"digitseg.data"},
    {"digitseg.postprocess"},
    {"digitseg.models", "digitseg.classifier", "digitseg.metrics", "digitseg.callbacks"},
    {"digitseg.inference"},
    {"digitseg.evaluation", "digitseg.reports"},
)
# Arrows up the layers that stay for now, each with why; a new one fails the test.
KNOWN_UPWARD = {
    ("digitseg", "digitseg.inference"): "the lazy digitseg.Segmenter, imported on first use",
    ("digitseg.classifier.data", "digitseg.inference.segmenter"): (
        "the classifier learns from the digits the segmenter finds"
    ),
}


@dataclass(frozen=True)
class Import:
    """One import statement's arrow from module ``importer`` to digitseg module ``imported``."""

    importer: str
    imported: str
    line: int
    module_level: bool  # outside any function

    def __str__(self) -> str:
        return f"{self.importer} (line {self.line}) -> {self.imported}"


def module_names() -> dict[str, Path]:
    """Every module under src/digitseg by dotted name (a package by its own name)."""
    names = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


class _ImportFinder(ast.NodeVisitor):
    """The digitseg imports of one module, with whether each is outside any function."""

    def __init__(self, module: str, is_package: bool, known: set[str]) -> None:
        self.module, self.known = module, known
        self.package = module if is_package else module.rpartition(".")[0]
        self.in_function = False
        self.found: list[Import] = []

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        in_function, self.in_function = self.in_function, True
        self.generic_visit(node)
        self.in_function = in_function

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            package = self.package.split(".")[: len(self.package.split(".")) - node.level + 1]
            base = ".".join([*package, *([base] if base else [])])
        for alias in node.names:
            name = f"{base}.{alias.name}"
            self._add(name if name in self.known else base, node.lineno)

    def _add(self, name: str, line: int) -> None:
        if name != "digitseg" and not name.startswith("digitseg."):
            return
        while name not in self.known:  # an attribute: the module that holds it
            name = name.rpartition(".")[0]
        arrow = Import(self.module, name, line, not self.in_function)
        if arrow not in self.found:  # several names from one module
            self.found.append(arrow)


@pytest.fixture(scope="module")
def imports() -> list[Import]:
    """Every digitseg import of every module under src/digitseg."""
    names = module_names()
    found = []
    for name, path in names.items():
        finder = _ImportFinder(name, path.name == "__init__.py", set(names))
        finder.visit(ast.parse(path.read_text(), filename=str(path)))
        found.extend(finder.found)
    return found


def import_cycles(arrows: list[Import]) -> list[list[str]]:
    """The modules of each import cycle (strongly connected parts of more than one module,
    or a module importing itself), each sorted."""
    graph: dict[str, set[str]] = {}
    for arrow in arrows:
        graph.setdefault(arrow.importer, set()).add(arrow.imported)
        graph.setdefault(arrow.imported, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def connect(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            part = []
            while not part or part[-1] != node:
                part.append(stack.pop())
            if len(part) > 1 or node in graph[node]:
                cycles.append(sorted(part))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return cycles


def layer(module: str) -> int:
    """The layer of ``module``: entry points on top, else its package's (see ``LAYERS``)."""
    if module in ENTRY_POINTS:
        return len(LAYERS)
    package = ".".join(module.split(".")[:2])
    for floor, packages in enumerate(LAYERS):
        if package in packages:
            return floor
    raise AssertionError(f"{package} has no layer: add it to LAYERS and digitseg's docstring")


def test_the_graph_holds_every_kind_of_import(imports):
    arrows = {(i.importer, i.imported, i.module_level) for i in imports}
    assert ("digitseg.eval", "digitseg.inference", True) in arrows  # from a package
    assert ("digitseg.segment", "digitseg.utils.options", True) in arrows  # from a module
    assert ("digitseg", "digitseg.inference", False) in arrows  # inside a function
    assert ("digitseg.metrics.instance", "digitseg.postprocess", True) in arrows  # TYPE_CHECKING
    assert set(ENTRY_POINTS) <= set(module_names())


def test_cycles_are_found():
    arrows = [Import("a", "b", 1, True), Import("b", "c", 1, True), Import("c", "a", 1, True)]
    arrows += [Import("c", "d", 1, True), Import("d", "d", 1, True), Import("e", "a", 1, True)]
    assert sorted(import_cycles(arrows)) == [["a", "b", "c"], ["d"]]


def test_no_library_module_imports_an_entry_point(imports):
    wrong = [
        str(i) for i in imports if i.imported in ENTRY_POINTS and i.importer not in ENTRY_POINTS
    ]
    assert not wrong, "library modules import entry points:\n" + "\n".join(wrong)


def test_no_import_cycle(imports):
    cycles = import_cycles([i for i in imports if i.module_level])
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_arrows_point_down_the_layers(imports):
    upward = {
        (i.importer, i.imported): str(i) for i in imports if layer(i.imported) > layer(i.importer)
    }
    new = [text for arrow, text in sorted(upward.items()) if arrow not in KNOWN_UPWARD]
    assert not new, "imports up the layers of digitseg's docstring:\n" + "\n".join(new)
    gone = sorted(set(KNOWN_UPWARD) - set(upward))
    assert not gone, f"no longer imported upward, remove from KNOWN_UPWARD: {gone}"

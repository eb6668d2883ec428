"""The shape of the code base: imports point one way, no module reaches into another's privates,
no world is named outside data/, and pipelines call commands with typed arguments.

    pipelines (ponder/pipelines) -> train -> infer -> data;   ponder/ core is used by all, uses none.

Read from the source with `ast`, so every import counts, those inside functions too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# installed package name -> folder in the repository
PACKAGES = {
    "ponder.data": "data",
    "ponder.infer": "infer",
    "ponder.train": "train",
    "ponder.pipelines": "ponder/pipelines",
}
LAYER = {"ponder.data": 0, "ponder.infer": 1, "ponder.train": 2, "ponder.pipelines": 3}


def module_name(path: Path) -> str:
    relative = path.relative_to(REPO)
    for package, folder in PACKAGES.items():
        if relative.is_relative_to(folder):
            parts = [package, *relative.relative_to(folder).with_suffix("").parts]
            break
    else:
        parts = list(relative.with_suffix("").parts)
    return ".".join(p for p in parts if p != "__init__")


def source_files() -> list[Path]:
    folders = ["ponder", "data", "infer", "train"]
    return sorted(
        p for folder in folders for p in (REPO / folder).rglob("*.py") if "checkpoints" not in p.parts
    )


def imports(path: Path) -> list[tuple[str, list[str]]]:
    """(imported module, names taken from it) for every import statement, relative ones resolved."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((target, [alias.name for alias in node.names]))
    return found


def layer(module: str) -> int | None:
    """The layer of a ponder module: 0-3 for data/infer/train/pipelines, -1 for the core, None outside."""
    for package, rank in LAYER.items():
        if module == package or module.startswith(package + "."):
            return rank
    return -1 if module == "ponder" or module.startswith("ponder.") else None


EDGES = [(module_name(path), target, names) for path in source_files() for target, names in imports(path)]


@pytest.mark.parametrize("source", sorted({e[0] for e in EDGES}))
def test_imports_point_one_way(source):
    """A module imports only its own layer, the layers below it, and the core."""
    own = layer(source)
    for _, target, _names in (e for e in EDGES if e[0] == source):
        other = layer(target)
        if other is None or other == -1 and target != "ponder":
            continue
        assert other <= own and not (own == -1 and other >= 0), f"{source} imports {target}"


def test_no_private_names_across_modules():
    for source, target, names in EDGES:
        if layer(target) is None or target == source:
            continue
        private = [n for n in names if n.startswith("_") and not n.startswith("__")]
        assert not private, f"{source} imports private {private} from {target}"


def test_no_import_cycle_between_modules():
    known = {module_name(p) for p in source_files()}
    graph: dict[str, set[str]] = {m: set() for m in known}
    for source, target, names in EDGES:
        for candidate in [target, *(f"{target}.{n}" for n in names)]:
            if candidate in known and candidate != source:
                graph[source].add(candidate)
    # a package's __init__ re-exporting its modules is not a cycle of behaviour: skip edges into packages
    packages = {module_name(p) for p in source_files() if p.name == "__init__.py"}
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node] - packages):
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(nxt) :] + [nxt]))
            if nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])


@pytest.mark.parametrize("folder", ["infer", "train"])
def test_no_world_named_in_infer_or_train(folder):
    for path in (REPO / folder).rglob("*.py"):
        assert "arithworld" not in path.read_text(), f"{path.relative_to(REPO)} names a world"


def test_pipelines_call_typed_code_not_argv():
    for path in (REPO / "ponder" / "pipelines").rglob("*.py"):
        text = path.read_text()
        assert "_main(" not in text and "main([" not in text, (
            f"{path.relative_to(REPO)} calls a command's main"
        )

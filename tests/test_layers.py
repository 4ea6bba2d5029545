"""django_rag's modules import one way: a layer uses the ones below it, never one above.

Every import counts, function-local ones included (they hide a circle from Python but
not from a reader who has to know what a change may break); only ``if TYPE_CHECKING:``
blocks are left out, since they never run. Within a layer modules may use each other:
the model layer is Django's models <-> querysets pair, with the access rules and the
read routing that the QuerySets apply and that read the models back.

A new module must be placed in a layer below (a module in none fails the test).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.settings import REPO_DIR

#: From the bottom up. A module belongs to the layer of the longest prefix naming it.
LAYERS: list[tuple[str, list[str]]] = [
    ("foundation", [
        "django_rag.conf", "django_rag.exceptions", "django_rag.redaction", "django_rag.validation",
        "django_rag.signals", "django_rag.bm25", "django_rag.local_postgres",
    ]),
    # Turning files into text: no model, no backend. llms.extractive reads Markdown with it.
    ("formats", ["django_rag.ingestion.extractors", "django_rag.ingestion.sandbox", "django_rag.markdown"]),
    ("backends", ["django_rag.backends", "django_rag.providers", "django_rag.embedders", "django_rag.llms"]),
    # Below the models: it gets them through the QuerySet it is given.
    ("retrieval", ["django_rag.retrieval", "django_rag.vector_indexes", "django_rag.fastpaths", "django_rag.embedder_state"]),
    ("models", [
        "django_rag.models", "django_rag.querysets", "django_rag.access", "django_rag.routing",
        "django_rag.fields", "django_rag.files",
    ]),
    ("ingestion", ["django_rag.ingestion", "django_rag.reembed"]),
    ("tasks", ["django_rag.tasks", "django_rag.receivers", "django_rag.registry"]),
    ("generation", ["django_rag.generation"]),
    # What sites and people use: the public functions, HTTP, the admin, commands, checks.
    ("surfaces", [
        "django_rag", "django_rag.shortcuts", "django_rag.api", "django_rag.admin", "django_rag.views",
        "django_rag.urls", "django_rag.templatetags", "django_rag.management", "django_rag.evaluation",
        "django_rag.langchain", "django_rag.integrations", "django_rag.rendering", "django_rag.checks",
        "django_rag.apps", "django_rag.ratelimits",
    ]),
]


def layer_of(module: str) -> int | None:
    best: tuple[int, int] | None = None  # (prefix length, layer)
    for number, (_name, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            # The package itself (its __init__) names only itself, not every module in it.
            inside = module.startswith(prefix + ".") and prefix != "django_rag"
            if (module == prefix or inside) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), number)
    return None if best is None else best[1]


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST):
    """Every Import and ImportFrom node, at any depth, outside ``if TYPE_CHECKING:``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            yield from (n for child in node.orelse for n in _imports_of(child))
            continue
        yield from _imports_of(node)


def _imports_of(node: ast.AST):
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield node
    else:
        yield from _imports(node)


def import_graph(root: Path) -> dict[str, dict[str, int]]:
    """``{module: {imported django_rag module: line}}`` for every module under ``root``."""
    paths = {_module_name(p, root): p for p in root.rglob("*.py") if "migrations" not in p.parts}
    graph: dict[str, dict[str, int]] = {}
    for module, path in paths.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        found: dict[str, int] = {}
        for node in _imports(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                # "from . import validation" imports the module validation.
                targets = [f"{target}.{a.name}" if f"{target}.{a.name}" in paths else target for a in node.names]
            for target in targets:
                if target in paths and target != module:
                    found.setdefault(target, node.lineno)
        graph[module] = found
    return graph


def upward_imports(root: Path) -> list[str]:
    problems = []
    for module, imported in sorted(import_graph(root).items()):
        own = layer_of(module)
        if own is None:
            problems.append(f"{module} is in no layer: add it to LAYERS in tests/test_layers.py")
            continue
        for target, line in sorted(imported.items()):
            theirs = layer_of(target)
            if theirs is not None and theirs > own:
                problems.append(
                    f"{module} (line {line}, layer {LAYERS[own][0]}) imports {target} (layer {LAYERS[theirs][0]})"
                )
    return problems


def test_no_layer_imports_a_higher_one():
    assert upward_imports(REPO_DIR / "django_rag") == []


def test_the_check_sees_function_local_imports_and_skips_type_checking(tmp_path):
    package = tmp_path / "django_rag"
    (package / "generation").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "generation" / "__init__.py").write_text("")
    (package / "access.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from .registry import Registration\n"  # never runs: not counted
        "def rules():\n    from .registry import registrations\n    return registrations()\n"
    )
    (package / "registry.py").write_text("from .access import rules\n")
    (package / "retrieval.py").write_text("def top():\n    from . import shortcuts\n")
    (package / "shortcuts.py").write_text("from .generation import answers\n")
    (package / "generation" / "answers.py").write_text("from .. import validation\n")
    (package / "validation.py").write_text("")
    (package / "newmodule.py").write_text("")
    assert upward_imports(package) == [
        "django_rag.access (line 5, layer models) imports django_rag.registry (layer tasks)",
        "django_rag.newmodule is in no layer: add it to LAYERS in tests/test_layers.py",
        "django_rag.retrieval (line 2, layer retrieval) imports django_rag.shortcuts (layer surfaces)",
    ]


@pytest.mark.parametrize(
    "module, layer",
    [("django_rag.ingestion.extractors.pdf", "formats"), ("django_rag.ingestion.writer", "ingestion"),
     ("django_rag.api.ratelimits", "surfaces"), ("django_rag", "surfaces")],
)
def test_the_longest_prefix_decides(module, layer):
    assert LAYERS[layer_of(module)][0] == layer

"""The apps import each other only along the layering of SPEC §2.

    gateway    -> routing, providers, requestlog
    routing    -> providers
    requestlog -> providers
    providers  -> none of them

Walks every module's AST, lazy imports inside functions included, so a
late `import` cannot hide an arrow that points the wrong way.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("gateway", "routing", "providers", "requestlog")
#: What each app may import of the others.
ALLOWED: dict[str, frozenset[str]] = {
    "gateway": frozenset({"routing", "providers", "requestlog"}),
    "routing": frozenset({"providers"}),
    "requestlog": frozenset({"providers"}),
    "providers": frozenset(),
}


def imported_apps(path: Path) -> set[tuple[str, int]]:
    """(app, line) for every import of one of APPS in a source file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[tuple[str, int]] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for name in names:
            top = name.split(".", 1)[0]
            if top in APPS:
                found.add((top, node.lineno))
    return found


def arrows_against_the_layering(app: str) -> list[str]:
    wrong = []
    for path in sorted((ROOT / app).rglob("*.py")):
        for target, line in sorted(imported_apps(path)):
            if target != app and target not in ALLOWED[app]:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    return wrong


@pytest.mark.parametrize("app", APPS)
def test_it_finds_no_import_against_the_layering(app):
    assert arrows_against_the_layering(app) == []


def test_it_sees_lazy_imports_inside_functions(tmp_path):
    module = tmp_path / "lazy.py"
    module.write_text("def f():\n    from routing.models import Provider\n    import requestlog\n")
    assert imported_apps(module) == {("routing", 2), ("requestlog", 3)}

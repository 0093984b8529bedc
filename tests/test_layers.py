"""The house is one-way: each package imports only the layers beneath it (docs/architecture.md).

Every `import` of every module is read (at module level and inside functions), so a new import that
runs back up, or one hidden inside a function to dodge a cycle, fails here with the file and line.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# What each package may import besides itself. The ground layer (core, query) and config import no stage.
MAY_IMPORT: dict[str, set[str]] = {
    "core": set(),
    "query": {"core"},
    "config": {"core", "query"},
    "transport": {"core", "config"},
    "airflow_edge": set(),
    "collectors": {"core", "query", "config", "transport"},
    "enrich": {"core", "query", "config"},
    "warehouse": {"core", "query", "config", "enrich"},
    "care": {"core", "query", "config", "transport", "enrich", "warehouse", "airflow_edge"},
    "reports": {"core", "query", "config", "enrich", "warehouse", "care", "airflow_edge"},
    "desk": {"core", "query", "config", "transport", "enrich", "warehouse", "care", "reports", "airflow_edge"},
    "cli": {"core", "query", "config", "transport", "collectors", "enrich", "warehouse", "care", "reports", "desk", "airflow_edge"},
    "dags": {"core", "query", "config", "transport", "collectors", "enrich", "warehouse", "care", "reports", "airflow_edge"},
    "demo": {"core", "query", "config", "transport", "collectors", "enrich", "warehouse", "care", "reports", "desk", "cli"},
}
# Packages whose commands import lazily so that `overheard --help` and DAG parsing stay fast.
LAZY_IMPORTS_ALLOWED = {"cli", "dags", "demo"}


def _imports(path: Path) -> list[tuple[int, str, bool]]:
    """(line, top-level package imported, whether inside a function) for each project import in `path`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    inside_function: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            inside_function |= {id(child) for child in ast.walk(node) if child is not node}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            package = name.split(".")[0]
            if package in MAY_IMPORT:
                found.append((node.lineno, package, id(node) in inside_function))
    return found


MODULES = sorted(path for package in MAY_IMPORT for path in (REPO / package).rglob("*.py"))


@pytest.mark.parametrize("module", MODULES, ids=lambda path: str(path.relative_to(REPO)))
def test_imports_run_one_way(module):
    package = module.relative_to(REPO).parts[0]
    wrong = [
        f"{module.relative_to(REPO)}:{line} imports {imported}"
        for line, imported, _ in _imports(module)
        if imported != package and imported not in MAY_IMPORT[package]
    ]
    assert wrong == [], f"{package} may import only {sorted(MAY_IMPORT[package])}"


@pytest.mark.parametrize(
    "module", [path for path in MODULES if path.relative_to(REPO).parts[0] not in LAZY_IMPORTS_ALLOWED],
    ids=lambda path: str(path.relative_to(REPO)),
)
def test_no_project_import_hides_inside_a_function(module):
    hidden = [f"{module.relative_to(REPO)}:{line} imports {imported}" for line, imported, inside in _imports(module)
              if inside]
    assert hidden == []


def test_the_rule_catches_an_import_running_back_up(tmp_path):
    module = tmp_path / "bad.py"
    module.write_text("def f():\n    from warehouse.load import load_run\n", encoding="utf-8")
    assert _imports(module) == [(2, "warehouse", True)]


def test_the_architecture_doc_states_the_rule_this_test_enforces():
    doc = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    stated = {}
    for line in doc[doc.index("| package | may import |"):].splitlines()[2:]:
        if not line.startswith("| `"):
            break
        package, allowed = (cell.strip() for cell in line.strip("|").split("|"))
        stated[package.strip("`")] = {name.strip("` ") for name in allowed.split(",")} - {"nothing of Overheard"}
    assert stated == MAY_IMPORT


def test_the_readme_layout_names_every_package():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    packages = {path.parent.name for path in REPO.glob("*/__init__.py")} - {"tests"}
    assert {package for package in packages if f"| `{package}/` |" not in readme} == set()

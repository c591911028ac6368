"""The house rules of the code (README, "The map"), checked on the source: arrows point down only."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 500  # past this a module becomes a package


def modules(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def reaches(names: set[str], package: str) -> bool:
    return any(name == package or name.startswith(package + ".") for name in names)


# The command line is the composition root: it runs the flows, so it is left out.
CORE = [path for path in modules("followup") if not path.is_relative_to(ROOT / "followup" / "cli")]


@pytest.mark.parametrize("path", CORE, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_core_never_imports_prefect_flows_or_tasks(path):
    names = imported(path)
    assert not [p for p in ("prefect", "flows", "tasks") if reaches(names, p)]


@pytest.mark.parametrize("path", modules("flows"), ids=lambda p: str(p.relative_to(ROOT)))
def test_flows_compose_tasks_and_never_touch_the_store(path):
    assert not reaches(imported(path), "followup.store")


@pytest.mark.parametrize("path", modules("tasks"), ids=lambda p: str(p.relative_to(ROOT)))
def test_tasks_wrap_stages_and_never_reach_up(path):
    names = imported(path)
    assert not reaches(names, "flows") and not reaches(names, "followup.cli")


def test_no_module_is_over_500_lines():
    long = {str(p.relative_to(ROOT)): n for folder in ("followup", "flows", "tasks") for p in modules(folder)
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}  # fmt: skip
    assert long == {}

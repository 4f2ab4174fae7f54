"""The package's wings follow the flow of data: no import runs back up.

The base (config, errors) imports nothing above it; ingest imports only the base; model also
ingest; decide also model; ops any wing; the CLI sits on top. Lazy imports inside functions
count as much as those at the top of a module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "scoring"
RANK = {"base": 0, "ingest": 1, "model": 2, "decide": 3, "ops": 4, "cli": 5}
BASE_MODULES = {"config", "errors"}
TOP_MODULES = {"__init__", "__main__", "cli"}


def _wing(module: str) -> str:
    """The wing of a dotted module name of the package ('scoring.model.registry' -> model)."""
    parts = module.split(".")[1:]
    if parts and parts[0] in RANK and parts[0] not in {"base", "cli"}:
        return parts[0]
    if parts and parts[0] in BASE_MODULES:
        return "base"
    return "cli"


def _imports(path: Path) -> set[str]:
    """The package's modules that `path` imports, as dotted names."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] == "scoring":
                found.update(
                    f"{node.module}.{a.name}" if node.module.count(".") == 1 else node.module
                    for a in node.names
                )
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "scoring")
    return found


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def test_the_top_of_the_package_holds_only_the_base_and_the_cli():
    top = {p.stem for p in PACKAGE.glob("*.py")}
    assert top == BASE_MODULES | TOP_MODULES
    wings = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert wings == set(RANK) - {"base", "cli"}


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_import_runs_back_up(path: Path):
    module = "scoring." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
    own = _wing(module)
    upward = sorted(m for m in _imports(path) if RANK[_wing(m)] > RANK[own])
    assert not upward, f"{module} ({own}) imports from a later wing: {upward}"


def test_the_check_sees_an_upward_import(tmp_path: Path):
    """The test above can fail: a model module importing the policy is caught."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from scoring.decide import policy\n")
    assert {RANK[_wing(m)] for m in _imports(bad)} == {RANK["decide"]}
    assert RANK["decide"] > RANK["model"]

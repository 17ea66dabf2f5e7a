"""The import direction the package docstrings promise, checked on every module's imports.

A line passes the agent's stages in order (ingest → store → signals → delivery → serving);
a stage imports only stages before it. The console imports only what both sides share
(``obsview.common``), except the one module that starts an embedded agent. Function-level
imports count: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: Stages in the order a line passes them; each may import itself and every stage before it.
ORDER = ("common", "foundation", "ingest", "store", "signals", "delivery", "serving", "wiring")
FOUNDATION = {"errors", "config_tables", "durations", "addresses", "auth", "connection_slots",
              "state_lock"}
WIRING = {"config", "agent", "cli", "entry", "demo"}
EMBEDDED_AGENT_ENTRY = "obsview.tui.embedded"
#: Shared helpers of the standard library alone, which the instrument (inside the user's
#: service) may import: one ISO time format and one backoff for the whole of obsview.
STDLIB_ONLY_COMMON = {"obsview.common.iso_time", "obsview.common.backoff", "obsview.common.http_methods"}


def _modules() -> Iterator[tuple[str, Path]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for dotted, folder in config["tool"]["setuptools"]["package-dir"].items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield ".".join((dotted, *parts)), path


def _imports(module: str, path: Path) -> Iterator[str]:
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def _stage(module: str) -> str | None:
    """The backend stage a module belongs to; ``None`` outside ``common`` and ``backend``."""
    parts = module.split(".")
    if parts[:2] == ["obsview", "common"]:
        return "common"
    if parts[:2] != ["obsview", "backend"] or len(parts) < 3:
        return None
    if parts[2] in FOUNDATION:
        return "foundation"
    if parts[2] in WIRING:
        return "wiring"
    return parts[2] if parts[2] in ORDER else None


MODULES = dict(_modules())


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_follow_the_stages(module: str) -> None:
    imported = set(_imports(module, MODULES[module]))
    obsview = {name for name in imported if name.startswith("obsview.")}
    if module.startswith("obsview.backend.instrument"):
        # Runs inside the user's service: nothing of obsview's agent or console.
        outside = {name for name in obsview if name.rsplit(".", 1)[0] not in STDLIB_ONLY_COMMON
                   and name not in STDLIB_ONLY_COMMON}
        assert not outside, f"{module} imports {sorted(outside)}"
        return
    if module.startswith(("obsview.backend", "obsview.common")):
        assert not {n for n in imported if n.split(".")[0] == "textual" or n.startswith("obsview.tui")}
        own = ORDER.index(_stage(module) or "wiring")
        for name in obsview:
            stage = _stage(name)
            if name.startswith("obsview.backend.instrument") and own == ORDER.index("wiring"):
                continue  # the demo serves an instrumented app
            assert stage is not None, f"{module} imports {name}, outside the stages"
            assert ORDER.index(stage) <= own, f"{module} ({ORDER[own]}) imports {name} ({stage})"
    elif module.startswith("obsview.tui") and module != EMBEDDED_AGENT_ENTRY:
        backend = sorted(n for n in obsview if n.startswith("obsview.backend"))
        assert not backend, f"the console module {module} imports {backend}"
        if module.startswith("obsview.tui.widgets"):
            composers = sorted(n for n in obsview if n.startswith(("obsview.tui.screens", "obsview.tui.app")))
            assert not composers, f"the widget {module} imports what composes it: {composers}"


def test_every_stage_has_modules() -> None:
    """The rule above is vacuous for a stage nobody maps to: each one has members."""
    stages = {_stage(module) for module in MODULES}
    assert set(ORDER) <= stages


@pytest.mark.parametrize("module", sorted(STDLIB_ONLY_COMMON))
def test_what_the_instrument_shares_needs_only_the_standard_library(module: str) -> None:
    imported = {name.split(".")[0] for name in _imports(module, MODULES[module])}
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, f"{module} imports {sorted(imported)}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_private_module_of_a_dependency_is_imported(module: str) -> None:
    """A library's ``_private`` modules change in its minor releases without notice (Textual
    moves widgets between them); what obsview uses of a dependency is its public API."""
    private = sorted(
        name for name in _imports(module, MODULES[module])
        if not name.startswith(("obsview.", "__future__"))
        and any(part.startswith("_") for part in name.split(".")[:-1])
    )
    assert not private, f"{module} imports {private}"

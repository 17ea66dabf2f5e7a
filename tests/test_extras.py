"""Each role installs what it runs: the extras in pyproject.toml cover every import.

The bare distribution is the instrument; ``agent``, ``console`` (an agent runs inside it) and
``demo`` add the rest. An import not covered by its role's requirements works in the checkout
(the dev group installs everything) and breaks for whoever installs only that role.
"""

from __future__ import annotations

import ast
import importlib.metadata
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from obsview.common.extras import missing_extra

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
#: The instrument cooperates with an OpenTelemetry SDK when the service has one (lazy, optional).
OPTIONAL_IN_INSTRUMENT = {"opentelemetry"}


def _requirements(extra: str | None) -> set[str]:
    """Distribution names a role installs: its extra's (self-references expanded) and the
    core's, each with what it requires in turn."""
    names: set[str] = set()
    todo = [Requirement(text) for text in PROJECT["dependencies"]]
    if extra is not None:
        todo += [Requirement(text) for text in PROJECT["optional-dependencies"][extra]]
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if name == "obsview":
            for own in requirement.extras:
                todo += [Requirement(text) for text in PROJECT["optional-dependencies"][own]]
            continue
        if name in names:
            continue
        names.add(name)
        for text in importlib.metadata.requires(name) or []:
            needed = Requirement(text)
            if needed.marker is None or needed.marker.evaluate({"extra": ""}):
                todo.append(needed)
    return names


def _third_party_imports(paths: list[Path]) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in ("obsview", "__future__"):
                    found.setdefault(top, path)
    return found


def _role_files(role: str) -> list[Path]:
    backend = [path for path in (ROOT / "backend").rglob("*.py")
               if "demo" not in path.relative_to(ROOT / "backend").parts and path.name != "instrument.py"]
    common = list((ROOT / "common").rglob("*.py"))
    if role == "instrument":
        return [ROOT / "backend" / "instrument.py"]
    if role == "agent":
        return backend + common
    if role == "console":
        return list((ROOT / "tui").rglob("*.py")) + backend + common
    return list((ROOT / "backend" / "demo").rglob("*.py"))


@pytest.mark.parametrize(("role", "extra"), [("instrument", None), ("agent", "agent"),
                                             ("console", "console"), ("demo", "demo")])
def test_every_import_of_a_role_is_installed_with_it(role: str, extra: str | None) -> None:
    installed = _requirements(extra)
    providers = importlib.metadata.packages_distributions()
    uncovered = {
        top: str(path.relative_to(ROOT))
        for top, path in _third_party_imports(_role_files(role)).items()
        if not {canonicalize_name(dist) for dist in providers.get(top, [])} & installed
        and not (role == "instrument" and top in OPTIONAL_IN_INSTRUMENT)
    }
    assert uncovered == {}, f"{role} imports what obsview[{extra or ''}] does not install: {uncovered}"


def test_the_instrument_alone_needs_only_orjson() -> None:
    assert [Requirement(text).name for text in PROJECT["dependencies"]] == ["orjson"]


def test_a_command_without_its_extra_says_which_to_install() -> None:
    message = missing_extra("obsview-agent", "agent", ("json", "no_such_module_here", "no_such_package.sub"))
    assert message is not None
    assert "no_such_module_here, no_such_package.sub is not installed" in message
    assert "uv tool install 'obsview[agent]'" in message
    assert missing_extra("obsview", "console", ("json", "textual")) is None

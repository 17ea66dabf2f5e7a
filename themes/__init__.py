"""The console's colour themes: ``*.toml`` files in this package, loaded into Textual themes.

Each file maps one-to-one onto :class:`textual.theme.Theme` (``name``, ``primary``, …,
``dark``, ``variables``). A broken file is a :class:`ThemeError` naming the file and the key,
so a hand-edited theme never fails with a traceback from deep inside Textual.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from typing import Any, Final

from textual.color import Color, ColorParseError
from textual.theme import Theme

_COLOR_KEYS: Final = (
    "primary", "secondary", "accent", "warning", "error", "success",
    "foreground", "background", "surface", "panel", "boost",
)
_FLOAT_KEYS: Final = ("luminosity_spread", "text_alpha")
_KNOWN_KEYS: Final = frozenset({"name", "dark", "variables", *_COLOR_KEYS, *_FLOAT_KEYS})


class ThemeError(ValueError):
    """A theme file that cannot be used; the message names the file and the key."""


def load_themes() -> list[Theme]:
    """Every theme shipped in this package, sorted by file name."""
    folder = resources.files(__name__)
    files = sorted(
        (entry for entry in folder.iterdir() if entry.name.endswith(".toml")),
        key=lambda entry: entry.name,
    )
    return [parse_theme(entry.read_text(encoding="utf-8"), entry.name) for entry in files]


def parse_theme(text: str, filename: str) -> Theme:
    """Validate one theme file's text; ``filename`` is only used in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ThemeError(f"{filename}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - _KNOWN_KEYS)
    if unknown:
        raise ThemeError(f"{filename}: unknown key {unknown[0]!r}")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise ThemeError(f"{filename}: key 'name' must be a non-empty string")
    colors: dict[str, str] = {key: _color(data, key, filename) for key in _COLOR_KEYS if key in data}
    if "primary" not in colors:
        raise ThemeError(f"{filename}: key 'primary' is required")
    dark = data.get("dark", True)
    if not isinstance(dark, bool):
        raise ThemeError(f"{filename}: key 'dark' must be true or false")
    floats: dict[str, float] = {key: _number(data, key, filename) for key in _FLOAT_KEYS if key in data}
    options: dict[str, Any] = {**colors, **floats}
    return Theme(name=name, dark=dark, variables=_variables(data, filename), **options)


def _color(data: dict[str, Any], key: str, filename: str) -> str:
    value = data[key]
    if not isinstance(value, str):
        raise ThemeError(f"{filename}: key {key!r} must be a colour string like \"#10151b\"")
    try:
        Color.parse(value)
    except ColorParseError:
        raise ThemeError(f"{filename}: key {key!r} is not a colour: {value!r}") from None
    return value


def _number(data: dict[str, Any], key: str, filename: str) -> float:
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ThemeError(f"{filename}: key {key!r} must be a number")
    return float(value)


def _variables(data: dict[str, Any], filename: str) -> dict[str, str]:
    variables = data.get("variables", {})
    if not isinstance(variables, dict):
        raise ThemeError(f"{filename}: key 'variables' must be a table")
    for key, value in variables.items():
        if not isinstance(value, str):
            raise ThemeError(f"{filename}: key 'variables.{key}' must be a string")
    return dict(variables)

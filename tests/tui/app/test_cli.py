"""The ``obsview`` command line: arguments, config file, token file, exit codes."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from obsview.tui.cli import (
    ConsoleConfig,
    UsageError,
    load_console_config,
    main,
    parse_args,
    pick_theme,
    read_token,
    resolve_theme,
    save_theme,
)
from obsview.tui.targets import Targets

THEMES = ["obsview-dark", "obsview-light", "obsview-high-contrast", "textual-dark"]


@pytest.mark.parametrize(
    "argv",
    [["bogus"], ["--nope"], ["http://127.0.0.1:8765"], ["ssh://u:pw@host"], ["--theme"]],
)
def test_bad_arguments_print_one_line_and_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("obsview: ") and err.count("\n") == 1


def test_a_missing_explicit_token_file_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert main(["--token-file", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_an_unknown_theme_is_a_usage_error_listing_the_choices() -> None:
    with pytest.raises(UsageError, match="obsview-light"):
        resolve_theme("neon", THEMES)


def test_short_theme_names_resolve() -> None:
    assert resolve_theme("dark", THEMES) == "obsview-dark"
    assert resolve_theme("high-contrast", THEMES) == "obsview-high-contrast"
    assert resolve_theme("textual-dark", THEMES) == "textual-dark"
    assert resolve_theme(None, THEMES) is None


def test_demo_and_urls_parse() -> None:
    assert parse_args(["demo"]).targets == Targets(demo=True)
    args = parse_args(["ws://10.0.0.1:9000", "--bell"])
    assert args.bell is True and args.targets == Targets(agents=("ws://10.0.0.1:9000",))
    assert parse_args([]).targets == Targets()


def test_theme_is_remembered_next_to_other_settings(tmp_path: Path) -> None:
    path = tmp_path / "obsview" / "console.toml"
    path.parent.mkdir()
    path.write_text('url = "ws://127.0.0.1:9999"\n', encoding="utf-8")
    save_theme(path, "obsview-light")
    assert load_console_config(path) == ConsoleConfig(url="ws://127.0.0.1:9999", theme="obsview-light")


def test_remembering_a_theme_keeps_a_file_with_non_bmp_characters_readable(tmp_path: Path) -> None:
    """Issue 12.18: settings were written as JSON strings, whose surrogate escapes for a
    character outside the BMP (``\\ud83d\\ude00``) tomllib rejects, so the console refused to
    start on its own file. Failed on e629b84. Values of other types stay what they were."""
    path = tmp_path / "console.toml"
    token = tmp_path / "t\u00f6k\U0001f600\u202e\x7f.token"
    escaped = "t\\u00f6k\\U0001F600\\u202E\\u007F.token"  # TOML's own escapes
    path.write_text(f'token_file = "{tmp_path}/{escaped}"\nbell = true\n[extra]\nn = 3\n',
                    encoding="utf-8")
    assert load_console_config(path).token_file == token
    save_theme(path, "obsview-light\U0001f600")
    config = load_console_config(path)
    assert config.token_file == token and config.theme == "obsview-light\U0001f600"
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    assert data["bell"] is True and data["extra"] == {"n": 3}


def test_consoles_switching_themes_at_once_never_leave_a_broken_settings_file(tmp_path: Path) -> None:
    """Three consoles started together (issue 13's trial) each saved their theme: the writes
    interleaved ('theme = "obsview-dark"\nontrast"') and every console after refused to
    start on its own settings file. Real processes, racing on one file."""
    path = tmp_path / "console.toml"
    path.write_text('url = "ws://127.0.0.1:9999"\n', encoding="utf-8")
    racer = (f"from pathlib import Path\nfrom obsview.tui.cli import save_theme\n"
             f"for _ in range(150):\n    save_theme(Path({str(path)!r}), {{theme!r}})\n")
    themes = ["obsview-dark", "obsview-light", "obsview-high-contrast"]
    racers = [subprocess.Popen([sys.executable, "-c", racer.format(theme=theme)]) for theme in themes]
    try:
        while any(process.poll() is None for process in racers):
            assert load_console_config(path).theme in ("", *themes)  # whole at every moment
    finally:
        for process in racers:
            process.kill() if process.poll() is None else None
            process.wait(timeout=30)
    assert [process.returncode for process in racers] == [0, 0, 0]
    config = load_console_config(path)
    assert config.theme in themes and config.url == "ws://127.0.0.1:9999"
    assert [p.name for p in tmp_path.iterdir()] == ["console.toml"]  # no temporary file left


def test_theme_flag_is_remembered_and_a_stale_remembered_theme_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "console.toml"
    assert pick_theme("light", "", path, THEMES) == "obsview-light"
    assert load_console_config(path).theme == "obsview-light"  # as if switched with ctrl+t
    assert pick_theme(None, "obsview-light", path, THEMES) == "obsview-light"
    assert pick_theme(None, "a-theme-since-removed", path, THEMES) is None
    with pytest.raises(UsageError):
        pick_theme("neon", "", path, THEMES)


def test_a_missing_config_means_defaults_and_a_broken_one_names_the_file(tmp_path: Path) -> None:
    assert load_console_config(tmp_path / "absent.toml") == ConsoleConfig()
    broken = tmp_path / "console.toml"
    broken.write_text("url = 3\n", encoding="utf-8")
    with pytest.raises(UsageError, match="console.toml: key 'url'"):
        load_console_config(broken)


def test_token_files(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("s3cret\n", encoding="utf-8")
    assert read_token(token, required=True) == "s3cret"
    assert read_token(tmp_path / "absent", required=False) is None
    with pytest.raises(UsageError, match="does not exist"):
        read_token(tmp_path / "absent", required=True)

from __future__ import annotations

import pytest

from obsview.themes import ThemeError, load_themes, parse_theme


def test_the_package_ships_dark_light_and_high_contrast() -> None:
    themes = {theme.name: theme for theme in load_themes()}
    assert {"obsview-dark", "obsview-light", "obsview-high-contrast"} <= set(themes)
    assert themes["obsview-light"].dark is False
    assert themes["obsview-dark"].error is not None


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('name = "x"\nprimary = "not-a-colour"', "'primary'"),
        ('name = "x"\nprimary = "#fff"\nerror = 3', "'error'"),
        ('name = "x"\nprimary = "#fff"\nbogus = "#fff"', "'bogus'"),
        ('primary = "#fff"', "'name'"),
        ('name = "x"', "'primary'"),
        ('name = "x"\nprimary = "#fff"\ndark = "yes"', "'dark'"),
        ('name = "x"\nprimary = "#fff"\n[variables]\nborder = 1', "'variables.border'"),
    ],
)
def test_a_bad_theme_names_the_file_and_the_key(text: str, key: str) -> None:
    with pytest.raises(ThemeError) as caught:
        parse_theme(text, "broken.toml")
    assert "broken.toml" in str(caught.value)
    assert key in str(caught.value)


def test_invalid_toml_names_the_file() -> None:
    with pytest.raises(ThemeError, match="broken.toml: not valid TOML"):
        parse_theme("name = ", "broken.toml")


async def test_the_palette_offers_only_obsviews_themes() -> None:
    from textual.theme import ThemeProvider

    from obsview.tui.screenshots import sample_app

    app = sample_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.action_change_theme()  # the palette's "Theme" command
        await pilot.pause()
        provider = ThemeProvider(app.screen)
        offered = [name for name, _callback in provider.commands]
        assert offered == sorted(theme.name for theme in load_themes())

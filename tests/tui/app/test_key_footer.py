"""The footer rebuilds its keys only when the keys it shows change. Textual's footer rebuilds
all of them (each a widget, each styled) on every bindings signal: 14 times for the same keys
while the console started, and on every focus change after."""

from __future__ import annotations

from app_test_support import screen_text
from textual.app import App, ComposeResult

from obsview.tui.widgets.key_footer import KeyFooter


class CountingFooter(KeyFooter):
    composed = 0

    def compose(self) -> ComposeResult:
        CountingFooter.composed += 1
        yield from super().compose()


class Keys(App[None]):
    BINDINGS = [("p", "pause", "Pause/Follow"), ("x", "export", "Export")]
    exporting = True

    def compose(self) -> ComposeResult:
        yield CountingFooter()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return None if action == "export" and not self.exporting else True


async def test_the_footer_is_rebuilt_when_its_keys_change_and_only_then() -> None:
    app = Keys()
    async with app.run_test(size=(120, 10)) as pilot:
        await pilot.pause()
        footer = app.query_one(CountingFooter)
        await pilot.wait_for_scheduled_animations()
        before = CountingFooter.composed
        assert before >= 1 and "Export" in screen_text(app)
        for _ in range(5):
            app.refresh_bindings()
            await pilot.pause()
        assert CountingFooter.composed == before, "the same keys: nothing rebuilt"
        app.exporting = False
        app.refresh_bindings()
        await pilot.pause()
        await pilot.pause()
        assert CountingFooter.composed == before + 1, "a key disabled: rebuilt once"
        assert footer.query("FooterKey.-disabled"), "and shown disabled"


async def test_keys_that_do_not_fit_are_left_out_whole() -> None:
    """At 80 columns the console's footer ended in "R Ro▏^p palette": half a key."""
    from obsview.tui.screenshots import sample_app

    app = sample_app()
    async with app.run_test(size=(80, 24)) as pilot:
        for width in (80, 76, 93, 120, 80):
            await pilot.resize_terminal(width, 24)
            await pilot.pause()
            await pilot.pause()
            footer = app.screen.query_one(KeyFooter)
            keys = [key for key in footer.query("FooterKey") if key.display]
            palette = next(key for key in keys if key.has_class("-command-palette"))
            shown = [key for key in keys if key is not palette]
            assert shown and all(key.region.right <= palette.region.x for key in shown), width
            assert footer.query("FooterKey").filter(".-command-palette") and palette.region.right <= width
            line = screen_text(app).splitlines()[-1]
            for key in shown:  # each shown key whole on the last line
                assert f"{key.key_display} {key.description}".strip() in line, (width, line)

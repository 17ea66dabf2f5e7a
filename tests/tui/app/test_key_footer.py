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

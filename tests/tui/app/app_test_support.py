"""What the console's tests share: reading the screen as text."""

from __future__ import annotations

from textual.app import App


def screen_lines(app: App[object]) -> list[str]:
    """The text of every row of the current screen, as the terminal would receive it."""
    update = app.screen._compositor.render_update(
        full=True, screen_stack=app._background_screens
    )
    return [
        "".join(segment.text for strip in line for segment in strip if not segment.control)
        for line in update.strips
    ]


def screen_text(app: App[object]) -> str:
    return "\n".join(screen_lines(app))


async def wait_until(pilot: object, predicate: object, *, timeout: float = 10.0) -> None:
    """Let the app run until ``predicate()`` holds; fail after ``timeout`` seconds."""
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():  # type: ignore[operator]
        if loop.time() > deadline:
            raise AssertionError(f"still false after {timeout}s: {predicate}")
        await pilot.pause(0.05)  # type: ignore[attr-defined]

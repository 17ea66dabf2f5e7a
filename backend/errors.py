"""Exceptions the agent raises for the user to read: each says what was wrong and what to do;
and the checks every config section of ``[[tables]]`` makes the same way."""

from __future__ import annotations

from collections.abc import Sequence


class ObsviewError(Exception):
    """Base of every error that is shown to a person as one line, without a traceback."""


class ConfigError(ObsviewError):
    """A bad flag or config value. The message names the key (and file and line when known).

    ``at`` is the path of the bad value inside what the raiser was given (``(2, "port")``
    for the third probe's port): the config loader prefixes its own part and finds the
    line that sets it.
    """

    def __init__(self, message: str, *, at: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.at = at

    def within(self, *prefix: str | int) -> ConfigError:
        """The same error, its path seen from the table that holds ``prefix``."""
        return ConfigError(str(self), at=(*prefix, *self.at))


def reject_repeated_names(
    names: Sequence[str], what: str, *, at: Sequence[tuple[str | int, ...]] | None = None, hint: str = ""
) -> None:
    """ConfigError at the first of a section's tables that takes a name an earlier one has
    (``rule 'x': name: two rules have this name``): alerts, acks, notifications and health
    are keyed by name. ``at`` is each table's path (default ``(index,)``); ``hint`` ends the
    message."""
    first: set[str] = set()
    for index, name in enumerate(names):
        if name in first:
            path = at[index] if at is not None else (index,)
            raise ConfigError(f"{what} {name!r}: name: two {what}s have this name{hint}", at=(*path, "name"))
        first.add(name)


class StartupError(ObsviewError):
    """The agent cannot start: a port in use, an unreadable token file, an unsafe bind…"""

"""Exceptions the agent raises for the user to read: each says what was wrong and what to do."""

from __future__ import annotations


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


class StartupError(ObsviewError):
    """The agent cannot start: a port in use, an unreadable token file, an unsafe bind…"""

"""Cut a byte stream into lines with bounded memory; shared by every stream-like source."""

from __future__ import annotations


class LineSplitter:
    """Feeds chunks in, gets complete lines out (without their ``\\n``).

    A partial last line is held until its newline arrives. A line that grows past
    ``max_line_bytes`` keeps only its first ``max_line_bytes + 1`` bytes and the rest is
    skipped up to the newline: memory stays bounded whatever the input, and the normalizer
    still sees an over-long line, so it truncates and flags it instead of losing it.
    """

    __slots__ = ("_limit", "_pending", "_skipped", "_skipping")

    def __init__(self, max_line_bytes: int) -> None:
        self._limit = max_line_bytes
        self._pending = b""
        self._skipping = False
        """The held line is already over the limit: drop input until the next newline."""
        self._skipped = 0
        """Bytes of the held line dropped past the limit (they still count in the stream)."""

    @property
    def pending_bytes(self) -> int:
        return len(self._pending)

    @property
    def held_bytes(self) -> int:
        """Stream bytes fed since the last complete line, skipped ones included: the input
        position of the last line boundary is ``bytes fed - held_bytes`` (a file checkpoint)."""
        return len(self._pending) + self._skipped

    def feed(self, data: bytes) -> list[bytes]:
        lines: list[bytes] = []
        if self._skipping:
            newline = data.find(b"\n")
            if newline < 0:
                self._skipped += len(data)
                return lines
            lines.append(self._pending)
            self._pending = b""
            self._skipping = False
            self._skipped = 0
            data = data[newline + 1 :]
        if self._pending:
            data = self._pending + data
        cut = data.rfind(b"\n")
        if cut < 0:
            self._hold(data)
            return lines
        lines.extend(data[:cut].split(b"\n"))
        self._hold(data[cut + 1 :])
        return lines

    def flush(self) -> list[bytes]:
        """The held partial line, when the stream ended without a final newline."""
        rest = self._pending
        self._pending = b""
        self._skipping = False
        self._skipped = 0
        return [rest] if rest else []

    def _hold(self, rest: bytes) -> None:
        if len(rest) > self._limit:
            self._pending = rest[: self._limit + 1]
            self._skipping = True
            self._skipped = len(rest) - len(self._pending)
        else:
            self._pending = rest

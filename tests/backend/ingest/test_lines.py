"""LineSplitter: any chunking of a stream yields the same lines; what it holds stays bounded."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from obsview.backend.ingest.sources.lines import LineSplitter


def expected_lines(data: bytes, limit: int) -> list[bytes]:
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return [line if len(line) <= limit else line[: limit + 1] for line in lines]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.lists(st.integers(1, 50), max_size=30), st.integers(1, 40))
def test_any_chunking_gives_the_same_lines(data: bytes, cuts: list[int], limit: int) -> None:
    splitter = LineSplitter(limit)
    got: list[bytes] = []
    position = 0
    for size in cuts:
        got += splitter.feed(data[position : position + size])
        position += size
        assert splitter.pending_bytes <= limit + 1
    got += splitter.feed(data[position:])
    got += splitter.flush()
    # A line that arrived whole inside one chunk may exceed the limit (the chunk bounds it;
    # the normalizer truncates it); one held across chunks keeps limit + 1 bytes.
    assert [line[: limit + 1] for line in got] == expected_lines(data, limit)


def test_over_long_line_keeps_its_head_and_the_next_line() -> None:
    splitter = LineSplitter(4)
    assert splitter.feed(b"abcdefgh") == []
    assert splitter.feed(b"ijk\nok\n") == [b"abcde", b"ok"]
    assert splitter.flush() == []

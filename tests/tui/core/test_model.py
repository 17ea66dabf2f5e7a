from __future__ import annotations

import pytest

from obsview.common.filters import parse_filter
from obsview.common.protocol import LogEvent
from obsview.tui.model import EventBuffer

LEVEL_CYCLE = ("INFO", "ERROR", "DEBUG", "WARN")


def make(start: int, count: int, **fields: object) -> list[LogEvent]:
    return [
        LogEvent(ts=float(seq), level=LEVEL_CYCLE[seq % 4], message=f"event {seq}", seq=seq, **fields)  # type: ignore[arg-type]
        for seq in range(start, start + count)
    ]


def seqs(buffer: EventBuffer) -> list[int]:
    return [buffer[i].seq for i in range(len(buffer))]


def test_append_counts_and_indexes() -> None:
    buffer = EventBuffer(10)
    assert buffer.append(make(1, 4)) == 4
    assert (buffer.total, buffer.matched_count, buffer.evicted, buffer.last_seq) == (4, 4, 0, 4)
    assert buffer[0].seq == 1 and buffer[-1].seq == 4
    assert buffer.append([]) == 0


def test_new_events_are_tested_against_the_active_filter() -> None:
    buffer = EventBuffer(100)
    buffer.set_filter(parse_filter("level:error"))
    assert buffer.append(make(1, 8)) == 2
    assert seqs(buffer) == [1, 5]
    assert buffer.total == 8


def test_set_filter_applies_to_the_whole_buffer() -> None:
    buffer = EventBuffer(100)
    buffer.append(make(1, 8))
    buffer.set_filter(parse_filter("level:warn+"))
    assert seqs(buffer) == [1, 3, 5, 7]
    buffer.set_levels({"WARN"})
    assert seqs(buffer) == [3, 7]
    assert buffer.filter.query == "level:warn+"
    buffer.set_filter(parse_filter(""))
    assert seqs(buffer) == list(range(1, 9))


def test_eviction_drops_oldest_and_keeps_the_filtered_index_right() -> None:
    buffer = EventBuffer(6)
    buffer.set_filter(parse_filter("level:error"))  # seqs 1, 5, 9 …
    buffer.append(make(1, 6))
    assert seqs(buffer) == [1, 5]
    buffer.append(make(7, 3))  # holds 4..9, evicts 1..3
    assert buffer.evicted == 3 and buffer.total == 6
    assert seqs(buffer) == [5, 9]
    assert buffer.matched_evicted == 1
    buffer.append(make(10, 2))  # holds 6..11, evicts 4 and 5
    assert seqs(buffer) == [9]
    assert buffer.matched_evicted == 2
    buffer.set_filter(parse_filter(""))
    assert seqs(buffer) == [6, 7, 8, 9, 10, 11]
    assert buffer.matched_evicted == 0


def test_a_batch_bigger_than_the_buffer_keeps_the_newest() -> None:
    buffer = EventBuffer(3)
    buffer.append(make(1, 2))
    assert buffer.append(make(3, 10)) == 3
    assert seqs(buffer) == [10, 11, 12]
    assert buffer.evicted == 9 and buffer.appended == 12 and buffer.last_seq == 12
    assert sum(buffer.level_counts.values()) == 3


def test_level_counts_follow_appends_and_evictions() -> None:
    buffer = EventBuffer(4)
    buffer.append(make(0, 6))  # holds seqs 2..5: DEBUG WARN INFO ERROR
    assert dict(buffer.level_counts) == {"ERROR": 1, "WARN": 1, "INFO": 1, "DEBUG": 1, "TRACE": 0}


def test_positions_are_stable_across_filters_and_eviction() -> None:
    buffer = EventBuffer(6)
    buffer.append(make(1, 6))
    position = buffer.position(4)  # seq 5
    buffer.set_filter(parse_filter("level:error"))
    index = buffer.index_of_position(position)
    assert index is not None and buffer[index].seq == 5
    assert buffer.index_of_position(buffer.position(0) + 1) is None
    buffer.append(make(7, 2))
    index = buffer.index_of_position(position)
    assert index is not None and buffer[index].seq == 5
    assert buffer[buffer.nearest_index(position + 1)].seq == 5  # clamped to the last match


def test_trace_returns_events_in_time_order() -> None:
    buffer = EventBuffer(100)
    first, second, third = make(1, 3, trace_id="abc")
    third.ts = 0.5  # arrived last, happened first
    other = make(4, 1, trace_id="zzz")[0]
    by_request = make(5, 1, request_id="abc")[0]
    buffer.append([first, second, third, other, by_request])
    assert [e.seq for e in buffer.trace("abc")] == [3, 1, 2, 5]
    assert buffer.trace("") == []


def test_clear_counts_as_eviction() -> None:
    buffer = EventBuffer(10)
    buffer.append(make(1, 3))
    buffer.clear()
    assert (buffer.total, buffer.matched_count, buffer.evicted, buffer.last_seq) == (0, 0, 3, 3)


def test_starting_over_forgets_the_events_and_that_any_were_evicted() -> None:
    buffer = EventBuffer(4)
    buffer.append(make(1, 6))  # two evicted
    buffer.mark("gap: 3 events lost here", 6.5)
    buffer.start_over()
    assert (buffer.total, buffer.matched_count, buffer.evicted, buffer.last_seq) == (0, 0, 0, 0)
    assert sum(buffer.level_counts.values()) == 0
    buffer.append(make(1, 3))  # fed again from the start
    assert (seqs(buffer), buffer.total, buffer.evicted) == ([1, 2, 3], 3, 0)
    buffer.append(make(4, 3))
    assert (seqs(buffer), buffer.evicted) == ([3, 4, 5, 6], 2)


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError):
        EventBuffer(0)


def test_index_at_time_finds_the_first_matching_event_at_or_after_a_time() -> None:
    buffer = EventBuffer(capacity=100)
    buffer.append([LogEvent(ts=float(i), level="INFO" if i % 2 else "ERROR", message=str(i), seq=i)
                   for i in range(1, 51)])
    assert buffer.index_at_time(0.0) == 0
    assert buffer[buffer.index_at_time(10.0)].seq == 10
    assert buffer[buffer.index_at_time(10.5)].seq == 11
    assert buffer.index_at_time(99.0) == len(buffer)
    buffer.set_levels({"ERROR"})  # only even seqs match now
    assert buffer[buffer.index_at_time(11.0)].seq == 12


# --------------------------------------------------------------------------- in steps


def test_refilter_in_steps_equals_one_pass_despite_appends_and_evictions() -> None:
    stepped = EventBuffer(50)
    stepped.append(make(1, 40))
    steps = stepped.refilter(parse_filter("level:warn+"), step=7)
    next(steps)
    assert stepped.filter.query == "" and len(stepped) == 40  # nothing swapped yet
    next(steps)
    stepped.append(make(41, 25))  # evicts 1..15 between two steps
    for _ in steps:
        pass
    one_pass = EventBuffer(50)
    one_pass.append(make(1, 65))
    one_pass.set_filter(parse_filter("level:warn+"))
    assert seqs(stepped) == seqs(one_pass) == [n for n in range(16, 66) if n % 2]
    assert stepped.filter.query == "level:warn+"


def test_a_refilter_left_unfinished_changes_nothing() -> None:
    buffer = EventBuffer(100)
    buffer.append(make(1, 30))
    generation = buffer.generation
    steps = buffer.refilter(parse_filter("level:error"), step=5)
    next(steps)
    del steps  # the user typed on: the next query replaces this one
    assert len(buffer) == 30 and buffer.generation == generation


def test_find_counts_ranks_and_wraps_around_among_the_filtered_events() -> None:
    buffer = EventBuffer(100)
    buffer.append(make(1, 20))
    buffer.set_filter(parse_filter("level:warn+"))  # odd seqs 1..19: 10 events
    buffer.set_find(parse_filter("/event 1[0-9]/"))  # of those: 11 13 15 17 19
    assert buffer.found_count == 5
    assert [buffer.found_rank(i) for i in range(len(buffer))] == [None] * 5 + [1, 2, 3, 4, 5]
    assert buffer[buffer.next_found(0, 1)].seq == 11  # type: ignore[index]
    assert buffer[buffer.next_found(6, 1)].seq == 15  # type: ignore[index]
    assert buffer[buffer.next_found(9, 1)].seq == 11  # type: ignore[index]  # wraps
    assert buffer[buffer.next_found(5, -1)].seq == 19  # type: ignore[index]  # wraps back
    buffer.append(make(21, 2))  # 21 matches the filter, not the find
    assert buffer.found_count == 5
    buffer.set_filter(parse_filter(""))  # the find stays, over the wider view
    assert buffer.found_count == 10  # 10..19
    buffer.set_find(None)
    assert buffer.found_count == 0 and buffer.next_found(0, 1) is None


def test_found_events_appended_later_and_evicted_are_counted() -> None:
    buffer = EventBuffer(10)
    buffer.set_find(parse_filter("level:error"))
    buffer.append(make(1, 8))  # errors: 1, 5
    assert buffer.found_count == 2
    buffer.append(make(9, 6))  # holds 5..14: errors 5, 9, 13
    assert buffer.found_count == 3
    assert buffer[buffer.next_found(0, 1)].seq == 9  # type: ignore[index]


def test_bookmarks_toggle_jump_skip_filtered_and_go_with_their_events() -> None:
    buffer = EventBuffer(10)
    buffer.append(make(1, 10))
    assert buffer.toggle_bookmark(2) and buffer.toggle_bookmark(6) and buffer.toggle_bookmark(7)
    assert buffer.bookmark_count == 3
    assert buffer[buffer.next_bookmark(0, 1)].seq == 3  # type: ignore[index]
    assert buffer[buffer.next_bookmark(2, 1)].seq == 7  # type: ignore[index]
    assert buffer[buffer.next_bookmark(2, -1)].seq == 8  # type: ignore[index]  # wraps
    assert not buffer.toggle_bookmark(7)  # off again
    buffer.set_filter(parse_filter('-"event 3"'))  # 7 is shown, 3 is not
    assert buffer.is_bookmarked(buffer.position(5)) is True  # seq 7
    assert buffer[buffer.next_bookmark(0, 1)].seq == 7  # type: ignore[index]
    buffer.set_filter(parse_filter(""))
    buffer.append(make(11, 5))  # evicts 1..5: the bookmark on 3 goes with it
    assert buffer.bookmark_count == 1


def test_a_marker_line_is_held_in_place_without_being_the_agents() -> None:
    buffer = EventBuffer(10)
    buffer.append(make(1, 3))
    buffer.mark("gap: 40 events missed", ts=3.5)
    buffer.append(make(44, 1))
    assert [buffer[i].message for i in range(len(buffer))][-2:] == ["gap: 40 events missed", "event 44"]
    buffer.mark("5 events dropped", ts=44.5)
    assert buffer.last_seq == 44  # resuming is from the agent's last event, not the marker's


def test_marker_lines_are_not_counted_as_events_held_evicted_or_by_level() -> None:
    buffer = EventBuffer(4)
    buffer.append(make(1, 2))
    buffer.mark("gap: 300 events missed", ts=2.5)
    assert (buffer.total, len(buffer), buffer.level_counts["WARN"]) == (2, 3, 0)
    buffer.append(make(303, 3))  # evicts events 1 and 2; the marker stays; 303 is a WARN
    assert (buffer.total, buffer.evicted, buffer.level_counts["WARN"]) == (3, 2, 1)
    buffer.mark("5 events dropped", ts=305.5)  # evicts the first marker
    assert (buffer.total, buffer.evicted, len(buffer)) == (3, 2, 4)
    buffer.forget()
    assert (buffer.total, buffer.evicted) == (0, 2), "forgotten events are not evicted ones"

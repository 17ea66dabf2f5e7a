"""AgentFeed: bounded, and a loss is told to the agent as an event, never silent."""

from __future__ import annotations

import logging

from obsview.backend.demo.feed import AgentFeed, FeedHandler
from obsview.backend.ingest.normalize import Normalizer
from obsview.common.protocol import LogEvent


class CollectingAgent:
    """Just the two things the feed uses: the agent's normalizer and its ingest."""

    def __init__(self) -> None:
        self.normalizer = Normalizer(service="blog-api")
        self.batches: list[list[LogEvent]] = []

    async def ingest(self, events: list[LogEvent]) -> None:
        self.batches.append(events)


ACCESS = {
    "timestamp": "2026-11-25T15:00:00.000+00:00", "level": "WARN", "message": "Request completed",
    "traceId": "abc", "route": "/api/posts/:post_id",
    "request": {"id": "r1", "method": "GET", "url": "/api/posts/9", "ip": "127.0.0.1"},
    "response": {"statusCode": 404, "responseTime": 2.5}, "duration": 2.5,
}


async def test_full_buffer_drops_are_counted_and_reported_to_the_agent() -> None:
    agent = CollectingAgent()
    feed = AgentFeed(agent, limit=3)
    for _ in range(5):
        feed.access(ACCESS)
    assert feed.dropped == 2
    await feed.flush()
    (batch,) = agent.batches
    access, warning = batch[:3], batch[3]
    assert all((e.status, e.duration_ms, e.route, e.trace_id) == (404, 2.5, "/api/posts/:post_id", "abc")
               for e in access)
    assert warning.level == "WARN" and "2 records dropped" in warning.message
    assert feed.delivered == 3
    await feed.flush()  # nothing new: no second warning, no empty batch
    assert len(agent.batches) == 1


async def test_handler_turns_log_records_into_events_with_extras() -> None:
    agent = CollectingAgent()
    feed = AgentFeed(agent)
    logger = logging.getLogger("tests.demo.feed")
    logger.handlers[:] = [FeedHandler(feed, service="blog-api", source="app:blog-api")]
    logger.propagate = False
    logger.warning("User login failed", extra={"email": "a@example.com", "reason": "wrong password"})
    await feed.flush()
    (event,) = agent.batches[0]
    assert (event.level, event.message, event.source) == ("WARN", "User login failed", "app:blog-api")
    assert event.extra["email"] == "a@example.com" and event.extra["reason"] == "wrong password"

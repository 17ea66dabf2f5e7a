"""``/api/health`` of an agent with no probe says so (issue 13.4): the seed's answer stays
200 and ``healthy`` (nothing failed), but ``services`` no longer reads as "every dependency
checked and fine" when none is checked. Failed on 0047b42 (``services`` was ``{}``)."""

from __future__ import annotations

from pathlib import Path

import httpx

from obsview.backend.agent import Agent
from obsview.backend.config import AgentConfig
from obsview.backend.signals.health import ProbeSpec


async def get_health(config: AgentConfig) -> httpx.Response:
    async with Agent(config) as agent:
        base = agent.url.replace("ws://", "http://")
        async with httpx.AsyncClient(base_url=base, timeout=5) as http:
            return await http.get("/api/health")


async def test_no_probes_answers_200_and_says_no_probes_in_services(tmp_path: Path) -> None:
    config = AgentConfig(listen=("127.0.0.1", 0), state_dir=tmp_path / "state", rules=[])
    health = await get_health(config)
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "healthy"  # the seed's: nothing failed
    assert body["services"] == {"probes": {
        "status": "no probes", "detail": "no [[probes]] configured: no dependency is checked"}}


async def test_with_a_probe_services_lists_only_the_probes(tmp_path: Path) -> None:
    config = AgentConfig(listen=("127.0.0.1", 0), state_dir=tmp_path / "state", rules=[],
                         probes=[ProbeSpec(name="memory", kind="memory", warn_percent=100.0,
                                           fail_percent=100.0)])
    body = (await get_health(config)).json()
    assert list(body["services"]) == ["memory"]

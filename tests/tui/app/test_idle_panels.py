"""An idle console does no work for figures that did not change (issue 11: 1.6 % of a core,
against ≤ 1 %). The panels get the agent's figures every tick; each ``Static.update`` relaid
out the whole screen and each severity class removed and added again restyled its widget,
whatever the value — for "0.0 req/s" again. A real agent, ticking 20 times a second."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from app_test_support import screen_text, wait_until
from textual.widgets import Static

from obsview.backend.agent import Agent
from obsview.backend.config import AgentConfig
from obsview.tui.app import ObsviewApp
from obsview.tui.widgets.latency import LatencyPanel
from obsview.tui.widgets.rate_chart import RateChart


async def test_ticks_of_an_idle_agent_neither_relayout_nor_restyle_the_panels(tmp_path: Path, monkeypatch: Any) -> None:
    config = AgentConfig(listen=("127.0.0.1", 0), state_dir=tmp_path / "state", rules=[],
                         metrics_interval_s=0.05)
    async with Agent(config) as agent:
        app = ObsviewApp(url=agent.url)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, lambda: "0.0 req/s" in screen_text(app))
            await asyncio.sleep(0.3)  # the first ticks may still change a label (a subtitle)
            panels = [app.dashboard.query_one(RateChart), app.dashboard.query_one(LatencyPanel)]  # type: ignore[attr-defined]
            watched = {id(widget) for panel in panels for widget in panel.query("*")}
            touched: list[str] = []
            update, remove_class = Static.update, Static.remove_class

            def counted_update(self: Static, *args: Any, **kwargs: Any) -> None:
                if id(self) in watched:
                    touched.append(f"update {self.id}")
                update(self, *args, **kwargs)

            def counted_remove_class(self: Static, *names: str, **kwargs: Any) -> Static:
                if id(self) in watched:
                    touched.append(f"classes {self.id}")
                return remove_class(self, *names, **kwargs)

            monkeypatch.setattr(Static, "update", counted_update)
            monkeypatch.setattr(Static, "remove_class", counted_remove_class)
            before = app.dashboard.state.metrics  # type: ignore[attr-defined]
            await asyncio.sleep(1.0)  # ~20 ticks, every one the same figures
            assert app.dashboard.state.metrics is not before, "the figures kept coming"  # type: ignore[attr-defined]
            assert touched == []

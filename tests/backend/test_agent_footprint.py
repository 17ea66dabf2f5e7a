"""An agent loads what its configuration uses: an idle agent on a file was 49 MiB resident
against issue 11's 35, ~10 MiB of it libraries it never called (httpx with its CLI's click
and rich, protobuf and the OTLP schemas, prometheus_client)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

#: Started and stopped in a fresh interpreter (this one has imported everything already).
AGENT_RUN = """
import asyncio, sys
from pathlib import Path
from obsview.backend.agent import Agent
from obsview.backend.config import AgentConfig

async def main(state: Path, otlp: bool) -> None:
    log = state / "app.log"
    log.touch()
    config = AgentConfig(listen=("127.0.0.1", 0), state_dir=state, tail=[str(log)],
                         otlp=[("127.0.0.1", 0)] if otlp else [])
    async with Agent(config):
        await asyncio.sleep(0.3)

asyncio.run(main(Path(sys.argv[1]), sys.argv[2] == "otlp"))
print(" ".join(sorted(sys.modules)))
"""
ON_DEMAND = ("httpx", "aiosmtplib", "google.protobuf", "prometheus_client")


def loaded_by_an_agent(tmp_path: Path, otlp: bool) -> set[str]:
    done = subprocess.run([sys.executable, "-c", AGENT_RUN, str(tmp_path), "otlp" if otlp else "file"],
                          capture_output=True, text=True, timeout=60, check=True)
    return set(done.stdout.split())


@pytest.mark.timeout(90)
def test_an_agent_on_a_file_loads_no_http_or_smtp_client_no_protobuf_no_prometheus(tmp_path: Path) -> None:
    loaded = loaded_by_an_agent(tmp_path, otlp=False)
    assert not loaded & set(ON_DEMAND)


@pytest.mark.timeout(90)
def test_an_agent_receiving_otlp_loads_protobuf(tmp_path: Path) -> None:
    assert "google.protobuf" in loaded_by_an_agent(tmp_path, otlp=True)

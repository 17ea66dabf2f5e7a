"""A real Alertmanager (Debian's ``prometheus-alertmanager``) on a loopback port.

Started with a temporary config and storage directory, clustering off (it would bind
0.0.0.0:9094), on port 0; its log line ``Listening on address=…`` says which port it got.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from server_process import ServerProcess

START_TIMEOUT_S = 20.0
_LISTENING = re.compile(rb'msg="Listening on" address=(127\.0\.0\.1:\d+)')
CONFIG = """\
global:
  resolve_timeout: {resolve_timeout}
route:
  receiver: "null"
receivers:
  - name: "null"
"""


class RealAlertmanager(ServerProcess):
    def __init__(self, binary: str, amtool: str, workdir: Path, resolve_timeout: str) -> None:
        super().__init__()
        self.binary, self.amtool_path, self.workdir = binary, amtool, workdir
        self.resolve_timeout = resolve_timeout
        self.url = ""

    async def start(self) -> None:
        config = self.workdir / "alertmanager.yml"
        config.write_text(CONFIG.format(resolve_timeout=self.resolve_timeout), encoding="utf-8")
        argv = [self.binary, f"--config.file={config}", f"--storage.path={self.workdir / 'data'}",
                "--web.listen-address=127.0.0.1:0", "--cluster.listen-address="]
        async with asyncio.timeout(START_TIMEOUT_S):
            listening = await self.launch(argv, _LISTENING, START_TIMEOUT_S)
            self.url = f"http://{listening.group(1).decode()}"
            async with httpx.AsyncClient() as client:
                while (await client.get(f"{self.url}/-/ready")).status_code != 200:
                    await asyncio.sleep(0.05)

    async def amtool(self, *args: str) -> Any:
        """``amtool … -o json`` against this Alertmanager, parsed."""
        process = await asyncio.create_subprocess_exec(
            self.amtool_path, *args, "-o", "json", f"--alertmanager.url={self.url}",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), 10)
        assert process.returncode == 0, err.decode(errors="replace")
        return json.loads(out or b"[]")

    async def wait_for(self, args: tuple[str, ...], condition: Callable[[Any], bool], *,
                       timeout: float = 15.0, what: str) -> Any:
        """Run amtool until its answer satisfies ``condition``; fail naming ``what``."""
        answer: Any = None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while not condition(answer := await self.amtool(*args)):
                    await asyncio.sleep(0.1)
                return answer
        raise AssertionError(f"timed out after {timeout:g} s waiting for {what}; amtool said {answer!r}")

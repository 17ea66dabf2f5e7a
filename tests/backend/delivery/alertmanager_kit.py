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


class RealAlertmanager:
    def __init__(self, binary: str, amtool: str, workdir: Path, resolve_timeout: str) -> None:
        self.binary, self.amtool_path, self.workdir = binary, amtool, workdir
        self.resolve_timeout = resolve_timeout
        self.url = ""
        self.log: list[bytes] = []
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        config = self.workdir / "alertmanager.yml"
        config.write_text(CONFIG.format(resolve_timeout=self.resolve_timeout), encoding="utf-8")
        self._process = await asyncio.create_subprocess_exec(
            self.binary, f"--config.file={config}", f"--storage.path={self.workdir / 'data'}",
            "--web.listen-address=127.0.0.1:0", "--cluster.listen-address=",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )
        listening: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read_log(listening))
        async with asyncio.timeout(START_TIMEOUT_S):
            self.url = f"http://{await listening}"
            async with httpx.AsyncClient() as client:
                while (await client.get(f"{self.url}/-/ready")).status_code != 200:
                    await asyncio.sleep(0.05)

    async def _read_log(self, listening: asyncio.Future[str]) -> None:
        assert self._process is not None and self._process.stderr is not None
        # Read to the end, so a chatty Alertmanager never blocks on a full pipe.
        while line := await self._process.stderr.readline():
            self.log.append(line)
            if not listening.done() and (match := _LISTENING.search(line)):
                listening.set_result(match.group(1).decode())
        if not listening.done():
            listening.set_exception(RuntimeError(b"".join(self.log).decode(errors="replace")))

    async def stop(self) -> None:
        if self._process is not None and self._process.returncode is None:
            self._process.terminate()
            try:
                await asyncio.wait_for(self._process.wait(), 10)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()
        if self._reader is not None:
            await self._reader

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

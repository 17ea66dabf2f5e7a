"""A server program a test starts (sshd, Alertmanager): started once its log says it listens,
its log read to the end (so it never blocks on a full pipe) and kept for failure messages."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence

STOP_TIMEOUT_S = 10.0


class ServerProcess:
    def __init__(self) -> None:
        self.log: list[bytes] = []
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    async def launch(self, argv: Sequence[str], ready: re.Pattern[bytes], timeout: float) -> re.Match[bytes]:
        """Start ``argv``; return the match of ``ready`` in the first log line that has it."""
        self._process = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        started: asyncio.Future[re.Match[bytes]] = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read_log(ready, started))
        async with asyncio.timeout(timeout):
            return await started

    async def _read_log(self, ready: re.Pattern[bytes], started: asyncio.Future[re.Match[bytes]]) -> None:
        assert self._process is not None and self._process.stderr is not None
        while line := await self._process.stderr.readline():
            self.log.append(line)
            if not started.done() and (match := ready.search(line)):
                started.set_result(match)
        if not started.done():
            started.set_exception(RuntimeError("did not start: " + self.log_text()))

    def log_text(self) -> str:
        return b"".join(self.log).decode(errors="replace")

    async def stop(self) -> None:
        if self._process is not None and self._process.returncode is None:
            self._process.terminate()
            try:
                await asyncio.wait_for(self._process.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()
        if self._reader is not None:
            await self._reader

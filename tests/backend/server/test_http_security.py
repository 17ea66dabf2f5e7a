"""HTTP endpoints and the checks that run before any data: token (401), Origin (403)."""

from __future__ import annotations

import httpx
import pytest
from server_testkit import TableView, recv_message, running
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from obsview.backend.serving.server import StreamServer
from obsview.common.protocol import Hello

TOKEN = "s3cret-token-value"


def http_url(server: StreamServer, path: str) -> str:
    return server.url.replace("ws://", "http://") + path


async def test_http_get_endpoint_404_and_405() -> None:
    async with running(StreamServer(TableView(), ("127.0.0.1", 0), token=None)) as server:
        async with httpx.AsyncClient(timeout=5) as http:
            health = await http.get(http_url(server, "/api/health?verbose=1"))
            missing = await http.get(http_url(server, "/nope"))
            post = await http.post(http_url(server, "/api/health"))
    assert health.status_code == 200
    assert health.headers["content-type"] == "application/json"
    assert health.json() == {"status": "healthy"}
    assert missing.status_code == 404
    assert post.status_code == 405


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}", TOKEN])
async def test_websocket_without_the_right_token_gets_401_and_no_data(header: str | None) -> None:
    async with running(StreamServer(TableView(), ("127.0.0.1", 0), token=TOKEN)) as server:
        headers = {"Authorization": header} if header else None
        with pytest.raises(InvalidStatus) as caught:
            async with connect(server.url, additional_headers=headers):
                pass
    assert caught.value.response.status_code == 401
    assert b"healthy" not in caught.value.response.body


async def test_http_without_the_right_token_gets_401() -> None:
    async with running(StreamServer(TableView(), ("127.0.0.1", 0), token=TOKEN)) as server:
        async with httpx.AsyncClient(timeout=5) as http:
            denied = await http.get(http_url(server, "/api/health"))
            allowed = await http.get(
                http_url(server, "/api/health"), headers={"Authorization": f"Bearer {TOKEN}"}
            )
    assert denied.status_code == 401
    assert "healthy" not in denied.text
    assert allowed.status_code == 200


async def test_right_token_is_accepted() -> None:
    async with running(StreamServer(TableView(), ("127.0.0.1", 0), token=TOKEN)) as server:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with connect(server.url, additional_headers=headers) as ws:
            assert isinstance(await recv_message(ws), Hello)


@pytest.mark.parametrize(
    "origin", ["http://evil.example", "http://127.0.0.1:1", "null", "http://localhost.evil.example"]
)
async def test_bad_origin_gets_403(origin: str) -> None:
    async with running(StreamServer(TableView(), ("127.0.0.1", 0), token=None)) as server:
        with pytest.raises(InvalidStatus) as caught:
            async with connect(server.url, origin=origin):  # type: ignore[arg-type]
                pass
    assert caught.value.response.status_code == 403


async def test_allowed_and_same_host_origins_connect() -> None:
    server = StreamServer(
        TableView(), ("127.0.0.1", 0), token=None, allowed_origins=["https://console.example"]
    )
    async with running(server):
        for origin in ("https://console.example", f"http://127.0.0.1:{server.port}", f"http://localhost:{server.port}"):
            async with connect(server.url, origin=origin) as ws:  # type: ignore[arg-type]
                assert isinstance(await recv_message(ws), Hello)


async def test_ipv6_loopback_listen() -> None:
    async with running(StreamServer(TableView(), ("::1", 0), token=None)) as server:
        assert server.url.startswith("ws://[::1]:")
        async with connect(server.url) as ws:
            assert isinstance(await recv_message(ws), Hello)

"""What the ARI client sends for a playback of several media (Asterisk keeps only the last repeated `media`)."""

from __future__ import annotations

import pytest

from ivr.ari.client import AriClient, AriConfig
from tests.unit.fake_http_server import FakeServer, reply


async def test_several_media_go_as_one_comma_separated_parameter() -> None:
    async with FakeServer(lambda _r: (reply(201), False)) as server:
        client = AriClient(AriConfig(server.url, "u", "p", "hotline"))
        await client.play("chan-1", "pb-1", ["sound:/var/lib/hotline/sounds/tts/abc", "digits:1234"])
        with pytest.raises(ValueError, match="comma"):
            await client.play("chan-1", "pb-2", ["sound:a,b"])
        await client.aclose()
    [request] = server.requests
    assert request.method == "POST"
    assert request.path == "/ari/channels/chan-1/play/pb-1"
    assert request.query["media"] == ["sound:/var/lib/hotline/sounds/tts/abc,digits:1234"]
    assert request.query["lang"] == ["fr"]

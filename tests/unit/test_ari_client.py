"""What the ARI client sends for a playback of several media (Asterisk keeps only the last repeated `media`)."""

from __future__ import annotations

import httpx
import pytest

from ivr.ari.client import AriClient, AriConfig


async def test_several_media_go_as_one_comma_separated_parameter() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={})

    config = AriConfig("http://127.0.0.1:1/ari", "u", "p", "hotline")
    http = httpx.AsyncClient(base_url=config.base_url, transport=httpx.MockTransport(handler))
    client = AriClient(config, http)
    await client.play("chan-1", "pb-1", ["sound:/var/lib/hotline/sounds/tts/abc", "digits:1234"])
    with pytest.raises(ValueError, match="comma"):
        await client.play("chan-1", "pb-2", ["sound:a,b"])
    await client.aclose()
    [request] = seen
    assert request.url.params.get_list("media") == ["sound:/var/lib/hotline/sounds/tts/abc,digits:1234"]
    assert request.url.params["lang"] == "fr"

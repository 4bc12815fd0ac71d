"""The callers' messages as the web asks for them: read from Asterisk's stored recordings over ARI."""

from __future__ import annotations

from hotline.services.messages import RecordingNotFoundError
from ivr.ari.client import AriClient, AriError


class AriRecordings:
    def __init__(self, client: AriClient) -> None:
        self._client = client

    async def fetch(self, name: str) -> bytes:
        try:
            return await self._client.stored_recording(name)
        except AriError as exc:
            if exc.status == 404:
                raise RecordingNotFoundError(name) from exc
            raise

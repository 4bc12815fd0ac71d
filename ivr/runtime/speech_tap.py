"""Brings one caller's voice to their CallListener through Asterisk.

A snoop channel (spy=in) carries what the caller says, also while a prompt plays to them (barge-in needs
that; a channel playing a file in a bridge would be cut off from it). An externalMedia channel sends the
bridge's audio to this process as RTP. Both enter Stasis; each is bridged only once its StasisStart has
arrived (earlier, Asterisk may answer 422 "Channel not in Stasis application").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from ivr.runtime.rtp import RtpReceiver
from ivr.speech.listener import CallListener

log = logging.getLogger(__name__)

SNOOP_SUFFIX = "-ear"  # the snoop channel: <caller channel id>-ear
MEDIA_SUFFIX = "-rtp"  # the externalMedia channel
BRIDGE_SUFFIX = "-speech"
MEDIA_SUFFIXES = (SNOOP_SUFFIX, MEDIA_SUFFIX)
MEDIA_READY_TIMEOUT_S = 5.0  # both channels are in Stasis in tens of ms; past this, the call goes on with keys


def is_media_channel(channel_id: str) -> bool:
    return channel_id.endswith(MEDIA_SUFFIXES)


class SpeechControl(Protocol):
    async def external_media(
        self, channel_id: str, app: str, external_host: str, audio_format: str = "ulaw"
    ) -> None: ...
    async def snoop(self, channel_id: str, snoop_id: str, app: str, spy: str = "in") -> None: ...
    async def create_bridge(self, bridge_id: str, bridge_type: str = "mixing") -> None: ...
    async def add_channel(self, bridge_id: str, channel_id: str) -> None: ...
    async def destroy_bridge(self, bridge_id: str) -> None: ...
    async def hangup(self, channel_id: str, reason: str = "normal") -> None: ...


class MediaChannels:
    """StasisStart of the media channels, awaited by the tap that created them."""

    def __init__(self) -> None:
        self._waiting: dict[str, asyncio.Future[None]] = {}

    def expect(self, channel_id: str) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[channel_id] = future
        return future

    def started(self, channel_id: str) -> None:
        future = self._waiting.pop(channel_id, None)
        if future is not None and not future.done():
            future.set_result(None)

    def forget(self, channel_id: str) -> None:
        future = self._waiting.pop(channel_id, None)
        if future is not None and not future.done():
            future.cancel()


class SpeechTap:
    def __init__(
        self,
        channel_id: str,
        app: str,
        control: SpeechControl,
        channels: MediaChannels,
        listener: CallListener,
        receiver: RtpReceiver | None = None,
    ) -> None:
        self.channel_id = channel_id
        self.app = app
        self.control = control
        self.channels = channels
        self.listener = listener
        self.receiver = receiver or RtpReceiver(listener.push_ulaw)
        self.snoop_id = channel_id + SNOOP_SUFFIX
        self.media_id = channel_id + MEDIA_SUFFIX
        self.bridge_id = channel_id + BRIDGE_SUFFIX
        self._created: list[str] = []
        self._bridged = False

    async def open(self) -> None:
        """Raises if the caller's voice cannot be brought in; `close` is still to be called."""
        await self.receiver.open()
        self.listener.start()
        media_ready = self.channels.expect(self.media_id)  # registered before the request: events can win
        snoop_ready = self.channels.expect(self.snoop_id)
        await self.control.external_media(self.media_id, self.app, self.receiver.address)
        self._created.append(self.media_id)
        await self.control.snoop(self.channel_id, self.snoop_id, self.app)
        self._created.append(self.snoop_id)
        async with asyncio.timeout(MEDIA_READY_TIMEOUT_S):
            await asyncio.gather(media_ready, snoop_ready)
        await self.control.create_bridge(self.bridge_id)
        self._bridged = True
        await self.control.add_channel(self.bridge_id, f"{self.snoop_id},{self.media_id}")

    async def close(self) -> None:
        """Tear down what `open` made; every step is tried (the caller's hangup may have taken some already)."""
        for channel_id in (self.media_id, self.snoop_id):
            self.channels.forget(channel_id)
        if self._bridged:
            with contextlib.suppress(Exception):
                await self.control.destroy_bridge(self.bridge_id)
        for channel_id in self._created:
            with contextlib.suppress(Exception):
                await self.control.hangup(channel_id)
        self.receiver.close()
        self.listener.close()

"""An in-process ARI fake: records the requests a call makes and lets a test push ARI events."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class FakeAri:
    requests: list[tuple[str, ...]] = field(default_factory=list)
    held: set[str] = field(default_factory=set)  # channels held by the app
    playing: dict[str, str] = field(default_factory=dict)  # ARI playback id -> channel id
    stopped: dict[str, str] = field(default_factory=dict)  # stopped, their PlaybackFinished still to come
    variables: dict[tuple[str, str], str] = field(default_factory=dict)  # (channel id, name) -> value
    bridge_members: dict[str, list[str]] = field(default_factory=dict)
    fail_play: bool = False

    async def answer(self, channel_id: str) -> None:
        self.requests.append(("answer", channel_id))

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        self.requests.append(("hangup", channel_id))
        self.held.discard(channel_id)

    async def play(self, channel_id: str, playback_id: str, media: Sequence[str], lang: str = "fr") -> None:
        self.requests.append(("play", channel_id, playback_id, *media))
        if self.fail_play:
            raise RuntimeError("ARI play failed")
        self.playing[playback_id] = channel_id

    async def stop_playback(self, playback_id: str) -> None:
        self.requests.append(("stop", playback_id))
        if playback_id in self.playing:  # as in Asterisk: a stopped playback is gone; its PlaybackFinished follows
            self.stopped[playback_id] = self.playing.pop(playback_id)

    async def set_variable(self, channel_id: str, name: str, value: str) -> None:
        self.variables[(channel_id, name)] = value

    async def get_variable(self, channel_id: str, name: str) -> str | None:
        return self.variables.get((channel_id, name))

    async def playback(self, playback_id: str) -> dict[str, Any] | None:
        return {"id": playback_id} if playback_id in self.playing else None

    async def continue_in_dialplan(
        self, channel_id: str, context: str, extension: str = "s", priority: int = 1
    ) -> None:
        self.requests.append(("continue", channel_id, context))
        self.held.discard(channel_id)

    async def application(self) -> dict[str, Any]:
        return {"channel_ids": sorted(self.held)}

    async def channels(self) -> list[dict[str, Any]]:
        return [{"id": channel_id, "state": "Up"} for channel_id in sorted(self.held)]

    async def bridges(self) -> list[dict[str, Any]]:
        return [{"id": bridge_id, "channels": list(members)} for bridge_id, members in self.bridge_members.items()]

    async def destroy_bridge(self, bridge_id: str) -> None:
        self.requests.append(("destroyBridge", bridge_id))
        self.bridge_members.pop(bridge_id, None)

    # --- what Asterisk would send
    def stasis_start(self, channel_id: str, caller: str = "0612345678", exten: str = "0800123456") -> dict[str, Any]:
        self.held.add(channel_id)
        return {
            "type": "StasisStart",
            "channel": {"id": channel_id, "caller": {"number": caller}, "dialplan": {"exten": exten}},
        }

    def finish(self, playback_id: str) -> dict[str, Any]:
        channel_id = self.playing.pop(playback_id, None) or self.stopped.pop(playback_id)
        return {"type": "PlaybackFinished", "playback": {"id": playback_id, "target_uri": f"channel:{channel_id}"}}

    def last_playback(self, channel_id: str) -> str:
        plays = [r for r in self.requests if r[0] == "play" and r[1] == channel_id]
        return plays[-1][2]

    def plays(self, channel_id: str) -> list[tuple[str, ...]]:
        return [r[3:] for r in self.requests if r[0] == "play" and r[1] == channel_id]


def dtmf(channel_id: str, digit: str) -> dict[str, Any]:
    return {"type": "ChannelDtmfReceived", "digit": digit, "channel": {"id": channel_id}}


def stasis_end(channel_id: str) -> dict[str, Any]:
    return {"type": "StasisEnd", "channel": {"id": channel_id}}


@dataclass
class FakeSpeechAri(FakeAri):
    """FakeAri plus what a speech tap asks: externalMedia, snoop, bridges."""

    external_hosts: dict[str, str] = field(default_factory=dict)  # externalMedia channel -> host:port
    fail_external_media: bool = False

    async def external_media(self, channel_id: str, app: str, external_host: str, audio_format: str = "ulaw") -> None:
        self.requests.append(("externalMedia", channel_id, external_host, audio_format))
        if self.fail_external_media:
            raise RuntimeError("ARI externalMedia failed")
        self.external_hosts[channel_id] = external_host
        self.held.add(channel_id)

    async def snoop(self, channel_id: str, snoop_id: str, app: str, spy: str = "in") -> None:
        self.requests.append(("snoop", channel_id, snoop_id, spy))
        self.held.add(snoop_id)

    async def create_bridge(self, bridge_id: str, bridge_type: str = "mixing") -> None:
        self.requests.append(("bridge", bridge_id, bridge_type))
        self.bridge_members[bridge_id] = []

    async def add_channel(self, bridge_id: str, channel_id: str) -> None:
        self.requests.append(("addChannel", bridge_id, channel_id))
        self.bridge_members[bridge_id].extend(channel_id.split(","))

    def media_started(self, channel_id: str) -> dict[str, Any]:
        return {"type": "StasisStart", "channel": {"id": channel_id, "caller": {"number": ""}, "dialplan": {}}}

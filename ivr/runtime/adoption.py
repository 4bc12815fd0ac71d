"""What a previous run of the app left behind (it was killed, or crashed), taken over by the next one.

How Asterisk 22 behaves when the app's events socket dies, found by experiment (kill -9 of the app during
a call; the e2e test tests/e2e/test_crash.py replays it):
- The app's channels stay in Stasis, answered, for as long as the caller stays: callers and the speech taps'
  snoop and externalMedia channels alike; their bridges stay too. `GET /applications/{app}` still lists the
  channels (not the bridges made over REST), and once an app of the same name connects again, their events
  go to its socket (no new StasisStart).
- The prompt that was playing plays to its end, the playbacks queued behind it play after it; then silence.
- A new playback, music on hold or a `continue` waits in the channel's queue behind those: only
  `DELETE /playbacks/{id}` cuts one at once, and ARI lists no channel's playbacks, so each call keeps the id
  of its latest playback in a channel variable (ivr.runtime.session.PLAYBACK_VARIABLE).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from hotline.domain.enums import CallOutcome
from ivr.runtime.session import PLAYBACK_VARIABLE
from ivr.runtime.speech_tap import BRIDGE_SUFFIX, is_media_channel
from ivr.runtime.store import CallStore, OpenCall

log = logging.getLogger(__name__)

# Reading what the previous process left; past this the held callers go to the dialplan fallback.
DATABASE_TIMEOUT_S = 5.0
# Leftover media channels are gone within milliseconds of their hangup; a resumed call does not wait longer
# before opening its own speech tap (the same channel ids).
MEDIA_GONE_TIMEOUT_S = 1.0
MEDIA_GONE_POLL_S = 0.05
# A stopped playback's last frames still reach the caller for a moment: the apology waits until it is gone, or
# its first syllable comes mixed with the end of the old prompt.
LEFT_PLAYBACK_GONE_TIMEOUT_S = 0.5


class LeftoverControl(Protocol):
    """The ARI requests that clear what a previous process left."""

    async def application(self) -> dict[str, Any]: ...
    async def bridges(self) -> list[dict[str, Any]]: ...
    async def destroy_bridge(self, bridge_id: str) -> None: ...
    async def hangup(self, channel_id: str, reason: str = "normal") -> None: ...
    async def get_variable(self, channel_id: str, name: str) -> str | None: ...
    async def stop_playback(self, playback_id: str) -> None: ...
    async def playback(self, playback_id: str) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class Closing:
    outcome: CallOutcome
    faq_id: str | None
    ended_at: datetime


def closing_of(call: OpenCall) -> Closing:
    """How a call that ended while the app was down is closed: abandoned unless its timeline shows plainly
    that it got further, ended at its last known step (Asterisk keeps nothing of a channel that is gone)."""
    outcome = CallOutcome.ABANDONED
    faq_id: str | None = None
    for step in call.timeline:
        if step.kind == "faq_answered" and isinstance(step.data.get("faq_id"), str):
            faq_id = step.data["faq_id"]
        elif step.kind == "ticket_created":
            outcome = CallOutcome.CALLBACK_REQUESTED  # a person calls back: that request stands
        elif step.kind == "confirm" and step.data.get("helped") == 1 and outcome is CallOutcome.ABANDONED:
            outcome = CallOutcome.SELF_SERVED  # the caller said the answer helped
    ended_at = call.timeline[-1].at if call.timeline else call.started_at
    return Closing(outcome, faq_id, ended_at)


def faq_of(call: OpenCall) -> str | None:
    return closing_of(call).faq_id


async def close_left_calls(store: CallStore, calls: Iterable[OpenCall]) -> list[str]:
    """Close the rows of calls that ended while the app was down; each gets its ticket. Returns the dossiers."""
    dossiers: list[str] = []
    for call in calls:
        closing = closing_of(call)
        try:
            data = {"outcome": closing.outcome.value, "ended_at": closing.ended_at.isoformat()}
            await asyncio.to_thread(store.record_event, call.call_id, "closed_after_restart", data)
            dossier = await asyncio.to_thread(
                store.finish_call, call.call_id, closing.outcome, closing.faq_id, None, closing.ended_at
            )
        except Exception:
            log.exception("call %s (%s) left open by a previous run could not be closed", call.call_id, call.channel_id)
            continue
        log.info(
            "call %s ended while the app was down: closed %s, dossier %s", call.channel_id, closing.outcome, dossier
        )
        dossiers.append(dossier)
    return dossiers


async def clear_left_media(control: LeftoverControl, held: Iterable[str]) -> None:
    """Hang up the speech taps' channels and destroy their bridges; a resumed call opens its own."""
    media = [channel_id for channel_id in held if is_media_channel(channel_id)]
    for channel_id in media:
        with contextlib.suppress(Exception):
            await control.hangup(channel_id)
    for bridge in await control.bridges():
        bridge_id = str(bridge.get("id", ""))
        if bridge_id.endswith(BRIDGE_SUFFIX):
            with contextlib.suppress(Exception):
                await control.destroy_bridge(bridge_id)
    if media:
        log.info("hung up %d speech channel(s) a previous run left", len(media))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + MEDIA_GONE_TIMEOUT_S
    while media and loop.time() < deadline:
        left = set((await control.application()).get("channel_ids", []))
        media = [channel_id for channel_id in media if channel_id in left]
        if media:
            await asyncio.sleep(MEDIA_GONE_POLL_S)


async def stop_left_playback(control: LeftoverControl, channel_id: str) -> None:
    """Cut the prompt the previous process left playing: the resumed call's apology would wait behind it."""
    try:
        playing = await control.get_variable(channel_id, PLAYBACK_VARIABLE)
        if playing:
            await control.stop_playback(playing)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + LEFT_PLAYBACK_GONE_TIMEOUT_S
            while loop.time() < deadline and await control.playback(playing) is not None:
                await asyncio.sleep(MEDIA_GONE_POLL_S)
        log.info("call %s: resumed; the prompt left playing (%s) stopped", channel_id, playing)
    except Exception:
        log.warning("call %s: could not stop the prompt a previous run left playing", channel_id, exc_info=True)

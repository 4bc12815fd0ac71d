"""The Stasis application: one CallSession per caller channel, ARI events dispatched to them, and the
events socket kept alive (reconnect with backoff, then resync: calls stay in Stasis while it is down).

On its first connection the app adopts what a previous process left (see ivr.runtime.adoption): callers
still in Stasis are resumed at the menu after an apology, rows of calls that ended meanwhile are closed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

from hotline.domain.enums import QueueEntryState
from hotline.storage.models import QueueEntry, utc_now
from ivr.ari.client import AriConfig, AriEvent, run_events
from ivr.flow import events as ev
from ivr.runtime import adoption
from ivr.runtime.acd import Acd, is_agent_leg
from ivr.runtime.session import CallControl, CallSession, Flow, MediaResolver, SpeechFactory
from ivr.runtime.speech_tap import MediaChannels, is_media_channel
from ivr.runtime.store import CallStore, OpenCall
from ivr.runtime.timeline import StepObserver, TimelineWriter

log = logging.getLogger(__name__)

FALLBACK_CONTEXT = "hotline-fallback"  # in extensions.conf: apology, queue of agents' phones, message


class AppControl(CallControl, adoption.LeftoverControl, Protocol):
    """CallControl plus what the app itself asks of ARI."""

    async def application(self) -> dict[str, Any]: ...
    async def channels(self) -> list[dict[str, Any]]: ...
    async def continue_in_dialplan(
        self, channel_id: str, context: str, extension: str = "s", priority: int = 1
    ) -> None: ...


class IvrApp:
    def __init__(
        self,
        config: AriConfig,
        control: AppControl,
        media: MediaResolver,
        store: CallStore,
        flow_factory: Callable[[], Flow],
        speech_factory: SpeechFactory | None = None,
        acd: Acd | None = None,
        step_observer: StepObserver | None = None,
    ) -> None:
        self.config = config
        self.acd = acd
        self.control = control
        self.media = media
        self.store = store
        self.flow_factory = flow_factory
        self.speech_factory = speech_factory
        self.media_channels = MediaChannels()  # the speech taps' snoop and externalMedia channels
        self.sessions: dict[str, CallSession] = {}
        self.timeline = TimelineWriter(store, step_observer)  # one writer for every call's steps
        self.connected = False
        self.reconnections = 0
        self.on_connected_hooks: list[Callable[[], Awaitable[None]]] = []  # e.g. import fallback calls
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        """Forever: keep the events socket up and dispatch."""
        await run_events(self.config, self.handle, self.on_connected, self.on_disconnected)

    # --- socket life
    async def on_connected(self) -> None:
        # Before any event is handled: the adopted calls' sessions must be there to receive theirs.
        if self.reconnections or self.sessions:
            await self.resync()
        else:
            await self.adopt()
        self.connected = True
        self.reconnections += 1
        log.info("ARI events socket connected (app %s)", self.config.app)
        for hook in self.on_connected_hooks:
            try:
                await hook()
            except Exception:
                log.exception("on-connect hook failed")

    async def on_disconnected(self) -> None:
        self.connected = False

    async def resync(self) -> None:
        """After a gap: calls that ended meanwhile are closed; the others learn what they missed."""
        held = set((await self.control.application()).get("channel_ids", []))
        for channel_id, session in list(self.sessions.items()):
            if channel_id not in held:
                session.caller_hung_up()
            else:
                await session.resync()

    async def adopt(self) -> None:
        """The first connection of this process: take over the calls a previous one left in Stasis, clear its
        speech channels, and close the rows of its calls that ended while no app was there."""
        since = utc_now()  # rows started before this belong to a previous process
        held = set((await self.control.application()).get("channel_ids", []))
        try:
            left = await asyncio.wait_for(asyncio.to_thread(self.store.open_calls, since), adoption.DATABASE_TIMEOUT_S)
        except Exception:
            log.exception("could not read the calls a previous run left; held callers go to the fallback")
            left = None
        await adoption.clear_left_media(self.control, held)
        callers = sorted(c for c in held if not is_media_channel(c) and not is_agent_leg(c))
        rows = {call.channel_id: call for call in left or []}
        details = {str(c.get("id")): c for c in await self.control.channels()} if callers else {}
        queued = await self._open_queue_entries() if left is not None else {}
        legs = sorted(c for c in held if is_agent_leg(c))
        for channel_id in callers:
            if left is None:
                self._spawn(self._to_fallback(channel_id), f"fallback-{channel_id}")
                continue
            channel = details.get(channel_id, {"id": channel_id})
            session = self._new_session(channel)
            row = rows.get(channel_id)
            entry = queued.get(channel_id)
            if entry is not None and row is not None:
                resumed = self._resume_queued(session, row, entry, legs)
                self._spawn(self._run_session(session, resumed), f"resume-queued-{channel_id}")
                continue
            self._spawn(self._run_session(session, self._resume(session, channel, row)), f"resume-{channel_id}")
        if self.acd is not None and left is not None:
            await self.acd.adoption_done(queued, held)
        if callers:
            log.info("adopted %d call(s) a previous run left in Stasis", len(callers))
        gone = [call for call in left or [] if call.channel_id not in held]
        if gone:
            self._spawn(self._close_left(gone), "close-left-calls")

    async def _resume(self, session: CallSession, channel: dict[str, Any], row: OpenCall | None) -> None:
        await adoption.stop_left_playback(self.control, session.channel_id)
        if channel.get("state") not in (None, "Up"):
            await self.control.answer(session.channel_id)  # the previous process died before answering it
        if row is None:  # it died before writing the call's row
            call_id = await asyncio.to_thread(self.store.start_call, session.channel_id, session.caller, session.called)
        else:
            call_id = row.call_id
            session.faq_id = adoption.faq_of(row)
        await session.resume(call_id)

    async def _open_queue_entries(self) -> dict[str, QueueEntry]:
        if self.acd is None:
            return {}
        try:
            return await asyncio.wait_for(self.acd.open_entries(), adoption.DATABASE_TIMEOUT_S)
        except Exception:
            log.exception("could not read the queue a previous run left; its callers resume at the menu")
            return {}

    async def _resume_queued(self, session: CallSession, row: OpenCall, entry: QueueEntry, legs: list[str]) -> None:
        """A caller the previous run left in the queue or talking with an agent: carried on, nothing said."""
        assert self.acd is not None
        session.faq_id = entry.faq_id
        await adoption.stop_left_playback(self.control, session.channel_id)  # it would hold the caller in place
        if entry.state is QueueEntryState.ANSWERED:
            await self.acd.adopt_conversation(session, entry, legs)
            await session.resume(row.call_id, ev.ConversationResumed(entry.faq_id), listen=False)
        else:
            await self.acd.adopt_waiting(session, entry, legs)
            await session.resume(
                row.call_id, ev.QueueResumed(entry.reason or "caller_asked", entry.faq_id), listen=False
            )

    async def _close_left(self, calls: list[OpenCall]) -> None:
        await adoption.close_left_calls(self.store, calls)

    # --- events
    async def handle(self, event: AriEvent) -> None:
        kind = event.get("type")
        channel = event.get("channel") or {}
        if self.acd is not None and is_agent_leg(str(channel.get("id", ""))):
            await self._agent_leg_event(str(kind), str(channel.get("id")), event)
            return
        if kind == "StasisStart":
            await self._stasis_start(event)
            return
        session = self.sessions.get(channel.get("id", ""))
        if kind == "ChannelDtmfReceived" and session:
            session.feed(ev.DtmfReceived(str(event.get("digit", ""))))
        elif kind in ("RecordingFinished", "RecordingFailed"):
            recording = event.get("recording") or {}
            owner = self.sessions.get(str(recording.get("target_uri", "")).removeprefix("channel:"))
            if owner:
                seconds = float(recording.get("duration") or 0)
                owner.recording_finished(str(recording.get("name", "")), seconds, kind == "RecordingFinished")
        elif kind in ("PlaybackFinished", "PlaybackFailed"):
            playback = event.get("playback") or {}
            target = str(playback.get("target_uri", ""))
            owner = self.sessions.get(target.removeprefix("channel:"))
            if owner:
                owner.playback_finished(str(playback.get("id", "")))
        # ChannelHangupRequest comes before the PlaybackFinished of the prompt the hangup cut: handled first,
        # the flow sees the hangup in the state the caller left, not in the next one.
        elif kind in ("ChannelHangupRequest", "StasisEnd", "ChannelDestroyed") and session:
            session.caller_hung_up()

    async def _agent_leg_event(self, kind: str, leg_id: str, event: AriEvent) -> None:
        """An agent's phone leg, dialled by the queue: answered (it enters Stasis) or gone."""
        assert self.acd is not None
        if kind == "StasisStart":
            self._spawn(self.acd.agent_leg_answered(leg_id), f"agent-answered-{leg_id}")
        elif kind in ("ChannelDestroyed", "ChannelHangupRequest", "StasisEnd"):
            cause = str(event.get("cause_txt") or event.get("cause") or kind)
            code = event.get("cause")
            self._spawn(
                self.acd.agent_leg_gone(leg_id, cause, code if isinstance(code, int) else None), f"agent-gone-{leg_id}"
            )

    async def _stasis_start(self, event: AriEvent) -> None:
        channel = event.get("channel") or {}
        channel_id = str(channel.get("id"))
        if is_media_channel(channel_id):
            self.media_channels.started(channel_id)  # a speech tap's own channel, not a caller
            return
        if channel_id in self.sessions:
            return
        session = self._new_session(channel)
        # Started in its own task: the events of other calls are not held up by this call's answer and
        # database row.
        self._spawn(self._run_session(session, session.start()), f"start-{channel_id}")

    def _new_session(self, channel: dict[str, Any]) -> CallSession:
        channel_id = str(channel.get("id"))
        caller = (channel.get("caller") or {}).get("number") or None
        called = (channel.get("dialplan") or {}).get("exten") or ""
        session = CallSession(
            channel_id,
            caller,
            called,
            self.flow_factory(),
            self.control,
            self.media,
            self.store,
            self.timeline,
            self.speech_factory,
            self.acd,
        )
        self.sessions[channel_id] = session
        return session

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_session(self, session: CallSession, start: Awaitable[None]) -> None:
        try:
            await start
        except Exception:
            log.exception("call %s could not start; handing it to the dialplan fallback", session.channel_id)
            self.sessions.pop(session.channel_id, None)
            await self._to_fallback(session.channel_id)
            return
        await session.finished.wait()
        self.sessions.pop(session.channel_id, None)

    async def _to_fallback(self, channel_id: str) -> None:
        """Never drop a call: the dialplan's fallback (apology, agents' queue, message) takes it."""
        try:
            await self.control.continue_in_dialplan(channel_id, FALLBACK_CONTEXT)
        except Exception:
            log.exception("could not hand %s to the fallback; hanging up", channel_id)
            await self.control.hangup(channel_id)

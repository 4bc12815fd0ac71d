"""One call in progress: feeds the pure call flow its events, one at a time, and carries out its commands.

The flow never awaits anything; this is where the awaiting happens, and none of it holds up the call's events:
- ARI requests (play, stop, hang up) go down one ordered lane, a task of their own;
- database work (look up a ticket, open one, keep an utterance) runs as a task in a worker thread, and its
  result comes back to the flow as an event. The flow's operation timer starts when the command is issued, so
  a database that hangs costs the caller the timeout and an apology, never silence; a 0 or a hangup meanwhile
  is handled at once;
- timers and bookkeeping are immediate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable, Coroutine, Sequence
from datetime import datetime
from typing import Any, Protocol, assert_never

from hotline.domain.enums import CallOutcome
from hotline.storage.models import utc_now
from ivr.flow import commands as cmd
from ivr.flow import events as ev
from ivr.runtime.speech_tap import SpeechTap
from ivr.runtime.store import CallStore
from ivr.runtime.timeline import TimelineWriter
from ivr.speech.listener import TurnTimings

log = logging.getLogger(__name__)

FINISH_ATTEMPTS = 5  # closing a call: the database may be restarting; about 15 s of retries in all
FINISH_RETRY_S = 1.0
# The channel variable holding the ARI id of the call's latest playback: a process that adopts the call after
# a crash stops it through this (Asterisk has no list of a channel's playbacks, and queues a new one behind it).
PLAYBACK_VARIABLE = "HOTLINE_PLAYBACK"
SETTLE_TIMEOUT_S = 2.0  # a prompt being rendered (TTS) is worth waiting for; a stuck request is not


class CallControl(Protocol):
    """The ARI requests a call needs (AriClient, or an in-process fake in tests)."""

    async def answer(self, channel_id: str) -> None: ...
    async def hangup(self, channel_id: str, reason: str = "normal") -> None: ...
    async def play(self, channel_id: str, playback_id: str, media: Sequence[str], lang: str = "fr") -> None: ...
    async def record(self, channel_id: str, name: str, max_s: int) -> None: ...
    async def stop_playback(self, playback_id: str) -> None: ...
    async def playback(self, playback_id: str) -> dict[str, Any] | None: ...
    async def set_variable(self, channel_id: str, name: str, value: str) -> None: ...
    async def get_variable(self, channel_id: str, name: str) -> str | None: ...


class Queue(Protocol):
    """The agents' queue (ivr.runtime.acd.Acd), as a call sees it."""

    async def join(self, session: Any, call_id: int, command: cmd.JoinQueue, topic: str | None) -> None: ...
    async def caller_left(self, channel_id: str) -> None: ...
    async def leave_for_callback(self, channel_id: str) -> None: ...


class MediaResolver(Protocol):
    """Turns one playback's media items into Asterisk media URIs (recorded prompts, TTS files, digits),
    as a whole: the items of one playback are heard in one voice."""

    async def resolve_all(self, items: Sequence[cmd.Media]) -> list[str]: ...


class Flow(Protocol):
    @property
    def crisis_mode(self) -> bool: ...  # the call was taken with crisis mode on (recorded on its row)

    def handle(self, event: ev.Event) -> list[cmd.Command]: ...


AriCommand = cmd.Play | cmd.StopPlayback | cmd.Hangup


# Makes a call's speech tap: (caller channel id, deliver a flow event, report a turn's timings) -> tap.
# The two callbacks are called from the listener's worker thread.
SpeechFactory = Callable[[str, Callable[[ev.Event], None], Callable[[TurnTimings], None]], SpeechTap]


class CallSession:
    """Serialises a call's events through a queue; each event's commands finish before the next event."""

    def __init__(
        self,
        channel_id: str,
        caller: str | None,
        called: str,
        flow: Flow,
        control: CallControl,
        media: MediaResolver,
        store: CallStore,
        timeline: TimelineWriter | None = None,
        speech_factory: SpeechFactory | None = None,
        acd: Queue | None = None,
    ) -> None:
        self.channel_id = channel_id
        self.acd = acd
        self.caller = caller
        self.called = called
        self.flow = flow
        self.control = control
        self.media = media
        self.store = store
        self.timeline = timeline or TimelineWriter(store)
        self.call_id: int | None = None
        self._row: asyncio.Future[int] | None = None  # the call's row being written; its id once done
        self._early_steps: list[tuple[str, dict[str, Any], datetime]] = []  # steps taken before the row was in
        self.outcome: CallOutcome | None = None
        self.faq_id: str | None = None
        self.current_playback: str | None = None  # the ARI id of what is playing, for resync
        self.recording: str | None = None  # the name of the message being recorded
        self.playback_prefix = f"{channel_id}~"  # of this process's ARI playback ids for the call
        self.hung_up = False
        self.finished = asyncio.Event()
        self._queue: asyncio.Queue[ev.Event] = asyncio.Queue()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._worker: asyncio.Task[None] | None = None
        self.speech_factory = speech_factory
        self.speech: SpeechTap | None = None
        self.transcript: list[str] = []  # what the caller said, turn by turn
        self._turn_ended_at: float | None = None  # monotonic time the last turn ended, until its answer is sent
        self._ari_lane: asyncio.Queue[tuple[AriCommand, bool]] = asyncio.Queue()  # (command, answers a turn)
        self._ari_task: asyncio.Task[None] | None = None
        self._operations: set[asyncio.Task[None]] = set()  # database work in flight
        self._lookups: set[asyncio.Task[None]] = set()  # the part of it that a hangup makes pointless

    # --- identifiers: ARI playback ids are unique per Asterisk, the flow's only per call
    def ari_playback_id(self, flow_id: str) -> str:
        return f"{self.playback_prefix}{flow_id}"

    def flow_playback_id(self, ari_id: str) -> str | None:
        prefix = self.playback_prefix
        return ari_id[len(prefix) :] if ari_id.startswith(prefix) else None

    # --- life cycle
    async def start(self) -> None:
        """Answer at once (the caller is waiting) and run the flow while the call's row is written: under load
        the row waits its turn for the database (seconds at 200 calls), the caller must not. Timeline steps
        taken meanwhile are kept and written once the row's id is known; tickets wait for it. Returns when
        the row is in; raises if it cannot be written (the app then hands the call to the dialplan fallback)."""
        self.feed(ev.CallStarted(caller=self.caller or "", called=self.called))
        await self.control.answer(self.channel_id)
        row = asyncio.ensure_future(
            asyncio.to_thread(self.store.start_call, self.channel_id, self.caller, self.called, self.flow.crisis_mode)
        )
        self._row = row
        if not await self._open_speech():
            self._record("speech_unavailable", {})
        self._ari_task = asyncio.create_task(self._run_ari_lane(), name=f"ari-{self.channel_id}")
        worker = self._worker = asyncio.create_task(self._run(), name=f"call-{self.channel_id}")
        try:
            call_id = await row
        except BaseException:
            worker.cancel()  # no call row: the flow stops (its speech tap closed) before the fallback takes over
            with contextlib.suppress(asyncio.CancelledError):
                await worker
            raise
        self._row_written(call_id)

    async def resume(self, call_id: int, first: ev.Event | None = None, listen: bool = True) -> None:
        """Take over a call a previous process left in Stasis: already answered, with its row `call_id`. The
        flow starts again at its safe point (`first`: CallResumed, or the queue's QueueResumed and
        ConversationResumed); the caller's voice is brought in as for a new call when `listen`."""
        self.feed(first or ev.CallResumed())
        self._row_written(call_id)  # and the steps recorded while taking the call over
        # The old process's playback ids ("<channel>~menu-2") may still be live or have events on the way: a
        # prefix of our own keeps them apart from the new flow's.
        self.playback_prefix = f"{self.channel_id}~{secrets.token_hex(3)}~"
        if listen and not self.hung_up and not await self._open_speech():
            self.timeline.record(call_id, "speech_unavailable", {})
        self._ari_task = asyncio.create_task(self._run_ari_lane(), name=f"ari-{self.channel_id}")
        self._worker = asyncio.create_task(self._run(), name=f"call-{self.channel_id}")

    async def _open_speech(self) -> bool:
        """Bring the caller's voice in; on failure the call carries on with keys only (never dropped)."""
        if self.speech_factory is None:
            return True
        loop = asyncio.get_running_loop()

        def deliver(event: ev.Event) -> None:
            loop.call_soon_threadsafe(self.feed, event)

        def on_turn(timings: TurnTimings) -> None:
            loop.call_soon_threadsafe(self._record_turn, timings)

        try:
            self.speech = self.speech_factory(self.channel_id, deliver, on_turn)
            await self.speech.open()
        except Exception:
            log.exception("call %s: no speech recognition for this call", self.channel_id)
            if self.speech is not None:
                await self.speech.close()
            self.speech = None
            return False
        return True

    def _record_turn(self, t: TurnTimings) -> None:
        self._turn_ended_at = t.ended_at
        if t.text:
            self.transcript.append(t.text)
        if not self.hung_up:
            self._record(
                "speech_turn",
                {
                    "engine": t.engine,
                    "expect": t.expect,
                    "text": t.text,
                    "confidence": None if t.confidence is None else round(t.confidence, 3),
                    "audio_ms": t.audio_ms,
                    "endpoint_ms": round(t.endpoint_ms),
                    "backlog_ms": round(t.backlog_ms, 1),
                    "recognize_ms": round(t.recognize_ms, 1),
                    "match_ms": round(t.match_ms, 1),
                },
            )

    def feed(self, event: ev.Event) -> None:
        self._queue.put_nowait(event)

    async def _run(self) -> None:
        try:
            while True:
                event = await self._queue.get()
                try:
                    answering_turn = isinstance(event, ev.SpeechRecognized)
                    for command in self.flow.handle(event):
                        try:
                            self._execute(command, answering_turn)
                        except Exception:
                            # One failed command must not kill the call.
                            log.exception("call %s: %s failed", self.channel_id, type(command).__name__)
                finally:
                    self._queue.task_done()
                if isinstance(event, ev.CallerHungUp):
                    break
        finally:
            self._cancel_timers()
            await self._close_ari_lane()
            await self.stop_listening()
            await self._finish()

    async def _finish(self) -> None:
        """Close the call and its ticket; retried, because a lost ticket is a lost citizen request."""
        if self.call_id is None and self._row is not None:
            with contextlib.suppress(Exception):  # no row: start() raised, the fallback has the call
                self._row_written(await self._row)  # hung up before the row was in: close it all the same
        if self.call_id is None:
            self.finished.set()
            return
        outcome = self.outcome or CallOutcome.ABANDONED
        try:
            await self._settle_operations()  # a ticket being opened lands before the call is closed, never twice
            await self._leave_queue()  # after the ticket: the queue's outcome is noted on it
            await self.timeline.flush()  # the call's steps are in before it is closed
            for attempt in range(FINISH_ATTEMPTS):
                try:
                    transcript = " | ".join(self.transcript) or None
                    await asyncio.to_thread(self.store.finish_call, self.call_id, outcome, self.faq_id, transcript)
                    return
                except Exception:
                    log.exception("call %s: closing it failed (attempt %d)", self.channel_id, attempt + 1)
                    await asyncio.sleep(FINISH_RETRY_S * (attempt + 1))
        finally:
            self.finished.set()

    async def idle(self) -> None:
        """Wait until every event fed so far, the requests and work they asked for, and the events those
        brought back, have all been handled."""
        while True:
            await self._queue.join()
            await self._ari_lane.join()
            if self._row is not None and not self._row.done():
                await asyncio.wait([self._row])
            elif self._operations:
                await asyncio.gather(*self._operations, return_exceptions=True)
            elif self._queue.empty():
                return

    def playback_finished(self, ari_playback_id: str) -> None:
        if ari_playback_id == self.current_playback:
            self.current_playback = None
        flow_id = self.flow_playback_id(ari_playback_id)
        if flow_id is not None:
            self.feed(ev.PlaybackFinished(flow_id))

    def caller_hung_up(self) -> None:
        """The channel left Stasis (hung up by the caller, or by us after goodbye)."""
        if not self.hung_up:
            self.hung_up = True
            self.feed(ev.CallerHungUp())

    # --- commands
    def _execute(self, command: cmd.Command, answering_turn: bool = False) -> None:
        """Carry out one command without waiting on anything: I/O goes to the ARI lane or to a task."""
        match command:
            case cmd.Play() | cmd.StopPlayback() | cmd.Hangup():
                self._ari_lane.put_nowait((command, answering_turn and isinstance(command, cmd.Play)))
            case cmd.StartTimer(name=name, seconds=seconds):
                self._start_timer(name, seconds)
            case cmd.CancelTimer(name=name):
                handle = self._timers.pop(name, None)
                if handle:
                    handle.cancel()
            case cmd.LookupTicket(dossier=dossier):
                self._operate(self._lookup_ticket(dossier), command)
            case cmd.CreateTicket():
                self._operate(self._create_ticket(command), command)
            case cmd.JoinQueue():
                self._operate(self._join_queue(command), command)
            case cmd.LeaveQueue():
                if self.acd is not None:
                    self._operate(self.acd.leave_for_callback(self.channel_id), command)
            case cmd.KeepUnmatched(score=score):
                self._record("speech_not_understood", {"score": round(score, 3)})
                self._operate(self._keep_unmatched(command), command)
            case cmd.SetAnswered(faq_id=faq_id):
                self.faq_id = faq_id
            case cmd.RecordEvent(kind=kind, data=data):
                self._record(kind, dict(data))
            case cmd.SetOutcome(outcome=outcome):
                self.outcome = outcome
            case cmd.Listen(expect=expect):
                if self.speech is not None:
                    self.speech.listener.listen_for(expect)
            case cmd.RecordMessage():
                self._operate(self._record_message(command), command)
            case _:
                assert_never(command)

    def _operate(self, work: Coroutine[Any, Any, None], command: cmd.Command) -> None:
        """Run database work as a task; its result comes back as an event, its failure is logged (the flow's
        operation timer, already running, tells the caller)."""

        async def run() -> None:
            try:
                await work
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("call %s: %s failed", self.channel_id, type(command).__name__)

        task = asyncio.create_task(run(), name=f"{type(command).__name__}-{self.channel_id}")
        self._operations.add(task)
        task.add_done_callback(self._operations.discard)
        if isinstance(command, cmd.LookupTicket):
            self._lookups.add(task)
            task.add_done_callback(self._lookups.discard)

    async def _lookup_ticket(self, dossier: str) -> None:
        info = await asyncio.to_thread(self.store.lookup_ticket, dossier)
        self.feed(ev.TicketLookedUp(dossier, info.found, info.status, info.subject))

    async def _keep_unmatched(self, command: cmd.KeepUnmatched) -> None:
        call_id = await self._row_id()
        await asyncio.to_thread(self.store.keep_unmatched, call_id, command.text, command.best_faq_id, command.score)

    async def _create_ticket(self, command: cmd.CreateTicket) -> None:
        call_id = await self._row_id()
        dossier = await asyncio.to_thread(
            self.store.create_ticket,
            call_id,
            command.reason,
            command.faq_id,
            command.needs_callback,
            (command.message, command.message_s) if command.message else None,
        )
        self.feed(ev.TicketCreated(dossier))

    async def _record_message(self, command: cmd.RecordMessage) -> None:
        """The caller's message, recorded by Asterisk (beep, `#` or the limit ends it); see recording_finished."""
        name = f"hotline-message-{self.channel_id.replace('.', '-')}-{secrets.token_hex(3)}"
        self.recording = name
        try:
            await self.control.record(self.channel_id, name, command.max_s)
        except Exception:
            self.recording = None
            self.feed(ev.MessageRecorded(None))
            raise

    def recording_finished(self, name: str, seconds: float, ok: bool) -> None:
        """Asterisk's RecordingFinished (or RecordingFailed) for this call's message."""
        if name != self.recording:
            return
        self.recording = None
        self.feed(ev.MessageRecorded(name if ok and seconds > 0 else None, seconds))

    async def _leave_queue(self) -> None:
        if self.acd is None:
            return
        try:
            await self.acd.caller_left(self.channel_id)  # out of the queue, or the agent's leg ended
        except Exception:
            log.exception("call %s: leaving the queue failed", self.channel_id)

    async def _join_queue(self, command: cmd.JoinQueue) -> None:
        call_id = await self._row_id()
        if self.acd is None:
            self.feed(ev.QueueUnavailable())
            return
        topic = command.faq_id.split(".", 1)[0] if command.faq_id else None
        await self.acd.join(self, call_id, command, topic)

    async def stop_listening(self) -> None:
        """No more speech recognition on this call (it waits for, or talks with, a person)."""
        speech, self.speech = self.speech, None
        if speech is not None:
            await speech.close()

    async def settle(self, timeout: float = SETTLE_TIMEOUT_S) -> None:
        """Wait (a little) until the events fed so far are handled and their ARI requests carried out."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._queue.join()
                await self._ari_lane.join()

    async def stop_playing(self) -> None:
        """Stop what the caller hears now (an announcement), before the queue moves them to another bridge: a
        playback in a bridge holds the channel there until it ends. The flow hears of it as usual."""
        playing = self.current_playback
        if playing is None and not self.hung_up:
            with contextlib.suppress(Exception):  # one a previous run of the app left playing
                playing = await self.control.get_variable(self.channel_id, PLAYBACK_VARIABLE)
        if playing is not None and not self.hung_up:
            try:
                await self.control.stop_playback(playing)
            except Exception:
                log.debug("call %s: could not stop %s", self.channel_id, playing, exc_info=True)

    def record(self, kind: str, data: dict[str, Any]) -> None:
        """A timeline step from outside the flow (the queue's offers and misses)."""
        self._record(kind, data)

    async def _settle_operations(self) -> None:
        """At the call's end: lookups no longer matter; tickets and kept utterances must land."""
        for task in list(self._lookups):
            task.cancel()
        if self._operations:
            await asyncio.gather(*self._operations, return_exceptions=True)

    async def _run_ari_lane(self) -> None:
        """The call's ARI requests, in the order the flow gave them; a failed one never stops the next."""
        while True:
            command, answers_turn = await self._ari_lane.get()
            try:
                if not self.hung_up:  # the channel is gone: Asterisk dropped its playbacks with it
                    await self._request(command, answers_turn)
            except Exception:
                log.exception("call %s: %s failed", self.channel_id, type(command).__name__)
            finally:
                self._ari_lane.task_done()

    async def _close_ari_lane(self) -> None:
        if self._ari_task is None:
            return
        await self._ari_lane.join()
        self._ari_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._ari_task

    async def _request(self, command: AriCommand, answers_turn: bool) -> None:
        match command:
            case cmd.Play():
                await self._play(command, answers_turn)
            case cmd.StopPlayback(playback_id=playback_id):
                await self.control.stop_playback(self.ari_playback_id(playback_id))
            case cmd.Hangup():
                await self.control.hangup(self.channel_id)
            case _:
                assert_never(command)

    async def _play(self, command: cmd.Play, answers_turn: bool) -> None:
        try:
            uris = await self.media.resolve_all(command.media)
        except Exception:
            self.feed(ev.PlaybackFinished(command.playback_id))
            raise
        playback_id = self.ari_playback_id(command.playback_id)
        self.current_playback = playback_id
        # Before the play, not with it: Asterisk runs both in the channel's queue, so a variable set after
        # the play would only be set once that playback has ended.
        await self._note_playback(playback_id)
        try:
            await self.control.play(self.channel_id, playback_id, uris)
        except Exception:
            # The flow waits for this playback's end: a failed request ends it at once.
            self.current_playback = None
            self.feed(ev.PlaybackFinished(command.playback_id))
            raise
        if answers_turn and self._turn_ended_at is not None:
            # From the end of the caller's turn to Asterisk accepting the answer's playback.
            sent_ms = (time.monotonic() - self._turn_ended_at) * 1000
            self._record("speech_answer_sent", {"ms": round(sent_ms, 1)})
            self._turn_ended_at = None

    async def _note_playback(self, playback_id: str) -> None:
        """Keep the playback's id on the channel (see PLAYBACK_VARIABLE); a failure here costs nothing now."""
        try:
            await self.control.set_variable(self.channel_id, PLAYBACK_VARIABLE, playback_id)
        except Exception:
            log.debug("call %s: could not note playback %s", self.channel_id, playback_id, exc_info=True)

    def _start_timer(self, name: str, seconds: float) -> None:
        old = self._timers.pop(name, None)
        if old:
            old.cancel()
        loop = asyncio.get_running_loop()
        self._timers[name] = loop.call_later(seconds, self._fire, name)

    def _fire(self, name: str) -> None:
        self._timers.pop(name, None)
        self.feed(ev.TimerFired(name))

    def _cancel_timers(self) -> None:
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()

    def _row_written(self, call_id: int) -> None:
        if self.call_id is None:
            self.call_id = call_id
            for kind, data, at in self._early_steps:
                self.timeline.record(call_id, kind, data, at)
            self._early_steps.clear()

    def _record(self, kind: str, data: dict[str, Any]) -> None:
        """A timeline step; kept until the call's row is in if it is not yet."""
        if self.call_id is None:
            self._early_steps.append((kind, data, utc_now()))
        else:
            self.timeline.record(self.call_id, kind, data)

    async def _row_id(self) -> int:
        """The call's row id, once written (tickets and kept utterances point at it)."""
        if self.call_id is not None:
            return self.call_id
        if self._row is None:
            raise RuntimeError("call not started")
        return await self._row

    # --- resync after the events socket was down
    async def resync(self) -> None:
        """Events lost while the socket was down: a playback that ended meanwhile is reported now."""
        playing = self.current_playback
        if playing and await self.control.playback(playing) is None:
            flow_id = self.flow_playback_id(playing)
            if flow_id is not None:
                self.feed(ev.PlaybackFinished(flow_id))

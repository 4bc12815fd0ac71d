"""The agents' queue over ARI (automatic call distribution): callers wait in one holding bridge with music on
hold, the chosen agent's phone is originated, and answering bridges the two legs.

Modelled on Wazo's switchboard: the queue's state is in the database (hotline.services.queue), where offers are
conditional updates, so two agents never take one caller; Asterisk holds the media. The rules (order, skills,
longest idle, expected wait, announcements) are hotline.domain.queue's; this module only carries them out:

- JoinQueue (from a call's flow): nobody logged in → QueueUnavailable (the callback path); otherwise the caller
  gets an entry, joins the holding bridge and hears their position (QueueJoined).
- Distribution runs when something changes (a caller joins, an agent becomes available, a leg ends) and every
  second (skill overflow, announcements): each pair (caller, agent) is offered: the agent's phone is dialled for
  `ring_timeout_s`. Answered: a mixing bridge joins the caller and the agent (AgentConnected to the flow). Not
  answered, busy or unregistered: the caller keeps their place and the agent is paused "appel manqué".
- Either side hangs up a conversation: the other leg is hung up, the agent goes to wrap-up, then available after
  `wrap_up_s`. The caller hangs up while waiting: abandoned; while an agent's phone rings: that leg is stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from hotline.bus import AgentStateChanged, CallbackChanged, EventBus, QueueChanged
from hotline.domain.callbacks import OpeningHours
from hotline.domain.enums import AgentState, CallbackState, QueueEntryState
from hotline.domain.queue import (
    DEFAULT_ANNOUNCE_S,
    DEFAULT_SKILL_OVERFLOW_S,
    PRIORITY_NORMAL,
    PRIORITY_VULNERABLE,
    announcement_due,
    assignments,
    callback_offer_due,
    expected_wait_s,
    position_of,
    spoken_minutes,
)
from hotline.domain.transfers import TransferKind, transfer_note
from hotline.services.callbacks import CallbackService, PlacedCallback
from hotline.services.queue import NewEntry, QueueConflictError, QueueService, QueueSnapshot
from hotline.services.transfers import TransferOrder, TransferRefusedError
from hotline.storage.models import QueueEntry, utc_now
from ivr.flow import commands as cmd
from ivr.flow import events as ev
from ivr.runtime.callback_calls import (
    CALLBACK_BRIDGE_PREFIX,
    CARRIER_ENDPOINT,
    CallbackCalls,
    CallbackControl,
    CallbackDialling,
    callback_leg_pairs,
    is_callback_leg,
)
from ivr.runtime.supervision_calls import (
    SPY_BRIDGE_PREFIX,
    LiveConversation,
    SupervisionCalls,
    SupervisionControl,
    is_supervision_channel,
)

log = logging.getLogger(__name__)

HOLDING_PREFIX = "hotline-queue-"  # Asterisk keeps a destroyed bridge's id taken: each bridge gets a new one
AGENT_LEG_PREFIX = "hotline-agent-"  # the channel id of every agent leg the queue dials
CONVERSATION_PREFIX = "hotline-conv-"
TRANSFER_LEG_PREFIX = "hotline-transfer-"  # a city service's line, dialled for a caller an agent passed on
TRANSFER_RING_TIMEOUT_S = 30
CONSULT_PREFIX = "hotline-consult-"  # the bridge where an agent talks with a service before an attended transfer
RINGBACK_MEDIA = "tone:ring;tonezone=fr"
PROMPT_DONE_TIMEOUT_S = 10.0  # the transfer prompt lasts about 4 s
DISPATCH_TICK_S = 1.0  # skill overflow and announcements are checked this often
DEFAULT_RING_TIMEOUT_S = 15
DEFAULT_WRAP_UP_S = 30.0
DEFAULT_CALLBACK_OFFER_S = 90.0  # then "votre attente se prolonge", and the callback key again
DEFAULT_MAX_WAIT_S = 600.0  # an expected wait past this offers the callback at once


def is_agent_leg(channel_id: str) -> bool:
    """A leg the queue dials: an agent's phone for a waiting caller, either leg of a callback, a city service's
    line, or a supervisor's phone (and its snoop channel)."""
    prefixes = (AGENT_LEG_PREFIX, TRANSFER_LEG_PREFIX)
    return channel_id.startswith(prefixes) or is_callback_leg(channel_id) or is_supervision_channel(channel_id)


class AcdControl(CallbackControl, SupervisionControl, Protocol):
    """The ARI requests of the queue: the callbacks' (dialling, bridging, hanging up), and the holding bridge's."""

    async def remove_channel(self, bridge_id: str, channel_id: str) -> None: ...
    async def start_bridge_moh(self, bridge_id: str, moh_class: str = "default") -> None: ...
    async def stop_bridge_moh(self, bridge_id: str) -> None: ...
    async def bridges(self) -> list[dict[str, Any]]: ...


class QueuedCall(Protocol):
    """What the queue needs of a call's session."""

    channel_id: str
    caller: str | None
    current_playback: str | None  # the ARI playback the caller hears now

    def feed(self, event: ev.Event) -> None: ...
    def record(self, kind: str, data: dict[str, Any]) -> None: ...
    async def stop_listening(self) -> None: ...
    async def stop_playing(self) -> None: ...
    async def settle(self) -> None: ...


@dataclass(frozen=True)
class QueueSettings:
    announce_s: float = DEFAULT_ANNOUNCE_S
    skill_overflow_s: float = DEFAULT_SKILL_OVERFLOW_S
    ring_timeout_s: int = DEFAULT_RING_TIMEOUT_S
    wrap_up_s: float = DEFAULT_WRAP_UP_S
    callback_offer_s: float = DEFAULT_CALLBACK_OFFER_S
    max_wait_s: float = DEFAULT_MAX_WAIT_S
    callback_hours: OpeningHours | None = None  # None: callbacks are placed at any hour
    # The hours as an admin last set them (/admin), read when callbacks are due; None: `callback_hours`.
    hours_source: Callable[[], OpeningHours] | None = None
    timezone: str = "Europe/Paris"
    # Crisis mode's overflow: above this wait (waited, or expected), the callback is offered at once; None: off.
    overflow_source: Callable[[], float | None] | None = None


@dataclass
class _Waiting:
    session: QueuedCall
    entry_id: int
    announced_position: int | None = None
    announced_at: Any = None  # datetime of the last announcement
    joined_at: Any = None
    callback_offered: bool = False


@dataclass
class _Offer:
    entry_id: int
    agent_id: int
    agent_name: str
    leg_id: str


@dataclass
class _Conversation:
    entry_id: int
    agent_id: int
    caller_channel: str
    leg_id: str
    bridge_id: str
    ended: bool = False
    session: QueuedCall | None = None


@dataclass
class _ServiceLeg:
    """A caller passed to a city service's number: the service's leg, ringing then talking."""

    order: TransferOrder
    session: QueuedCall
    bridge_id: str
    leg_id: str
    answered: bool = False
    over: bool = False


@dataclass
class _Consult:
    """An attended transfer under way: the caller on hold in their bridge, the agent and the service talking."""

    order: TransferOrder
    conversation: _Conversation
    bridge_id: str
    leg_id: str
    answered: bool = False
    over: bool = False


@dataclass
class _State:
    waiting: dict[int, _Waiting] = field(default_factory=dict)  # by entry id
    offers: dict[str, _Offer] = field(default_factory=dict)  # by agent leg id
    conversations: dict[int, _Conversation] = field(default_factory=dict)  # by entry id
    services: dict[str, _ServiceLeg] = field(default_factory=dict)  # by the service leg's id
    consults: dict[str, _Consult] = field(default_factory=dict)  # by the service leg's id


class Acd:
    def __init__(
        self,
        control: AcdControl,
        queue: QueueService,
        app: str,
        settings: QueueSettings | None = None,
        bus: EventBus | None = None,
        priority_of: Callable[[str | None], int] = lambda _faq_id: PRIORITY_NORMAL,
        callbacks: CallbackService | None = None,
        dialling: CallbackDialling | None = None,
    ) -> None:
        """`priority_of`: a caller's priority from the entry they were dealing with (crisis entries go first).
        `callbacks` and `dialling` (the carrier trunk): due callbacks are placed too; without them they wait."""
        self.control = control
        self.priority_of = priority_of
        self.queue = queue
        self.app = app
        self.settings = settings or QueueSettings()
        self.bus = bus
        self._state = _State()
        self._kick = asyncio.Event()
        self._holding: str | None = None  # the holding bridge's id while it exists
        self._holding_lock = asyncio.Lock()
        self._wrap_ups: dict[int, asyncio.TimerHandle] = {}
        self._dialling: set[int] = set()  # entries whose agent leg is being dialled
        self._dialling_callbacks: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.callback_service = callbacks
        self.dialling = dialling
        self.callbacks = (
            CallbackCalls(control, callbacks, dialling, self._schedule_wrap_up_end, self.kick)
            if callbacks is not None and dialling is not None
            else None
        )
        self._zone = ZoneInfo(self.settings.timezone)
        self.supervisions = SupervisionCalls(control, queue.engine, app, self.live_conversation)

    def live_conversation(self, entry_id: int) -> LiveConversation | None:
        """The agent's leg and the bridge of a conversation this process holds (for a supervisor)."""
        conversation = self._state.conversations.get(entry_id)
        if conversation is None or conversation.ended or not conversation.leg_id or not conversation.bridge_id:
            return None
        if self._consult_of(entry_id) is not None:  # the agent is talking with a service, away from the caller
            return None
        return LiveConversation(conversation.leg_id, conversation.bridge_id)

    # --- life
    async def run(self) -> None:
        """Distribute until cancelled: on every change, and every DISPATCH_TICK_S."""
        follow = asyncio.create_task(self._follow_bus()) if self.bus is not None else None
        await asyncio.to_thread(self._recover_agents)
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._kick.wait(), DISPATCH_TICK_S)
                self._kick.clear()
                try:
                    await self._dispatch()
                except Exception:
                    log.exception("queue: distribution failed; retried at the next tick")
        finally:
            if follow is not None:
                follow.cancel()
            for handle in self._wrap_ups.values():
                handle.cancel()

    def kick(self) -> None:
        self._kick.set()

    async def _follow_bus(self) -> None:
        assert self.bus is not None
        subscription = self.bus.subscribe()
        try:
            async for event in subscription:
                if isinstance(event, AgentStateChanged) and event.from_state == AgentState.WRAP_UP:
                    handle = self._wrap_ups.pop(event.agent_id, None)  # ended early, on request
                    if handle is not None:
                        handle.cancel()
                if isinstance(event, QueueChanged) and event.state == QueueEntryState.OFFERED:
                    self._spawn(self.offered_elsewhere(event.entry_id))
                if isinstance(event, CallbackChanged) and event.state == CallbackState.IN_PROGRESS.value:
                    self._spawn(self._callback_offered_elsewhere(event.callback_id))
                if isinstance(event, AgentStateChanged | QueueChanged | CallbackChanged):
                    self.kick()
        finally:
            subscription.close()

    def _recover_agents(self) -> None:
        """A previous run may have left agents ringing for a leg nobody follows, or in a wrap-up whose timer died
        with it: ringing ones go back to available, wrap-ups end now."""
        if self.callback_service is not None:
            self.callback_service.recover()
        for agent in self.queue.agents_in([AgentState.RINGING, AgentState.WRAP_UP]):
            assert agent.id is not None
            if agent.state is AgentState.WRAP_UP:
                self.queue.end_wrap_up(agent.id)
            else:
                self.queue.set_agent_state(agent.id, AgentState.AVAILABLE)

    # --- taking over after a restart of the app
    async def open_entries(self) -> dict[str, QueueEntry]:
        """The queue's open entries, by caller channel."""
        entries = await asyncio.to_thread(self.queue.open_entries)
        return {e.channel_id: e for e in entries if e.channel_id}

    async def adopt_waiting(self, session: QueuedCall, entry: QueueEntry, legs: Sequence[str]) -> None:
        """A caller the previous run left in the holding bridge: they wait on, in their place (the entry keeps
        its time of joining). An agent's phone ringing for them at the restart is hung up: offered again."""
        assert entry.id is not None
        for leg in legs:
            if leg.startswith(f"{AGENT_LEG_PREFIX}{entry.id}-"):
                await self._hangup(leg)
        if entry.state is QueueEntryState.OFFERED and entry.offered_agent_id is not None:
            await asyncio.to_thread(self.queue.offer_failed, entry.id, entry.offered_agent_id, pause=False)
        now = utc_now()
        self._state.waiting[entry.id] = _Waiting(session, entry.id, entry.position_hint, now, entry.enqueued_at)
        if self._holding is None:
            self._holding = await self._find_bridge(session.channel_id, HOLDING_PREFIX)  # outlived the last run
        session.record("queue_adopted", {"entry_id": entry.id})
        self.kick()

    async def adopt_conversation(self, session: QueuedCall, entry: QueueEntry, legs: Sequence[str]) -> bool:
        """A conversation the previous run bridged: followed again, so that either hang-up ends the other leg.
        False when the agent's leg is gone (the caller's call is then over)."""
        assert entry.id is not None and entry.answered_by_agent_id is not None
        leg = next((leg for leg in legs if leg.startswith(f"{AGENT_LEG_PREFIX}{entry.id}-")), None)
        bridge_id = await self._find_bridge(session.channel_id, CONVERSATION_PREFIX) or ""
        conversation = _Conversation(
            entry.id, entry.answered_by_agent_id, session.channel_id, leg or "", bridge_id, session=session
        )
        self._state.conversations[entry.id] = conversation
        session.record("conversation_adopted", {"entry_id": entry.id})
        if leg is None:
            await self._end_conversation(conversation, hang_up=session.channel_id)
            return False
        return True

    async def adoption_done(self, entries: dict[str, QueueEntry], held: set[str]) -> None:
        """After the held callers are taken over: entries whose caller is gone are closed (abandoned, or the
        conversation ended: the agent goes to wrap-up), and agent legs nobody follows are hung up."""
        talking = {  # conversations whose caller is still there: their agent legs are followed again
            f"{AGENT_LEG_PREFIX}{e.id}-"
            for channel_id, e in entries.items()
            if channel_id in held and e.state is QueueEntryState.ANSWERED
        }
        followed = await self._adopt_callback_conversations(held)
        for leg in held:
            if is_agent_leg(leg) and leg not in followed and not any(leg.startswith(p) for p in talking):
                await self._hangup(leg)
        for channel_id, entry in entries.items():
            if channel_id in held or entry.id is None:
                continue
            if entry.state is QueueEntryState.ANSWERED:
                agent_id = await asyncio.to_thread(self.queue.conversation_ended, entry.id)
                if agent_id is not None:
                    self._schedule_wrap_up_end(agent_id)
            else:
                await asyncio.to_thread(self.queue.left, entry.id, QueueEntryState.ABANDONED)
        for bridge in await self.control.bridges():  # a supervisor's bridge the last run left
            if str(bridge.get("id", "")).startswith(SPY_BRIDGE_PREFIX):
                with contextlib.suppress(Exception):
                    await self.control.destroy_bridge(str(bridge["id"]))
        if not self._state.waiting:  # a holding bridge the last run left, empty now
            for bridge in await self.control.bridges():
                if str(bridge.get("id", "")).startswith(HOLDING_PREFIX):
                    with contextlib.suppress(Exception):
                        await self.control.destroy_bridge(str(bridge["id"]))

    async def _adopt_callback_conversations(self, held: set[str]) -> set[str]:
        """Callback conversations the previous run bridged: both legs still there and bridged, followed again;
        the others are over (their agent goes to wrap-up). Returns the legs followed."""
        if self.callback_service is None or self.callbacks is None:
            return set()
        left = await asyncio.to_thread(self.callback_service.conversations_left)
        if not left:
            return set()
        pairs = callback_leg_pairs(held)
        bridges = {str(b.get("id", "")): set(b.get("channels", [])) for b in await self.control.bridges()}
        followed: set[str] = set()
        for placed, bridged_at in left:
            legs = pairs.get(placed.callback_id)
            ours = (
                b
                for b, channels in bridges.items()
                if b.startswith(CALLBACK_BRIDGE_PREFIX) and set(legs or ()) <= channels
            )
            bridge_id = next(ours, None) if legs else None
            talk_s = (utc_now() - bridged_at.replace(tzinfo=bridged_at.tzinfo or UTC)).total_seconds()
            if legs is None or bridge_id is None:
                await asyncio.to_thread(self.callback_service.conversation_ended, placed, talk_s)
                self._schedule_wrap_up_end(placed.agent_id)
                continue
            self.callbacks.adopt(placed, legs[0], legs[1], bridge_id, talk_s)
            followed.update(legs)
        return followed

    # --- callers
    async def join(self, session: QueuedCall, call_id: int, command: cmd.JoinQueue, topic: str | None) -> None:
        """A call's JoinQueue: answered to the flow with QueueJoined or QueueUnavailable."""
        snapshot = await asyncio.to_thread(self.queue.snapshot)
        if snapshot.logged_in == 0:
            session.feed(ev.QueueUnavailable())  # nobody to wait for: the callback path
            return
        entry = NewEntry(
            call_id=call_id,
            channel_id=session.channel_id,
            caller_phone=session.caller,
            topic=topic,
            faq_id=command.faq_id,
            priority=PRIORITY_VULNERABLE if command.vulnerable else self.priority_of(command.faq_id),
            reason=command.reason,
            transcript=command.transcript or None,
        )
        entry_id = await asyncio.to_thread(self.queue.enqueue, entry)
        waiting = _Waiting(session, entry_id, joined_at=utc_now())
        self._state.waiting[entry_id] = waiting  # before the bridge: an emptied queue must not destroy it now
        await session.stop_listening()  # nothing the caller says in the queue is for the flow
        holding = await self._ensure_holding_bridge()
        await self.control.add_channel(holding, session.channel_id)
        snapshot = await asyncio.to_thread(self.queue.snapshot)
        position = position_of(entry_id, snapshot.waiting) or 1
        waiting.announced_position, waiting.announced_at = position, utc_now()
        session.record("queue_entry", {"entry_id": entry_id, "position": position, "topic": topic})
        session.feed(ev.QueueJoined(position, self._wait_minutes(position, snapshot)))
        self.kick()

    async def leave_for_callback(self, channel_id: str) -> None:
        """The caller chose to be called back: out of the queue (and of the holding bridge, for the goodbye)."""
        holding = self._holding
        if await self._leave(channel_id, QueueEntryState.CALLBACK) and holding is not None:
            with contextlib.suppress(Exception):
                await self.control.remove_channel(holding, channel_id)
            await self._release_holding_if_empty()

    async def caller_left(self, channel_id: str) -> None:
        """The caller's channel is gone (hung up): abandon, stop a ringing agent, or end the conversation."""
        if await self._leave(channel_id, QueueEntryState.ABANDONED):
            await self._release_holding_if_empty()
            return
        for conversation in list(self._state.conversations.values()):
            if conversation.caller_channel == channel_id:
                consult = self._consult_of(conversation.entry_id)
                if consult is not None:
                    await self._end_consult(consult, "l'appelant a raccroché")
                await self._end_conversation(conversation, hang_up=conversation.leg_id)
                return
        for service in list(self._state.services.values()):
            if service.session.channel_id == channel_id:
                await self._end_service(service, hang_up=service.leg_id)
                return

    async def _leave(self, channel_id: str, state: QueueEntryState) -> bool:
        for entry_id, waiting in list(self._state.waiting.items()):
            if waiting.session.channel_id == channel_id:
                del self._state.waiting[entry_id]
                await asyncio.to_thread(self.queue.left, entry_id, state)
                for leg_id, offer in list(self._state.offers.items()):
                    if offer.entry_id == entry_id:
                        await self._hangup(leg_id)  # its ChannelDestroyed frees the agent
                self.kick()
                return True
        return False

    def _wait_minutes(self, position: int, snapshot: QueueSnapshot) -> int | None:
        wait = expected_wait_s(position, snapshot.recent_handle_s, snapshot.staffed)
        return None if wait is None else spoken_minutes(wait)

    # --- distribution
    async def _dispatch(self) -> None:
        now = utc_now()
        due = await self._due_callbacks(now)
        if not self._state.waiting and not due:
            return
        snapshot = await asyncio.to_thread(self.queue.snapshot)
        held = [c for c in snapshot.waiting if c.entry_id in self._state.waiting]  # callers this process holds
        offers = [
            self._place_callback(caller.callback_id, agent.agent_id)
            if caller.callback_id is not None and self.callbacks is not None
            else self._offer(caller.entry_id, agent.agent_id)
            for caller, agent in assignments(held + due, snapshot.agents, now, self.settings.skill_overflow_s)
        ]
        # Each pair is a distinct caller and a distinct agent: all their phones ring at once, not one after another.
        for failure in await asyncio.gather(*offers, return_exceptions=True):
            if isinstance(failure, BaseException):
                log.error("queue: an offer failed", exc_info=failure)
        if not self._state.waiting:
            return
        snapshot = await asyncio.to_thread(self.queue.snapshot)
        due = await self._due_callbacks(now)
        line = snapshot.waiting + due  # a due callback keeps its caller's place in the line
        for caller in snapshot.waiting:
            waiting = self._state.waiting.get(caller.entry_id)
            if waiting is None:
                continue
            position = position_of(caller.entry_id, line) or 1
            wait = expected_wait_s(position, snapshot.recent_handle_s, snapshot.staffed)
            long_wait = callback_offer_due(
                (now - waiting.joined_at).total_seconds(),
                wait,
                self.settings.callback_offer_s,
                self.settings.max_wait_s,
                self.settings.overflow_source() if self.settings.overflow_source else None,
            )
            if long_wait and not waiting.callback_offered:
                waiting.callback_offered = True
                waiting.announced_at = now  # the offer counts as news: no position right after it
                waiting.session.feed(ev.QueueCallbackOffered())
            elif announcement_due(
                position, waiting.announced_position, waiting.announced_at, now, self.settings.announce_s
            ):
                waiting.announced_position, waiting.announced_at = position, now
                waiting.session.feed(ev.QueueAnnouncement(position, self._wait_minutes(position, snapshot)))

    def callbacks_open(self, now: datetime) -> bool:
        """Whether callbacks may be placed now: a trunk to dial out, and within the opening hours."""
        if self.callbacks is None:
            return False
        source = self.settings.hours_source
        hours = source() if source is not None else self.settings.callback_hours
        return hours is None or hours.is_open(now.astimezone(self._zone))

    async def _due_callbacks(self, now: datetime) -> list[Any]:
        if self.callback_service is None or not self.callbacks_open(now):
            return []
        return await asyncio.to_thread(self.callback_service.due, now)

    async def _place_callback(self, callback_id: int, agent_id: int) -> None:
        assert self.callbacks is not None
        self._dialling_callbacks.add(callback_id)  # its own CallbackChanged must not dial a second leg
        try:
            await self.callbacks.place(callback_id, agent_id)
        finally:
            self._dialling_callbacks.discard(callback_id)

    async def _callback_offered_elsewhere(self, callback_id: int) -> None:
        """An agent asked for this callback through the API ("rappeler maintenant"): this process dials it."""
        if self.callbacks is None or self.callback_service is None or callback_id in self._dialling_callbacks:
            return
        if self.callbacks.is_placing(callback_id):
            return
        placed: PlacedCallback | None = await asyncio.to_thread(self.callback_service.placed, callback_id)
        if placed is not None and not self.callbacks.is_placing(callback_id):
            await self.callbacks.dial_agent(placed)

    async def _offer(self, entry_id: int, agent_id: int) -> None:
        self._dialling.add(entry_id)  # the offer's own QueueChanged must not dial a second leg
        try:
            entry = await asyncio.to_thread(self.queue.offer, entry_id, agent_id)
        except QueueConflictError as exc:
            self._dialling.discard(entry_id)
            log.info("queue: offer of %s to agent %s refused: %s", entry_id, agent_id, exc)
            return
        await self._dial(entry_id, agent_id, entry.caller_phone)

    async def offered_elsewhere(self, entry_id: int) -> None:
        """An agent took this caller through the API ("prendre cet appel"): the database holds the offer, this
        process holds the caller, so it dials the agent's phone."""
        if entry_id not in self._state.waiting or entry_id in self._dialling:
            return
        if any(offer.entry_id == entry_id for offer in self._state.offers.values()):
            return
        self._dialling.add(entry_id)
        entry = await asyncio.to_thread(self.queue.entry, entry_id)
        if entry is None or entry.state is not QueueEntryState.OFFERED or entry.offered_agent_id is None:
            self._dialling.discard(entry_id)
            return
        await self._dial(entry_id, entry.offered_agent_id, entry.caller_phone)

    async def _dial(self, entry_id: int, agent_id: int, caller_phone: str | None) -> None:
        try:
            agent = await asyncio.to_thread(self.queue.agent, agent_id)
            waiting = self._state.waiting.get(entry_id)
            leg_id = f"{AGENT_LEG_PREFIX}{entry_id}-{secrets.token_hex(3)}"
            self._state.offers[leg_id] = _Offer(
                entry_id, agent_id, agent.display_name if agent else str(agent_id), leg_id
            )
            if waiting is not None:
                waiting.session.record("agent_offered", {"agent": agent.login if agent else agent_id})
            try:
                await self.control.originate(
                    leg_id,
                    f"PJSIP/{agent.sip_endpoint if agent else ''}",
                    self.app,
                    f"agent,{entry_id}",
                    self.settings.ring_timeout_s,
                    caller_id=caller_phone or "",
                )
            except Exception:
                log.exception("queue: dialling agent %s failed", agent_id)
                await self._offer_failed(leg_id, "dial_failed")
        finally:
            self._dialling.discard(entry_id)

    async def _offer_failed(self, leg_id: str, cause: str) -> None:
        offer = self._state.offers.pop(leg_id, None)
        if offer is None:
            return
        caller_still_waits = offer.entry_id in self._state.waiting
        # A caller who left makes the ring stop: that is not the agent's miss.
        await asyncio.to_thread(self.queue.offer_failed, offer.entry_id, offer.agent_id, pause=caller_still_waits)
        waiting = self._state.waiting.get(offer.entry_id)
        if waiting is not None:
            waiting.session.record("agent_missed", {"agent_id": offer.agent_id, "cause": cause})
        self.kick()

    # --- agent legs (from the ARI events)
    async def agent_leg_answered(self, leg_id: str) -> None:
        """The agent's phone answered: its leg entered Stasis. Bridge it with the caller."""
        if is_supervision_channel(leg_id):
            await self.supervisions.leg_answered(leg_id)
            return
        if is_callback_leg(leg_id):
            if self.callbacks is not None:
                await self.callbacks.leg_answered(leg_id)
            else:
                await self._hangup(leg_id)
            return
        if leg_id.startswith(TRANSFER_LEG_PREFIX):
            await self._service_answered(leg_id)
            return
        offer = self._state.offers.pop(leg_id, None)
        if offer is None:
            await self._hangup(leg_id)
            return
        waiting = self._state.waiting.get(offer.entry_id)
        answered = waiting is not None and await asyncio.to_thread(self.queue.answered, offer.entry_id, offer.agent_id)
        if waiting is None or not answered:
            await self._hangup(leg_id)
            await asyncio.to_thread(self.queue.offer_failed, offer.entry_id, offer.agent_id, pause=False)
            return
        del self._state.waiting[offer.entry_id]
        holding = self._holding  # as it is now: it may be released while this move is under way
        bridge_id = f"{CONVERSATION_PREFIX}{offer.entry_id}-{secrets.token_hex(4)}"
        release_holding = not self._state.waiting
        conversation = _Conversation(
            offer.entry_id, offer.agent_id, waiting.session.channel_id, leg_id, bridge_id, session=waiting.session
        )
        self._state.conversations[offer.entry_id] = conversation
        # A prompt playing in the holding bridge keeps the channel there until it ends: the flow stops its own
        # (AgentConnected), and whatever still plays is stopped, before the move.
        waiting.session.feed(ev.AgentConnected(offer.agent_name))
        await waiting.session.settle()
        await waiting.session.stop_playing()
        try:
            await self.control.create_bridge(bridge_id, "mixing")
            if holding is not None:
                with contextlib.suppress(Exception):  # adding to the new bridge moves it all the same
                    await self.control.remove_channel(holding, waiting.session.channel_id)
            await self.control.add_channel(bridge_id, waiting.session.channel_id)
            await self.control.add_channel(bridge_id, leg_id)
        except Exception:
            log.exception("queue: bridging caller %s with agent %s failed", conversation.caller_channel, leg_id)
            await self._end_conversation(conversation, hang_up=leg_id)
            await self._hangup(conversation.caller_channel)
            return
        if release_holding:
            await self._release_holding_if_empty()

    async def agent_leg_gone(self, leg_id: str, cause: str, code: int | None = None) -> None:
        """The agent's leg ended: before answering (no answer, busy, unregistered), or during the conversation.
        `code`: the Q.850 cause, when the event has one."""
        if is_supervision_channel(leg_id):
            await self.supervisions.leg_gone(leg_id)
            return
        if is_callback_leg(leg_id):
            if self.callbacks is not None:
                await self.callbacks.leg_gone(leg_id, code)
            return
        if leg_id.startswith(TRANSFER_LEG_PREFIX):
            await self._service_gone(leg_id)
            return
        if leg_id in self._state.offers:
            await self._offer_failed(leg_id, cause)
            return
        for conversation in list(self._state.conversations.values()):
            if conversation.leg_id == leg_id:
                consult = self._consult_of(conversation.entry_id)
                if consult is not None and consult.answered:  # hanging up completes it, as on a desk phone
                    await self.complete_transfer(conversation.entry_id)
                    return
                if consult is not None:
                    await self._end_consult(consult, "le conseiller a raccroché")
                await self._end_conversation(conversation, hang_up=conversation.caller_channel)
                return

    async def _end_conversation(self, conversation: _Conversation, hang_up: str) -> None:
        if conversation.ended:
            return
        conversation.ended = True
        self._state.conversations.pop(conversation.entry_id, None)
        await self.supervisions.conversation_over(conversation.entry_id)
        await self._hangup(hang_up)
        if conversation.bridge_id:
            with contextlib.suppress(Exception):
                await self.control.destroy_bridge(conversation.bridge_id)
        agent_id = await asyncio.to_thread(self.queue.conversation_ended, conversation.entry_id)
        if agent_id is not None:
            self._schedule_wrap_up_end(agent_id)

    # --- transfers
    async def transfer(self, order: TransferOrder, attended: bool = False) -> None:
        """Carry out an agent's transfer (hotline.services.transfers checked it): back into the queue at the
        front for an agent or a skill, or to a service's number: blind (the agent leaves at once) or attended
        (the agent talks with the service first; `complete_transfer` joins the legs)."""
        conversation = self._state.conversations.get(order.entry_id)
        if conversation is None or conversation.ended or conversation.session is None:
            raise TransferRefusedError("the conversation is not in progress")
        if order.target.kind is TransferKind.NUMBER and self.dialling is None:
            raise TransferRefusedError("no carrier trunk to dial out (HOTLINE_CARRIER_TRUNK)")
        if self._consult_of(order.entry_id) is not None:
            raise TransferRefusedError("a transfer of this call is already under way")
        if attended:
            if order.target.kind is not TransferKind.NUMBER:
                raise TransferRefusedError("an attended transfer is to a service's number")
            await self._start_consult(order, conversation)
            return
        session = conversation.session
        conversation.ended = True
        self._state.conversations.pop(order.entry_id, None)
        await self.supervisions.conversation_over(order.entry_id)
        note = transfer_note(order.agent_name, order.target, order.label)
        agent_id = await asyncio.to_thread(self.queue.transferred, order.entry_id, note)
        if agent_id is not None:
            self._schedule_wrap_up_end(agent_id)
        session.record("transferred", {"to": str(order.target.kind), "by_agent_id": order.agent_id})
        await self._hangup(conversation.leg_id)  # the agent leaves first: the caller alone hears the prompt
        if order.target.kind is TransferKind.NUMBER:
            self._spawn(self._dial_service(order, session, conversation))
        else:
            self._spawn(self._back_to_queue(order, session, conversation.bridge_id, service_failed=False))

    async def _back_to_queue(
        self, order: TransferOrder, session: QueuedCall, bridge_id: str, service_failed: bool
    ) -> None:
        """The caller waits again, at the front: for the agent named, or the skill (or the topic they had). They
        hear the transfer prompt to its end first, then join the holding bridge and may be offered."""
        entry_id = await asyncio.to_thread(
            self.queue.requeue, order.entry_id, topic=order.topic, target_agent_id=order.target_agent_id
        )
        session.feed(ev.Transferred(to_queue=True, service_failed=service_failed))
        await session.settle()
        await self._prompt_done(session)
        holding = await self._ensure_holding_bridge()
        waiting = _Waiting(session, entry_id, joined_at=utc_now())
        waiting.announced_position, waiting.announced_at = 1, utc_now()  # the transfer prompt was the news
        self._state.waiting[entry_id] = waiting
        await self.control.add_channel(holding, session.channel_id)  # out of the conversation's bridge
        if bridge_id:
            with contextlib.suppress(Exception):
                await self.control.destroy_bridge(bridge_id)
        self.kick()

    @staticmethod
    async def _prompt_done(session: QueuedCall, timeout_s: float = PROMPT_DONE_TIMEOUT_S) -> None:
        """Until the caller's current prompt has ended (at most `timeout_s`)."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while session.current_playback is not None and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.1)

    async def _dial_service(self, order: TransferOrder, session: QueuedCall, conversation: _Conversation) -> None:
        assert self.dialling is not None
        leg_id = f"{TRANSFER_LEG_PREFIX}{order.entry_id}-{secrets.token_hex(3)}"
        service = _ServiceLeg(order, session, conversation.bridge_id, leg_id)
        self._state.services[leg_id] = service  # the caller hanging up meanwhile ends it
        session.feed(ev.Transferred(to_queue=False))
        await session.settle()
        await self._prompt_done(session)  # the caller hears the whole sentence, then music while it rings
        if service.over:
            return
        with contextlib.suppress(Exception):
            await self.control.start_bridge_moh(conversation.bridge_id)  # the caller waits with music
        try:
            await self.control.originate(
                leg_id,
                f"PJSIP/{CARRIER_ENDPOINT}/sip:{order.target.value}@{self.dialling.trunk}",
                self.app,
                f"transfer,{order.entry_id}",
                TRANSFER_RING_TIMEOUT_S,
                caller_id=session.caller or self.dialling.caller_id,
            )
        except Exception:
            log.exception("queue: dialling %s for a transfer failed", order.target.value)
            await self._service_gone(leg_id)

    # --- attended transfers
    def _consult_of(self, entry_id: int) -> _Consult | None:
        return next((c for c in self._state.consults.values() if c.order.entry_id == entry_id and not c.over), None)

    async def _start_consult(self, order: TransferOrder, conversation: _Conversation) -> None:
        assert self.dialling is not None and conversation.session is not None
        bridge_id = f"{CONSULT_PREFIX}{order.entry_id}-{secrets.token_hex(4)}"
        leg_id = f"{TRANSFER_LEG_PREFIX}{order.entry_id}-{secrets.token_hex(3)}"
        consult = _Consult(order, conversation, bridge_id, leg_id)
        self._state.consults[leg_id] = consult
        await self.control.create_bridge(bridge_id, "mixing")
        await self.control.add_channel(bridge_id, conversation.leg_id)  # the agent, out of the caller's bridge
        with contextlib.suppress(Exception):
            await self.control.start_bridge_moh(conversation.bridge_id)  # the caller on hold, with music
        with contextlib.suppress(Exception):
            await self.control.play(conversation.leg_id, f"{leg_id}-ringback", [RINGBACK_MEDIA])
        conversation.session.record("consult_started", {"entry_id": order.entry_id})
        try:
            await self.control.originate(
                leg_id,
                f"PJSIP/{CARRIER_ENDPOINT}/sip:{order.target.value}@{self.dialling.trunk}",
                self.app,
                f"transfer,{order.entry_id}",
                TRANSFER_RING_TIMEOUT_S,
                caller_id=self.dialling.caller_id,
            )
        except Exception:
            log.exception("queue: dialling %s for an attended transfer failed", order.target.value)
            await self._end_consult(consult, "n'a pas pu être appelé")

    async def complete_transfer(self, entry_id: int) -> None:
        """The agent, having talked with the service, joins the caller and the service and leaves."""
        consult = self._consult_of(entry_id)
        if consult is None:
            raise TransferRefusedError("no attended transfer of this call is under way")
        if not consult.answered:
            raise TransferRefusedError("the service has not answered yet")
        consult.over = True
        self._state.consults.pop(consult.leg_id, None)
        conversation, order = consult.conversation, consult.order
        assert conversation.session is not None
        conversation.ended = True
        self._state.conversations.pop(entry_id, None)
        await self.supervisions.conversation_over(entry_id)
        note = f"{transfer_note(order.agent_name, order.target, order.label)[:-1]}, après un échange avec le service."
        agent_id = await asyncio.to_thread(self.queue.transferred, entry_id, note)
        if agent_id is not None:
            self._schedule_wrap_up_end(agent_id)
        with contextlib.suppress(Exception):
            await self.control.stop_bridge_moh(conversation.bridge_id)
        service = _ServiceLeg(order, conversation.session, conversation.bridge_id, consult.leg_id, answered=True)
        self._state.services[consult.leg_id] = service
        await self.control.add_channel(conversation.bridge_id, consult.leg_id)  # the service, to the caller
        await self._hangup(conversation.leg_id)
        with contextlib.suppress(Exception):
            await self.control.destroy_bridge(consult.bridge_id)
        conversation.session.record("transferred", {"to": "number", "attended": True})

    async def cancel_transfer(self, entry_id: int) -> None:
        """The agent gives up the attended transfer: the service's leg ends, the agent is back with the caller."""
        consult = self._consult_of(entry_id)
        if consult is None:
            raise TransferRefusedError("no attended transfer of this call is under way")
        await self._end_consult(consult, "transfert annulé par le conseiller")

    async def _end_consult(self, consult: _Consult, why: str) -> None:
        """The consultation is over without a transfer: the agent goes back to the caller."""
        consult.over = True
        self._state.consults.pop(consult.leg_id, None)
        await self._hangup(consult.leg_id)
        conversation = consult.conversation
        if not conversation.ended:
            with contextlib.suppress(Exception):
                await self.control.stop_playback(f"{consult.leg_id}-ringback")
            with contextlib.suppress(Exception):
                await self.control.stop_bridge_moh(conversation.bridge_id)
            with contextlib.suppress(Exception):
                await self.control.add_channel(conversation.bridge_id, conversation.leg_id)
        with contextlib.suppress(Exception):
            await self.control.destroy_bridge(consult.bridge_id)
        note = f"Transfert accompagné vers le {consult.order.label} : {why}."
        await asyncio.to_thread(self.queue.note_on_entry, consult.order.entry_id, note)

    async def _service_answered(self, leg_id: str) -> None:
        consult = self._state.consults.get(leg_id)
        if consult is not None:
            if consult.over:
                await self._hangup(leg_id)
                return
            consult.answered = True
            with contextlib.suppress(Exception):
                await self.control.stop_playback(f"{leg_id}-ringback")
            await self.control.add_channel(consult.bridge_id, leg_id)  # the agent and the service talk
            return
        service = self._state.services.get(leg_id)
        if service is None or service.over:
            await self._hangup(leg_id)
            return
        service.answered = True
        with contextlib.suppress(Exception):
            await self.control.stop_bridge_moh(service.bridge_id)
        await self.control.add_channel(service.bridge_id, leg_id)
        service.session.record("service_answered", {"entry_id": service.order.entry_id})
        await asyncio.to_thread(self.queue.note_on_entry, service.order.entry_id, "Le service a répondu.")

    async def _service_gone(self, leg_id: str) -> None:
        consult = self._state.consults.get(leg_id)
        if consult is not None:
            if not consult.over:
                await self._end_consult(consult, "a raccroché" if consult.answered else "n'a pas répondu")
            return
        service = self._state.services.get(leg_id)
        if service is None or service.over:
            return
        if service.answered:  # the caller's talk with the service is over: their call too
            await self._end_service(service, hang_up=service.session.channel_id)
            return
        service.over = True
        self._state.services.pop(leg_id, None)
        note = f"Le {service.order.label} n'a pas répondu : l'appelant attend de nouveau un conseiller."
        await asyncio.to_thread(self.queue.note_on_entry, service.order.entry_id, note)
        await self._back_to_queue(service.order, service.session, service.bridge_id, service_failed=True)

    async def _end_service(self, service: _ServiceLeg, hang_up: str) -> None:
        service.over = True
        self._state.services.pop(service.leg_id, None)
        await self._hangup(hang_up)
        with contextlib.suppress(Exception):
            await self.control.destroy_bridge(service.bridge_id)

    def _schedule_wrap_up_end(self, agent_id: int) -> None:
        loop = asyncio.get_running_loop()
        old = self._wrap_ups.pop(agent_id, None)
        if old:
            old.cancel()

        def end() -> None:
            self._wrap_ups.pop(agent_id, None)
            self._spawn(self._end_wrap_up(agent_id))

        self._wrap_ups[agent_id] = loop.call_later(self.settings.wrap_up_s, end)

    async def _end_wrap_up(self, agent_id: int) -> None:
        await asyncio.to_thread(self.queue.end_wrap_up, agent_id)
        self.kick()

    # --- helpers
    async def _ensure_holding_bridge(self) -> str:
        async with self._holding_lock:
            if self._holding is None:
                bridge_id = f"{HOLDING_PREFIX}{secrets.token_hex(4)}"
                await self.control.create_bridge(bridge_id, "holding")
                await self.control.start_bridge_moh(bridge_id)
                self._holding = bridge_id
            return self._holding

    async def _release_holding_if_empty(self) -> None:
        """Nobody waits: the holding bridge (and its music) goes; the next caller makes a new one."""
        async with self._holding_lock:
            if self._state.waiting or self._holding is None:
                return
            bridge_id, self._holding = self._holding, None
            with contextlib.suppress(Exception):
                await self.control.destroy_bridge(bridge_id)

    async def _find_bridge(self, channel_id: str, prefix: str) -> str | None:
        """The bridge of ours (by id prefix) that holds `channel_id`, if any."""
        with contextlib.suppress(Exception):
            for bridge in await self.control.bridges():
                bridge_id = str(bridge.get("id", ""))
                if bridge_id.startswith(prefix) and channel_id in bridge.get("channels", []):
                    return bridge_id
        return None

    async def _hangup(self, channel_id: str) -> None:
        with contextlib.suppress(Exception):
            await self.control.hangup(channel_id)

    def _spawn(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def waiting_entries(self) -> Sequence[int]:
        return list(self._state.waiting)

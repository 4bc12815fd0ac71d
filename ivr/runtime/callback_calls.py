"""Placing callbacks over ARI: the agent's phone first, then the citizen's over the carrier trunk, then the two
bridged. The queue (ivr.runtime.acd) decides when and to whom (a due callback keeps its caller's place); this
module dials, follows the two legs and reports each attempt's result (hotline.services.callbacks).

- Agent leg `hotline-callback-<id>-agent-<hex>`, ringing `ring_timeout_s` with the citizen's number as caller
  id. Not answered: AGENT_MISSED (the agent is paused "appel manqué", the callback is due again at once).
- Answered: the agent hears a French ringback tone while the citizen's leg `hotline-callback-<id>-citizen-<hex>`
  is dialled through the carrier (`PJSIP/carrier/sip:<number>@<trunk>`, the toll-free number as caller id).
- The citizen answers: a mixing bridge joins them (ANSWERED). No answer, busy or unreachable: the agent's leg is
  hung up and the attempt counted; the service says when the next one is due, or that the callback failed.
- Either side hangs up the conversation: the other leg is hung up, the agent goes to wrap-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from hotline.domain.callbacks import AttemptResult, result_of_hangup
from hotline.services.callbacks import CallbackConflictError, CallbackService, PlacedCallback

log = logging.getLogger(__name__)

CALLBACK_LEG_PREFIX = "hotline-callback-"
CALLBACK_BRIDGE_PREFIX = "hotline-cbconv-"
RINGBACK_MEDIA = "tone:ring;tonezone=fr"  # what the agent hears while the citizen's phone rings
CARRIER_ENDPOINT = "carrier"  # pjsip.conf's trunk endpoint (ivr/asterisk/config.py)


_CALLBACK_LEG = re.compile(rf"{CALLBACK_LEG_PREFIX}(\d+)-(agent|citizen)-[0-9a-f]+")


def is_callback_leg(channel_id: str) -> bool:
    return channel_id.startswith(CALLBACK_LEG_PREFIX)


def callback_leg_pairs(channel_ids: Iterable[str]) -> dict[int, tuple[str, str]]:
    """The callbacks whose agent and citizen legs are both among `channel_ids`: (agent leg, citizen leg) by id."""
    legs: dict[int, dict[str, str]] = {}
    for channel_id in channel_ids:
        match = _CALLBACK_LEG.fullmatch(channel_id)
        if match:
            legs.setdefault(int(match[1]), {})[match[2]] = channel_id
    return {cb: (pair["agent"], pair["citizen"]) for cb, pair in legs.items() if len(pair) == 2}


class CallbackControl(Protocol):
    async def originate(
        self,
        channel_id: str,
        endpoint: str,
        app: str,
        app_args: str,
        timeout_s: int,
        caller_id: str = "",
        variables: dict[str, str] | None = None,
    ) -> None: ...
    async def play(self, channel_id: str, playback_id: str, media: Any, lang: str = "fr") -> None: ...
    async def stop_playback(self, playback_id: str) -> None: ...
    async def create_bridge(self, bridge_id: str, bridge_type: str = "mixing") -> None: ...
    async def add_channel(self, bridge_id: str, channel_id: str) -> None: ...
    async def destroy_bridge(self, bridge_id: str) -> None: ...
    async def hangup(self, channel_id: str, reason: str = "normal") -> None: ...


@dataclass(frozen=True)
class CallbackDialling:
    app: str
    trunk: str  # host:port of the carrier
    caller_id: str  # the city's number, shown to the citizen
    agent_ring_timeout_s: int = 15
    citizen_ring_timeout_s: int = 30


@dataclass
class _Placing:
    placed: PlacedCallback
    agent_leg: str
    citizen_leg: str | None = None
    ringback: str | None = None
    bridge_id: str | None = None
    talking_since: float | None = None
    over: bool = False


class CallbackCalls:
    def __init__(
        self,
        control: CallbackControl,
        service: CallbackService,
        dialling: CallbackDialling,
        wrap_up: Callable[[int], None],
        kick: Callable[[], None],
    ) -> None:
        """`wrap_up(agent_id)`: start the agent's wrap-up timer (the queue's); `kick()`: distribute again."""
        self.control = control
        self.service = service
        self.dialling = dialling
        self._wrap_up = wrap_up
        self._kick = kick
        self._legs: dict[str, _Placing] = {}

    def owns(self, leg_id: str) -> bool:
        return leg_id in self._legs

    def is_placing(self, callback_id: int) -> bool:
        return any(p.placed.callback_id == callback_id for p in self._legs.values())

    async def place(self, callback_id: int, agent_id: int, *, anytime: bool = False) -> bool:
        """Offer the callback to the agent and ring their phone; False when someone else was faster."""
        try:
            placed = await asyncio.to_thread(self.service.offer, callback_id, agent_id, anytime=anytime)
        except CallbackConflictError as exc:
            log.info("callback %s: not offered to agent %s: %s", callback_id, agent_id, exc)
            return False
        await self.dial_agent(placed)
        return True

    async def dial_agent(self, placed: PlacedCallback) -> None:
        """Ring the agent of an offered callback (also for one offered by the API in another process)."""
        leg = f"{CALLBACK_LEG_PREFIX}{placed.callback_id}-agent-{secrets.token_hex(3)}"
        self._legs[leg] = _Placing(placed, leg)
        log.info(
            "callback %s: attempt %s, ringing agent %s", placed.callback_id, placed.attempt_number, placed.agent_id
        )
        try:
            await self.control.originate(
                leg,
                f"PJSIP/{placed.agent_endpoint}",
                self.dialling.app,
                f"callback-agent,{placed.callback_id}",
                self.dialling.agent_ring_timeout_s,
                caller_id=placed.phone,
            )
        except Exception:
            log.exception("callback %s: dialling agent %s failed", placed.callback_id, placed.agent_id)
            await self._attempt_over(self._legs.pop(leg), AttemptResult.AGENT_MISSED)

    def adopt(self, placed: PlacedCallback, agent_leg: str, citizen_leg: str, bridge_id: str, talking_s: float) -> None:
        """A conversation a previous run bridged, followed again: either hang-up ends the other leg."""
        placing = _Placing(placed, agent_leg, citizen_leg, bridge_id=bridge_id)
        placing.talking_since = time.monotonic() - max(0.0, talking_s)
        self._legs[agent_leg] = self._legs[citizen_leg] = placing
        log.info("callback %s: conversation taken over after a restart", placed.callback_id)

    async def leg_answered(self, leg_id: str) -> None:
        placing = self._legs.get(leg_id)
        if placing is None or placing.over:
            await self._hangup(leg_id)
            return
        if leg_id == placing.agent_leg:
            await self._agent_answered(placing)
        else:
            await self._citizen_answered(placing)

    async def _agent_answered(self, placing: _Placing) -> None:
        placed = placing.placed
        await asyncio.to_thread(self.service.agent_answered, placed)
        placing.ringback = f"{placing.agent_leg}-ringback"
        with contextlib.suppress(Exception):  # no ringback is no reason to give up the callback
            await self.control.play(placing.agent_leg, placing.ringback, [RINGBACK_MEDIA])
        leg = f"{CALLBACK_LEG_PREFIX}{placed.callback_id}-citizen-{secrets.token_hex(3)}"
        placing.citizen_leg = leg
        self._legs[leg] = placing
        try:
            await self.control.originate(
                leg,
                f"PJSIP/{CARRIER_ENDPOINT}/sip:{placed.phone}@{self.dialling.trunk}",
                self.dialling.app,
                f"callback-citizen,{placed.callback_id}",
                self.dialling.citizen_ring_timeout_s,
                caller_id=self.dialling.caller_id,
            )
        except Exception:
            log.exception("callback %s: dialling the citizen failed", placed.callback_id)
            await self._attempt_over(placing, AttemptResult.UNREACHABLE)

    async def _citizen_answered(self, placing: _Placing) -> None:
        assert placing.citizen_leg is not None
        if placing.ringback:
            with contextlib.suppress(Exception):
                await self.control.stop_playback(placing.ringback)
        bridge_id = f"{CALLBACK_BRIDGE_PREFIX}{placing.placed.callback_id}-{secrets.token_hex(4)}"
        placing.bridge_id = bridge_id
        try:
            await self.control.create_bridge(bridge_id, "mixing")
            await self.control.add_channel(bridge_id, placing.agent_leg)
            await self.control.add_channel(bridge_id, placing.citizen_leg)
        except Exception:
            log.exception("callback %s: bridging failed", placing.placed.callback_id)
            await self._attempt_over(placing, AttemptResult.UNREACHABLE)
            return
        placing.talking_since = time.monotonic()
        await asyncio.to_thread(self.service.attempt_ended, placing.placed, AttemptResult.ANSWERED)

    async def leg_gone(self, leg_id: str, cause: int | None) -> None:
        placing = self._legs.get(leg_id)
        if placing is None or placing.over:
            return
        if placing.talking_since is not None:  # a conversation ended
            placing.over = True
            self._forget(placing)
            await self._hangup_others(placing, leg_id)
            talk = time.monotonic() - placing.talking_since
            await asyncio.to_thread(self.service.conversation_ended, placing.placed, talk)
            self._wrap_up(placing.placed.agent_id)
            return
        if leg_id == placing.agent_leg:  # the agent did not answer, or hung up while the citizen's phone rang
            result = AttemptResult.AGENT_MISSED if placing.citizen_leg is None else AttemptResult.NO_ANSWER
        else:
            result = result_of_hangup(cause)
        await self._attempt_over(placing, result)

    async def _attempt_over(self, placing: _Placing, result: AttemptResult) -> None:
        placing.over = True
        self._forget(placing)
        await self._hangup_others(placing, None)
        state = await asyncio.to_thread(self.service.attempt_ended, placing.placed, result)
        if placing.citizen_leg is not None:  # the agent was on the line: a wrap-up to note the attempt
            self._wrap_up(placing.placed.agent_id)
        log.info("callback %s: attempt %s: %s, now %s", placing.placed.callback_id, placing.placed.attempt_number,
                 result.value, state.value)  # fmt: skip
        self._kick()

    def _forget(self, placing: _Placing) -> None:
        for leg in [placing.agent_leg, placing.citizen_leg]:
            if leg is not None:
                self._legs.pop(leg, None)

    async def _hangup_others(self, placing: _Placing, gone: str | None) -> None:
        for leg in (placing.agent_leg, placing.citizen_leg):
            if leg is not None and leg != gone:
                await self._hangup(leg)
        if placing.bridge_id:
            with contextlib.suppress(Exception):
                await self.control.destroy_bridge(placing.bridge_id)

    async def _hangup(self, channel_id: str) -> None:
        with contextlib.suppress(Exception):
            await self.control.hangup(channel_id)

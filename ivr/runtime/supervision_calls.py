"""A supervisor on an agent's live call, on the supervisor's own phone (the design of Asterisk's ChanSpy and of
Wazo): the supervisor's phone is dialled; once it answers it is connected to the conversation:

- listen: a snoop channel on the AGENT's leg (spy=both: what the agent says and hears), bridged with the
  supervisor's leg; nothing goes back (whisper=none).
- whisper: the same snoop with whisper=out: what the supervisor says is written to the agent's leg, so only the
  agent hears it.
- barge: the supervisor's leg joins the conversation's own bridge: both parties hear them.

The conversation ends: the supervisor's leg is hung up. The supervisor hangs up (or their phone does not answer
within the ring timeout): the snoop and the bridge made for them are destroyed. The rules and the audit are
hotline.services.call_supervision's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy.engine import Engine

from hotline.services.call_supervision import (
    NOT_ON_CALL,
    SupervisionMode,
    SupervisionOrder,
    SupervisionRefusedError,
    SupervisionStarted,
    audit_supervision,
    prepare_supervision,
)

log = logging.getLogger(__name__)

SUPERVISION_PREFIX = "hotline-supervise-"  # the supervisor's leg (…-phone) and its snoop channel (…-snoop)
SPY_BRIDGE_PREFIX = "hotline-spy-"  # the bridge of the supervisor's leg and the snoop
DEFAULT_RING_TIMEOUT_S = 20
SNOOP_READY_TIMEOUT_S = 5.0
WHISPER = {SupervisionMode.LISTEN: "none", SupervisionMode.WHISPER: "out"}


def is_supervision_channel(channel_id: str) -> bool:
    return channel_id.startswith(SUPERVISION_PREFIX)


class SupervisionControl(Protocol):
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
    async def snoop(self, channel_id: str, snoop_id: str, app: str, spy: str = "in", whisper: str = "none") -> None: ...
    async def create_bridge(self, bridge_id: str, bridge_type: str = "mixing") -> None: ...
    async def add_channel(self, bridge_id: str, channel_id: str) -> None: ...
    async def destroy_bridge(self, bridge_id: str) -> None: ...
    async def hangup(self, channel_id: str, reason: str = "normal") -> None: ...


@dataclass(frozen=True)
class LiveConversation:
    agent_leg: str
    bridge_id: str


@dataclass
class _Supervising:
    order: SupervisionOrder
    leg_id: str
    snoop_id: str
    bridge_id: str
    snoop_ready: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    answered: bool = False
    snooped: bool = False  # the snoop was asked for
    bridged: bool = False  # the bridge was asked for
    over: bool = False


class SupervisionCalls:
    def __init__(
        self,
        control: SupervisionControl,
        engine: Engine,
        app: str,
        conversation_of: Callable[[int], LiveConversation | None],
        ring_timeout_s: int = DEFAULT_RING_TIMEOUT_S,
    ) -> None:
        """`conversation_of(entry_id)`: the agent's leg and the bridge of a conversation this process holds."""
        self.control = control
        self.engine = engine
        self.app = app
        self.conversation_of = conversation_of
        self.ring_timeout_s = ring_timeout_s
        self._by_channel: dict[str, _Supervising] = {}  # by the supervisor's leg and by the snoop

    def owns(self, channel_id: str) -> bool:
        return channel_id in self._by_channel

    @property
    def active(self) -> list[SupervisionOrder]:
        return list({id(s): s.order for s in self._by_channel.values() if not s.over}.values())

    async def supervise(self, agent_id: int, supervisor_id: int, mode: SupervisionMode) -> SupervisionStarted:
        """Dial the supervisor's phone for the agent's conversation (SupervisionRefusedError with the French
        reason when not possible). Returns once the phone is ringing; the use is audited."""
        order = await asyncio.to_thread(prepare_supervision, self.engine, agent_id, supervisor_id, mode)
        if self.conversation_of(order.entry_id) is None:  # just ended, or held by another process
            raise SupervisionRefusedError(NOT_ON_CALL)
        if any(o.supervisor_id == supervisor_id for o in self.active):
            raise SupervisionRefusedError("Vous supervisez déjà un appel : raccrochez d'abord votre téléphone.")
        tag = secrets.token_hex(4)
        leg_id = f"{SUPERVISION_PREFIX}{tag}-phone"
        supervising = _Supervising(order, leg_id, f"{SUPERVISION_PREFIX}{tag}-snoop", f"{SPY_BRIDGE_PREFIX}{tag}")
        self._by_channel[leg_id] = self._by_channel[supervising.snoop_id] = supervising
        try:
            await self.control.originate(
                leg_id,
                f"PJSIP/{order.supervisor_endpoint}",
                self.app,
                f"supervise,{order.entry_id}",
                self.ring_timeout_s,
                caller_id=order.caller_id,
            )
        except Exception as exc:
            log.exception("supervision: dialling %s failed", order.supervisor_endpoint)
            await self._end(supervising)
            raise SupervisionRefusedError("Votre téléphone n'a pas pu être appelé.") from exc
        await asyncio.to_thread(audit_supervision, self.engine, order)
        log.info("supervision: %s %s agent %s (call %s)", order.supervisor_login, mode.value, order.agent_login,
                 order.call_id)  # fmt: skip
        return SupervisionStarted(mode, order.agent_login, order.call_id)

    # --- the channels' events (ivr.runtime.acd passes them on)
    async def leg_answered(self, channel_id: str) -> None:
        """A channel of ours entered Stasis: the supervisor answered, or the snoop is ready."""
        supervising = self._by_channel.get(channel_id)
        if supervising is None or supervising.over:
            await self._hangup(channel_id)
            return
        if channel_id == supervising.snoop_id:
            if not supervising.snoop_ready.done():
                supervising.snoop_ready.set_result(None)
            return
        supervising.answered = True
        conversation = self.conversation_of(supervising.order.entry_id)
        if conversation is None:
            await self._end(supervising)
            return
        try:
            await self._connect(supervising, conversation)
        except Exception:
            log.exception("supervision: connecting %s failed", supervising.leg_id)
            await self._end(supervising)

    async def _connect(self, supervising: _Supervising, conversation: LiveConversation) -> None:
        mode = supervising.order.mode
        if mode is SupervisionMode.BARGE:
            await self.control.add_channel(conversation.bridge_id, supervising.leg_id)
            return
        supervising.snooped = True
        await self.control.snoop(
            conversation.agent_leg, supervising.snoop_id, self.app, spy="both", whisper=WHISPER[mode]
        )
        async with asyncio.timeout(SNOOP_READY_TIMEOUT_S):  # bridged only once in Stasis (else ARI answers 422)
            await asyncio.shield(supervising.snoop_ready)
        if supervising.over:
            await self._hangup(supervising.snoop_id)  # it may have been made after the hang-up was sent
            return
        supervising.bridged = True
        await self.control.create_bridge(supervising.bridge_id, "mixing")
        if supervising.over:  # hung up meanwhile: the bridge made after it goes too
            await self._destroy(supervising.bridge_id)
            return
        await self.control.add_channel(supervising.bridge_id, f"{supervising.leg_id},{supervising.snoop_id}")

    async def leg_gone(self, channel_id: str) -> None:
        """The supervisor hung up (or never answered), or the snoop ended with the agent's leg: all of it ends."""
        supervising = self._by_channel.get(channel_id)
        if supervising is not None and not supervising.over:
            await self._end(supervising)

    async def conversation_over(self, entry_id: int) -> None:
        """The conversation ended (or was passed on): its supervisors' phones are hung up."""
        for supervising in {id(s): s for s in self._by_channel.values()}.values():
            if supervising.order.entry_id == entry_id and not supervising.over:
                await self._end(supervising)

    async def _end(self, supervising: _Supervising) -> None:
        supervising.over = True
        for channel_id in (supervising.leg_id, supervising.snoop_id):
            self._by_channel.pop(channel_id, None)
        if not supervising.snoop_ready.done():
            supervising.snoop_ready.set_result(None)  # whoever waits for it sees `over`
        await self._hangup(supervising.leg_id)
        if supervising.snooped:
            await self._hangup(supervising.snoop_id)
        if supervising.bridged:
            await self._destroy(supervising.bridge_id)

    async def _destroy(self, bridge_id: str) -> None:
        with contextlib.suppress(Exception):
            await self.control.destroy_bridge(bridge_id)

    async def _hangup(self, channel_id: str) -> None:
        with contextlib.suppress(Exception):
            await self.control.hangup(channel_id)

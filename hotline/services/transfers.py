"""An agent's transfer request, checked against the database before the queue carries it out: the caller must be
in a conversation with this agent; the target agent must exist, be active and not be the agent; the skill must be
a topic of the knowledge base. The queue (ivr.runtime.acd) then moves the caller."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from hotline.domain.enums import QueueEntryState
from hotline.domain.transfers import TransferKind, TransferTarget, parse_target
from hotline.services.unit_of_work import unit_of_work
from hotline.storage.models import Agent, QueueEntry


class TransferRefusedError(RuntimeError):
    """Not now or not there: the message says why (409)."""


class TransferNotFoundError(LookupError):
    """No such call or agent (404)."""


@dataclass(frozen=True)
class TransferOrder:
    entry_id: int
    call_id: int
    agent_id: int
    agent_name: str
    target: TransferTarget
    label: str  # the target as the ticket says it: an agent's name, a topic, a number
    target_agent_id: int | None = None
    topic: str | None = None  # the topic the caller waits for, when back in the queue


class TransferDesk(Protocol):
    """What carries transfers out (the queue, ivr.runtime.acd.Acd)."""

    async def transfer(self, order: TransferOrder, attended: bool = False) -> None: ...
    async def complete_transfer(self, entry_id: int) -> None: ...
    async def cancel_transfer(self, entry_id: int) -> None: ...


def conversation_of(engine: Engine, call_id: int, agent_id: int) -> int:
    """The queue entry of `call_id`'s conversation with `agent_id` (TransferNotFoundError, TransferRefusedError)."""
    with unit_of_work(engine, None, write=False) as uow:
        entry = uow.session.exec(
            select(QueueEntry).where(QueueEntry.call_id == call_id).order_by(col(QueueEntry.id).desc())
        ).first()
        if entry is None or entry.id is None:
            raise TransferNotFoundError(f"aucun appel n° {call_id} dans la file")
        talking = entry.state is QueueEntryState.ANSWERED and entry.left_at is None
        if not talking or entry.answered_by_agent_id != agent_id:
            raise TransferRefusedError("cet appel n'est pas en conversation avec vous")
        return entry.id


def prepare_transfer(engine: Engine, topics: Collection[str], call_id: int, agent_id: int, to: str) -> TransferOrder:
    """The order for the queue (TransferTargetError when `to` does not parse)."""
    target = parse_target(to)
    entry_id = conversation_of(engine, call_id, agent_id)
    with unit_of_work(engine, None, write=False) as uow:
        s = uow.session
        entry = s.get(QueueEntry, entry_id)
        assert entry is not None and entry.id is not None
        agent = s.get(Agent, agent_id)
        assert agent is not None
        order = TransferOrder(entry.id, call_id, agent_id, agent.display_name, target, target.value, topic=entry.topic)
        match target.kind:
            case TransferKind.AGENT:
                other = s.exec(select(Agent).where(Agent.login == target.value)).first()
                if other is None or not other.active:
                    raise TransferNotFoundError(f"aucun conseiller actif « {target.value} »")
                if other.id == agent_id:
                    raise TransferRefusedError("vous ne pouvez pas vous transférer un appel")
                return TransferOrder(entry.id, call_id, agent_id, agent.display_name, target, other.display_name,
                                     target_agent_id=other.id, topic=entry.topic)  # fmt: skip
            case TransferKind.SKILL:
                if target.value not in topics:
                    known = ", ".join(sorted(topics))
                    raise TransferNotFoundError(f"aucun sujet « {target.value} » (sujets : {known})")
                return TransferOrder(entry.id, call_id, agent_id, agent.display_name, target, target.value,
                                     topic=target.value)  # fmt: skip
            case TransferKind.NUMBER:
                return order

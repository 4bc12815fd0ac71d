"""A supervisor listens to, whispers to, or joins an agent's live call, on the supervisor's own phone.

The rules are checked here against the database (who may be supervised, and by whom); the IVR (ivr.runtime.
supervision_calls) then dials the supervisor's phone and connects it. Each use is audited: the supervisor's
login, "supervision.listen|whisper|barge", the agent's login and the call's id.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from hotline.domain.enums import AgentState, QueueEntryState
from hotline.services.unit_of_work import unit_of_work
from hotline.storage import repository
from hotline.storage.models import Agent, QueueEntry

NOT_ON_CALL = "Ce conseiller n'est pas en communication."


class SupervisionMode(StrEnum):
    LISTEN = "listen"  # the supervisor hears both parties; nobody hears them
    WHISPER = "whisper"  # the agent hears the supervisor too; the caller does not
    BARGE = "barge"  # the supervisor joins the conversation: both parties hear them


# What the supervisor's phone shows when it rings: the mode, then the agent's name.
CALLER_ID_LABELS = {
    SupervisionMode.LISTEN: "Écoute",
    SupervisionMode.WHISPER: "Chuchotement",
    SupervisionMode.BARGE: "Intervention",
}


class SupervisionRefusedError(RuntimeError):
    """Not possible now: the message says why, in French (409)."""


class SupervisionNotFoundError(LookupError):
    """No such agent (404)."""


@dataclass(frozen=True)
class SupervisionOrder:
    mode: SupervisionMode
    agent_id: int
    agent_login: str
    agent_name: str
    supervisor_id: int
    supervisor_login: str
    supervisor_endpoint: str  # the PJSIP endpoint of the supervisor's own phone
    call_id: int
    entry_id: int  # the queue entry of the agent's conversation

    @property
    def caller_id(self) -> str:
        """e.g. "Écoute Agent Alice" <supervision>: shown on the supervisor's phone."""
        name = f"{CALLER_ID_LABELS[self.mode]} {self.agent_name}".replace('"', "")
        return f'"{name}" <supervision>'


@dataclass(frozen=True)
class SupervisionStarted:
    mode: SupervisionMode
    agent: str  # the agent's login
    call_id: int


class SupervisionDesk(Protocol):
    """What dials the supervisor's phone and connects it to the call (the IVR's ivr.runtime.supervision_calls)."""

    async def supervise(self, agent_id: int, supervisor_id: int, mode: SupervisionMode) -> SupervisionStarted: ...


def agent_id_of(engine: Engine, login: str) -> int:
    """The id of the active agent `login` (SupervisionNotFoundError)."""
    with unit_of_work(engine, None, write=False) as uow:
        agent = uow.session.exec(select(Agent).where(Agent.login == login)).first()
        if agent is None or agent.id is None or not agent.active:
            raise SupervisionNotFoundError(f"Aucun conseiller actif « {login} ».")
        return agent.id


def prepare_supervision(engine: Engine, agent_id: int, supervisor_id: int, mode: SupervisionMode) -> SupervisionOrder:
    """The order for the IVR, once the rules allow it (SupervisionNotFoundError, SupervisionRefusedError)."""
    with unit_of_work(engine, None, write=False) as uow:
        s = uow.session
        agent = s.get(Agent, agent_id)
        if agent is None or agent.id is None or not agent.active:
            raise SupervisionNotFoundError("Conseiller inconnu.")
        supervisor = s.get(Agent, supervisor_id)
        if supervisor is None or supervisor.id is None or not supervisor.active:
            raise SupervisionRefusedError("Votre compte n'est pas actif.")
        if supervisor.id == agent.id:
            raise SupervisionRefusedError("Vous ne pouvez pas vous écouter vous-même.")
        if not supervisor.sip_endpoint:
            raise SupervisionRefusedError("Votre compte n'a pas de téléphone à appeler.")
        if supervisor.state in (AgentState.ON_CALL, AgentState.RINGING):
            raise SupervisionRefusedError("Vous êtes vous-même en communication : votre téléphone est occupé.")
        entry = s.exec(
            select(QueueEntry)
            .where(
                QueueEntry.answered_by_agent_id == agent.id,
                QueueEntry.state == QueueEntryState.ANSWERED,
                col(QueueEntry.left_at).is_(None),
            )
            .order_by(col(QueueEntry.id).desc())
        ).first()
        if agent.state is not AgentState.ON_CALL or entry is None or entry.id is None:
            raise SupervisionRefusedError(NOT_ON_CALL)
        return SupervisionOrder(
            mode=mode,
            agent_id=agent.id,
            agent_login=agent.login,
            agent_name=agent.display_name,
            supervisor_id=supervisor.id,
            supervisor_login=supervisor.login,
            supervisor_endpoint=supervisor.sip_endpoint,
            call_id=entry.call_id,
            entry_id=entry.id,
        )


def audit_supervision(engine: Engine, order: SupervisionOrder) -> None:
    """Who listened to (whispered to, joined) whom, on which call."""
    with unit_of_work(engine, None) as uow:
        details = {"call_id": order.call_id, "entry_id": order.entry_id}
        repository.audit(uow.session, order.supervisor_login, f"supervision.{order.mode.value}", order.agent_login,
                         details)  # fmt: skip

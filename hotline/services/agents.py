"""Agents' states: each change written with its history row and announced after commit."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from hotline import bus as events
from hotline.bus import EventBus
from hotline.domain.enums import AgentState
from hotline.services.unit_of_work import unit_of_work
from hotline.storage import repository
from hotline.storage.models import Agent


class AgentNotFoundError(LookupError):
    pass


class AgentService:
    def __init__(self, engine: Engine, bus: EventBus | None) -> None:
        self.engine = engine
        self.bus = bus

    def set_state(self, agent_id: int, new_state: AgentState, *, reason: str | None = None) -> Agent:
        with unit_of_work(self.engine, self.bus) as uow:
            agent = uow.session.get(Agent, agent_id)
            if agent is None:
                raise AgentNotFoundError(f"no agent {agent_id}")
            old = agent.state
            if repository.set_agent_state(uow.session, agent, new_state, reason=reason) is not None:
                uow.publish(
                    events.AgentStateChanged(agent_id=agent_id, from_state=old, to_state=new_state, reason=reason)
                )
            return agent

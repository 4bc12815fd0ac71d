"""Agents' states: each change checked against the rules, written with its history row and announced after commit."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from hotline import bus as events
from hotline.bus import EventBus
from hotline.domain.agent_states import FRENCH_STATES, check_transition
from hotline.domain.enums import AgentState
from hotline.services.unit_of_work import UnitOfWork, unit_of_work
from hotline.storage import repository
from hotline.storage.models import Agent


class AgentNotFoundError(LookupError):
    pass


def move_agent_in(
    uow: UnitOfWork, agent: Agent, new_state: AgentState, *, reason: str | None = None, force: bool = False
) -> None:
    """Move `agent` to `new_state` in the caller's unit of work: the rules checked (unless `force`, for an account
    being disabled), the history row written, the event published after the commit. No change: nothing."""
    if not force:
        check_transition(agent.state, new_state)
    old = agent.state
    if repository.set_agent_state(uow.session, agent, new_state, reason=reason) is not None:
        assert agent.id is not None
        uow.publish(events.AgentStateChanged(agent_id=agent.id, from_state=old, to_state=new_state, reason=reason))


# Who may be offered a call: a free agent, or one in wrap-up who takes it themselves (the console's buttons).
OFFERABLE_STATES = frozenset({AgentState.AVAILABLE, AgentState.WRAP_UP})


def why_not_offerable(agent: Agent | None, agent_id: int) -> str | None:
    """Why this agent cannot be offered a call now (None: they can)."""
    if agent is None or not agent.active:
        return f"aucun conseiller actif n° {agent_id}"
    if agent.state not in OFFERABLE_STATES:
        return f"{agent.login} est {FRENCH_STATES[agent.state]}"
    return None


class AgentService:
    def __init__(self, engine: Engine, bus: EventBus | None) -> None:
        self.engine = engine
        self.bus = bus

    def set_state(self, agent_id: int, new_state: AgentState, *, reason: str | None = None) -> Agent:
        with unit_of_work(self.engine, self.bus) as uow:
            agent = uow.session.get(Agent, agent_id)
            if agent is None:
                raise AgentNotFoundError(f"no agent {agent_id}")
            move_agent_in(uow, agent, new_state, reason=reason)
            return agent

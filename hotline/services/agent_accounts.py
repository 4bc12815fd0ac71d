"""Agent accounts: create, list, disable, set skills; web passwords hashed with Argon2id, SIP passwords generated.

The plain SIP password is returned once, by `add`, for the person to type into their phone; only its digest is
kept (Asterisk checks REGISTERs against it). Pushing the phones to Asterisk is the caller's business
(`hotline agent ...` and the running service both do it): this module touches the database only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from hotline.bus import EventBus
from hotline.domain.agents import AgentAccountError, check_login, check_password, sip_digest
from hotline.domain.enums import AgentState
from hotline.domain.roles import Role
from hotline.secrets_store import SIP_PASSWORD_BYTES, new_secret
from hotline.services.agents import move_agent_in
from hotline.services.unit_of_work import unit_of_work
from hotline.storage import repository
from hotline.storage.models import Agent

_hasher = PasswordHasher()  # argon2-cffi's defaults: Argon2id, RFC 9106 "low memory" profile


class AgentExistsError(AgentAccountError):
    pass


class UnknownAgentError(LookupError):
    pass


@dataclass(frozen=True)
class NewAgent:
    agent: Agent
    sip_password: str  # shown once


@dataclass(frozen=True)
class PhoneCredential:
    endpoint: str
    digest: str
    display_name: str


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


class AgentAccounts:
    def __init__(self, engine: Engine, bus: EventBus | None = None) -> None:
        self.engine = engine
        self.bus = bus

    def add(
        self, login: str, name: str, role: Role, skills: Sequence[str], password: str, *, actor: str = "cli"
    ) -> NewAgent:
        check_login(login)
        check_password(password)
        name = name.strip()
        if not name:
            raise AgentAccountError("le nom ne doit pas être vide")
        sip_password = new_secret(SIP_PASSWORD_BYTES)
        with unit_of_work(self.engine, self.bus) as uow:
            if uow.session.exec(select(Agent).where(Agent.login == login)).first() is not None:
                raise AgentExistsError(f"un agent « {login} » existe déjà")
            agent = Agent(
                login=login,
                display_name=name,
                role=role,
                sip_endpoint=login,
                skills=list(skills),
                password_hash=hash_password(password),
                sip_digest=sip_digest(login, sip_password),
            )
            uow.session.add(agent)
            uow.session.flush()
            repository.audit(uow.session, actor, "agent.add", login, {"role": role.value, "skills": list(skills)})
            uow.session.refresh(agent)
            uow.session.expunge(agent)
        return NewAgent(agent, sip_password)

    def all(self) -> list[Agent]:
        with unit_of_work(self.engine, None, write=False) as uow:
            agents = list(uow.session.exec(select(Agent).order_by(Agent.login)))
            for agent in agents:
                uow.session.expunge(agent)
            return agents

    def get(self, login: str) -> Agent:
        with unit_of_work(self.engine, None, write=False) as uow:
            agent = uow.session.exec(select(Agent).where(Agent.login == login)).first()
            if agent is None:
                raise UnknownAgentError(f"aucun agent « {login} »")
            uow.session.expunge(agent)
            return agent

    def disable(self, login: str, *, actor: str = "cli") -> Agent:
        """The person leaves: no more sign-in nor phone; their history stays."""
        with unit_of_work(self.engine, self.bus) as uow:
            agent = self._find(uow.session, login)
            agent.active = False
            move_agent_in(uow, agent, AgentState.OFFLINE, reason="compte désactivé", force=True)
            uow.session.add(agent)
            repository.audit(uow.session, actor, "agent.disable", login)
            uow.session.flush()
            uow.session.refresh(agent)
            uow.session.expunge(agent)
            return agent

    def set_skills(self, login: str, skills: Sequence[str], *, actor: str = "cli") -> Agent:
        with unit_of_work(self.engine, self.bus) as uow:
            agent = self._find(uow.session, login)
            agent.skills = list(skills)
            uow.session.add(agent)
            repository.audit(uow.session, actor, "agent.set_skills", login, {"skills": list(skills)})
            uow.session.flush()
            uow.session.refresh(agent)
            uow.session.expunge(agent)
            return agent

    def set_role(self, login: str, role: Role, *, actor: str) -> Agent:
        with unit_of_work(self.engine, self.bus) as uow:
            agent = self._find(uow.session, login)
            before = agent.role
            agent.role = role
            uow.session.add(agent)
            repository.audit(uow.session, actor, "agent.set_role", login, {"from": before.value, "to": role.value})
            uow.session.flush()
            uow.session.refresh(agent)
            uow.session.expunge(agent)
            return agent

    def reset_sip_password(self, login: str, *, actor: str) -> str:
        """A new SIP password for the agent's phone, returned once (only its digest is kept)."""
        sip_password = new_secret(SIP_PASSWORD_BYTES)
        with unit_of_work(self.engine, self.bus) as uow:
            agent = self._find(uow.session, login)
            if not agent.active:
                raise AgentAccountError(f"{login} est désactivé : son téléphone n'a plus de compte")
            agent.sip_digest = sip_digest(agent.sip_endpoint, sip_password)
            uow.session.add(agent)
            repository.audit(uow.session, actor, "agent.reset_sip_password", login)
        return sip_password

    def phones(self) -> tuple[list[PhoneCredential], list[str]]:
        """The phones Asterisk must have (one per active agent), and the endpoints of disabled agents."""
        agents = self.all()
        active = [
            PhoneCredential(a.sip_endpoint, a.sip_digest, a.display_name) for a in agents if a.active and a.sip_digest
        ]
        return active, [a.sip_endpoint for a in agents if not a.active]

    @staticmethod
    def _find(session: Session, login: str) -> Agent:
        agent = session.exec(select(Agent).where(Agent.login == login)).first()
        if agent is None:
            raise UnknownAgentError(f"aucun agent « {login} »")
        return agent

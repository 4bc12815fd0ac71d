"""What routes may ask for: the parts the composition root gave the web app, a database session per
request, the signed-in agent and a role check."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from sqlalchemy.engine import Engine
from sqlmodel import Session

from hotline.bus import EventBus
from hotline.domain.agent_states import DEFAULT_PAUSE_REASONS
from hotline.domain.callbacks import DEFAULT_HOURS as DEFAULT_CALLBACK_HOURS
from hotline.domain.report_days import parse_day_start
from hotline.domain.roles import Role
from hotline.services.call_supervision import SupervisionDesk
from hotline.services.crisis import Announcements, CrisisService
from hotline.services.messages import RecordingSource
from hotline.services.site_settings import Defaults, SiteSettings
from hotline.services.supervision import Supervision, SupervisionRules
from hotline.services.transfers import TransferDesk
from hotline.services.web_sessions import WebSessions
from kb.loader import KnowledgeBase
from kb.matcher import Matcher


@dataclass(frozen=True)
class WebParts:
    """What the web app needs, as plain values and callables: it never sees the IVR itself."""

    engine: Engine
    kb: KnowledgeBase
    matcher: Callable[[], Matcher]  # shared with the IVR; built on first use (the encoder takes a second)
    ari_connected: Callable[[], bool]
    bus: EventBus | None = None
    sessions: WebSessions | None = None  # None: built on the engine
    pause_reasons: tuple[str, ...] = DEFAULT_PAUSE_REASONS
    secure_cookies: bool = False  # True behind HTTPS
    transfers: TransferDesk | None = None  # the queue, when the IVR runs in this process
    supervising: SupervisionDesk | None = None  # listening, whispering, joining: the IVR, when in this process
    recordings: RecordingSource | None = None  # the callers' messages, through the IVR's ARI client
    session_idle_s: int = 1800  # a session unused this long ends
    wrap_up_s: float = 30.0  # the wrap-up after each call (the console counts it down)
    hotline_number: str = "0800123456"  # the numéro vert, said to whoever files a request
    callback_hours: str = DEFAULT_CALLBACK_HOURS  # until an admin sets them
    push_phones: Callable[[], str | None] | None = None  # the agents' phones to Asterisk; a French note if not
    supervision: Supervision | None = None  # None: built on the engine with the default rules
    crisis: CrisisService | None = None  # the IVR's own (a switch reaches new calls at once); None: built here
    announcements: Announcements | None = None  # previews and uploads of the pre-announcement (the IVR's voice)
    metrics: Callable[[], bytes] | None = None  # the Prometheus text of /metrics

    @cached_property
    def crisis_mode(self) -> CrisisService:
        return self.crisis if self.crisis is not None else CrisisService(self.engine, self.bus)

    @cached_property
    def supervisor(self) -> Supervision:
        return (
            self.supervision
            if self.supervision is not None
            else Supervision(self.engine, SupervisionRules(day_start=parse_day_start(self.day_start)), self.timezone)
        )

    timezone: str = "Europe/Paris"  # the city's time zone, for the reporting day
    day_start: str = "00:00"  # when the reporting day starts (HH:MM, local time)

    @cached_property
    def _own_sessions(self) -> WebSessions:
        return WebSessions(self.engine, idle=timedelta(seconds=self.session_idle_s))

    def web_sessions(self) -> WebSessions:
        return self.sessions if self.sessions is not None else self._own_sessions

    @cached_property
    def site(self) -> SiteSettings:
        """The pause reasons and callback hours, as an admin last set them."""
        return SiteSettings(self.engine, Defaults(self.pause_reasons, self.callback_hours))


def get_parts(request: Request) -> WebParts:
    parts: WebParts = request.app.state.parts
    return parts


PartsDep = Annotated[WebParts, Depends(get_parts)]


def get_session(parts: PartsDep) -> Iterator[Session]:
    with Session(parts.engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


@dataclass(frozen=True)
class AuthenticatedAgent:
    """The person behind a request, as the authentication layer found them."""

    agent_id: int
    login: str
    role: Role


def sign_in(request: Request, agent: AuthenticatedAgent) -> None:
    """For the authentication layer: the request is made by `agent` from here on."""
    request.state.agent = agent


SESSION_COOKIE = "hotline_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def current_user(request: Request) -> AuthenticatedAgent:
    """The agent signed in by the session cookie (or by `sign_in`); a state-changing request with the cookie
    must also carry the session's CSRF token in the X-CSRF-Token header."""
    agent = getattr(request.state, "agent", None)
    if isinstance(agent, AuthenticatedAgent):
        return agent
    token = request.cookies.get(SESSION_COOKIE)
    found = get_parts(request).web_sessions().lookup(token) if token else None
    if found is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Veuillez vous identifier.")
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not secrets.compare_digest(sent.encode(), found.csrf_token.encode()):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "Jeton CSRF absent ou invalide (en-tête X-CSRF-Token).")
    agent = AuthenticatedAgent(agent_id=found.agent_id, login=found.login, role=found.role)
    request.state.agent = agent
    return agent


CurrentUser = Annotated[AuthenticatedAgent, Depends(current_user)]


def require_role(*roles: Role) -> Callable[[AuthenticatedAgent], AuthenticatedAgent]:
    """A dependency that lets through only the signed-in agents with one of `roles`."""
    if not roles:
        raise ValueError("require_role needs at least one role")
    allowed = frozenset(roles)

    def check(agent: CurrentUser) -> AuthenticatedAgent:
        if agent.role not in allowed:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "Accès refusé : votre rôle ne permet pas cette action.")
        return agent

    return check

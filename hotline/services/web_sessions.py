"""Signing in to the console and the API: server-side sessions (revocable), CSRF tokens, and a slowdown after
repeated failed sign-ins.

The cookie holds a random token; the table keeps only its SHA-256, with the session's CSRF token, its agent and
its expiry. Signing out, disabling the agent or an expiry ends the session at once. A session expires after
`idle` without a request (each request pushes the expiry back), and in any case SESSION_TTL after sign-in.
Failed sign-ins are logged with the login and the address.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import select

from hotline.domain.roles import Role
from hotline.services.agent_accounts import password_matches
from hotline.services.unit_of_work import unit_of_work
from hotline.storage.models import Agent, WebSession, utc_now

log = logging.getLogger(__name__)

SESSION_TTL = timedelta(hours=12)  # one working day; the agent signs in again the next morning
DEFAULT_IDLE = timedelta(minutes=30)  # a console left alone this long asks for the password again
# The expiry is written again only when it has slid by this much: not one database write per request.
IDLE_BUMP_STEP = timedelta(seconds=60)
FAILURES_BEFORE_SLOWDOWN = 5
SLOWDOWN_BASE_S = 2.0  # then 2, 4, 8... seconds between attempts, up to SLOWDOWN_MAX_S
SLOWDOWN_MAX_S = 300.0
FAILURE_MEMORY_S = 900.0  # failures older than this are forgotten


@dataclass(frozen=True)
class SignedIn:
    token: str  # for the cookie
    csrf_token: str
    agent_id: int
    login: str
    role: Role


@dataclass(frozen=True)
class SessionAgent:
    agent_id: int
    login: str
    role: Role
    csrf_token: str


class TooManyAttemptsError(RuntimeError):
    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"too many failed sign-ins: try again in {retry_after_s:.0f} s")
        self.retry_after_s = retry_after_s


def _aware(moment: datetime) -> datetime:
    """SQLite gives back naive datetimes (written in UTC)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SignInThrottle:
    """Failed sign-ins per key (a login, an address): past FAILURES_BEFORE_SLOWDOWN, each new attempt must wait
    an exponentially growing delay. In memory: a restart forgives, which is fine for slowing a guesser down."""

    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()
        self._now = now

    def check(self, *keys: str) -> None:
        now = self._now()
        with self._lock:
            for key in keys:
                recent = [t for t in self._failures.get(key, []) if now - t < FAILURE_MEMORY_S]
                self._failures[key] = recent
                extra = len(recent) - FAILURES_BEFORE_SLOWDOWN
                if extra >= 0 and recent:
                    wait = min(SLOWDOWN_MAX_S, SLOWDOWN_BASE_S * 2**extra)
                    left = recent[-1] + wait - now
                    if left > 0:
                        raise TooManyAttemptsError(left)

    def failed(self, *keys: str) -> None:
        now = self._now()
        with self._lock:
            for key in keys:
                self._failures.setdefault(key, []).append(now)

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)


class WebSessions:
    def __init__(self, engine: Engine, throttle: SignInThrottle | None = None, idle: timedelta = DEFAULT_IDLE) -> None:
        self.engine = engine
        self.throttle = throttle or SignInThrottle()
        self.idle = idle

    def sign_in(self, login: str, password: str, address: str = "") -> SignedIn | None:
        """None on bad credentials (unknown login, wrong password, disabled account: the same answer)."""
        keys = (f"login:{login}", f"address:{address}")
        try:
            self.throttle.check(*keys)
        except TooManyAttemptsError as exc:
            log.warning("sign-in refused for %r from %s: slowed down for %.0f s", login, address, exc.retry_after_s)
            raise
        with unit_of_work(self.engine, None) as uow:
            agent = uow.session.exec(select(Agent).where(Agent.login == login)).first()
            if agent is None or not agent.active or not password_matches(agent.password_hash, password):
                self.throttle.failed(*keys)
                log.warning("sign-in failed for %r from %s", login, address)
                return None
            assert agent.id is not None
            token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
            now = utc_now()
            uow.session.add(
                WebSession(
                    token_hash=_digest(token),
                    agent_id=agent.id,
                    csrf_token=csrf,
                    created_at=now,
                    expires_at=now + min(self.idle, SESSION_TTL),
                )
            )
            self.throttle.succeeded(*keys)
            return SignedIn(token, csrf, agent.id, agent.login, agent.role)

    def lookup(self, token: str, now: datetime | None = None) -> SessionAgent | None:
        """The session's agent, or None when the token is unknown, expired, revoked, or the agent disabled."""
        moment = now or utc_now()
        with unit_of_work(self.engine, None) as uow:
            row = uow.session.get(WebSession, _digest(token))
            if row is None or row.revoked_at is not None or _aware(row.expires_at) <= moment:
                return None
            agent = uow.session.get(Agent, row.agent_id)
            if agent is None or not agent.active or agent.id is None:
                return None
            pushed = min(moment + self.idle, _aware(row.created_at) + SESSION_TTL)
            if pushed - _aware(row.expires_at) >= IDLE_BUMP_STEP:  # still in use: the idle timer starts again
                row.expires_at = pushed
                uow.session.add(row)
            return SessionAgent(agent.id, agent.login, agent.role, row.csrf_token)

    def sign_out(self, token: str) -> None:
        with unit_of_work(self.engine, None) as uow:
            row = uow.session.get(WebSession, _digest(token))
            if row is not None and row.revoked_at is None:
                row.revoked_at = utc_now()
                uow.session.add(row)

"""The hotline's tables (SQLModel) and the read schemas the API returns.

Conventions:
- timestamps are `datetime`: SQLModel (>= 0.0.45) stores them in a `DateTime(timezone=True)` column through
  its UTCDateTime type, rejects naive values and returns aware UTC datetimes on SQLite and PostgreSQL alike;
- enums are the StrEnums of hotline.domain.enums, stored as their value in a plain VARCHAR (no native
  PostgreSQL ENUM: adding a state stays a one-line change, with no ALTER TYPE migration);
- table and column names are snake_case; constraint names follow NAMING_CONVENTION so that Alembic's batch
  mode on SQLite can find and alter them later.
"""

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

from sqlalchemy import JSON, Index, String, Text
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from hotline.domain.dossier import DOSSIER_LENGTH
from hotline.domain.enums import (
    AgentState,
    CallbackState,
    CallOutcome,
    QueueEntryState,
    ResidentChannel,
    TicketStatus,
)
from hotline.domain.roles import Role

# Explicit names for every constraint and index: SQLite batch migrations can only drop what has a name.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION

# Column sizes. PostgreSQL enforces them; SQLite does not, so the Create schemas validate them too.
ENUM_LENGTH = 32  # longest state name is "callback_requested" (18)
PHONE_LENGTH = 32  # E.164 is at most 16 characters; room for "anonymous" or a SIP user part
CHANNEL_ID_LENGTH = 64  # Asterisk unique ids look like "1700000000.42" or "<systemname>-1700000000.42"
FAQ_ID_LENGTH = 128  # KB ids are "<topic>.<slug>"
COMMUNE_LENGTH = 64
RECORDING_NAME_LENGTH = 128
TOPIC_LENGTH = 64
SERVICE_LENGTH = 64
ORIGIN_LENGTH = 16
ORIGIN_PHONE = "phone"
ADDRESS_LENGTH = 500
KEY_HASH_LENGTH = 64  # SHA-256 in hex
SUBJECT_LENGTH = 200
LOGIN_LENGTH = 64
DISPLAY_NAME_LENGTH = 128
SIP_ENDPOINT_LENGTH = 64
EVENT_KIND_LENGTH = 32
REASON_LENGTH = 500
ACTION_LENGTH = 64
TARGET_LENGTH = 200
HASH_LENGTH = 255
E164_LENGTH = 16  # "+" and at most 15 digits
HAMLET_LENGTH = 64

DEFAULT_PRIORITY = 0  # higher numbers are served first; crisis topics raise it

E = TypeVar("E", bound=StrEnum)


class StrEnumType(TypeDecorator[E], Generic[E]):
    """A StrEnum stored as its value in a VARCHAR, read back as the enum member."""

    impl = String
    cache_ok = True

    def __init__(self, enum_class: type[E], length: int = ENUM_LENGTH) -> None:
        too_long = [member.value for member in enum_class if len(member.value) > length]
        if too_long:
            raise ValueError(f"{enum_class.__name__} values longer than {length}: {too_long}")
        super().__init__(length=length)
        self.enum_class = enum_class

    def process_bind_param(self, value: E | str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return self.enum_class(value).value  # raises ValueError on a value outside the enum

    def process_result_value(self, value: Any | None, dialect: Dialect) -> E | None:
        if value is None:
            return None
        return self.enum_class(value)


def utc_now() -> datetime:
    """Now, as an aware UTC datetime (the only kind the tables accept)."""
    return datetime.now(UTC)


# ---------------------------------------------------------------------------------------------- calls


class CallBase(SQLModel):
    channel_id: str = Field(max_length=CHANNEL_ID_LENGTH, unique=True, index=True)
    caller_number: str | None = Field(default=None, max_length=PHONE_LENGTH, index=True)  # None: withheld
    called_number: str = Field(max_length=PHONE_LENGTH)
    crisis_mode: bool = False  # crisis mode was on when the call came in


class Call(CallBase, table=True):
    """One phone call, from StasisStart to hangup."""

    __tablename__ = "call"

    id: int | None = Field(default=None, primary_key=True)
    started_at: datetime = Field(default_factory=utc_now, index=True)
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    outcome: CallOutcome = Field(default=CallOutcome.IN_PROGRESS, sa_type=StrEnumType(CallOutcome), index=True)
    topic: str | None = Field(default=None, max_length=TOPIC_LENGTH, index=True)
    faq_id: str | None = Field(default=None, max_length=FAQ_ID_LENGTH)
    transcript: str | None = Field(default=None, sa_type=Text)
    commune: str | None = Field(default=None, max_length=COMMUNE_LENGTH, index=True)  # named by the caller


class CallCreate(CallBase):
    started_at: datetime | None = None  # None: now


class CallPublic(CallBase):
    id: int
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    outcome: CallOutcome
    topic: str | None
    faq_id: str | None
    transcript: str | None
    commune: str | None


class CallEvent(SQLModel, table=True):
    """One step of a call's timeline: stasis_start, dtmf, playback_started, matched, queued, hangup..."""

    __tablename__ = "call_event"
    __table_args__ = (Index("ix_call_event_call_id_at", "call_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    call_id: int = Field(foreign_key="call.id", ondelete="CASCADE")
    at: datetime = Field(default_factory=utc_now)
    kind: str = Field(max_length=EVENT_KIND_LENGTH, index=True)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


# -------------------------------------------------------------------------------------------- agents


class WebSession(SQLModel, table=True):
    """A signed-in browser or API client: the cookie's token is kept as its SHA-256 only."""

    __tablename__ = "web_session"

    token_hash: str = Field(primary_key=True, max_length=64)
    agent_id: int = Field(foreign_key="agent.id", ondelete="CASCADE", index=True)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utc_now)
    expires_at: datetime
    revoked_at: datetime | None = None


class AgentBase(SQLModel):
    login: str = Field(max_length=LOGIN_LENGTH, unique=True, index=True)
    display_name: str = Field(max_length=DISPLAY_NAME_LENGTH)
    role: Role = Field(default=Role.AGENT, sa_type=StrEnumType(Role))
    sip_endpoint: str = Field(max_length=SIP_ENDPOINT_LENGTH)  # PJSIP endpoint name, e.g. "agent-1001"
    skills: list[str] = Field(default_factory=list, sa_type=JSON)  # KB topics the agent can take
    active: bool = True  # False: left the team; kept for the history rows that point at it


class Agent(AgentBase, table=True):
    """A person who answers calls and works tickets in the console."""

    __tablename__ = "agent"

    id: int | None = Field(default=None, primary_key=True)
    state: AgentState = Field(default=AgentState.OFFLINE, sa_type=StrEnumType(AgentState), index=True)
    state_changed_at: datetime = Field(default_factory=utc_now)  # the wallboard shows time in state
    created_at: datetime = Field(default_factory=utc_now)
    password_hash: str | None = Field(default=None, max_length=HASH_LENGTH)  # Argon2id of the web password
    # The phone's digest credential, MD5(endpoint:realm:password): Asterisk checks REGISTERs against it, and the
    # plain SIP password is shown once, at creation, and kept nowhere.
    sip_digest: str | None = Field(default=None, max_length=HASH_LENGTH)


class AgentCreate(AgentBase):
    pass


class AgentPublic(AgentBase):
    id: int
    state: AgentState
    state_changed_at: datetime


class AgentStateChange(SQLModel, table=True):
    """History of agent states, for occupancy and wallboard figures."""

    __tablename__ = "agent_state_change"

    id: int | None = Field(default=None, primary_key=True)
    agent_id: int = Field(foreign_key="agent.id", ondelete="CASCADE", index=True)
    from_state: AgentState = Field(sa_type=StrEnumType(AgentState))
    to_state: AgentState = Field(sa_type=StrEnumType(AgentState))
    at: datetime = Field(default_factory=utc_now, index=True)
    reason: str | None = Field(default=None, max_length=REASON_LENGTH)


# ------------------------------------------------------------------------------------------- tickets


class TicketBase(SQLModel):
    caller_phone: str | None = Field(default=None, max_length=PHONE_LENGTH, index=True)
    subject: str = Field(max_length=SUBJECT_LENGTH)
    faq_id: str | None = Field(default=None, max_length=FAQ_ID_LENGTH)
    service: str | None = Field(default=None, max_length=SERVICE_LENGTH, index=True)  # owning city service
    priority: int = DEFAULT_PRIORITY
    needs_callback: bool = False


class Ticket(TicketBase, table=True):
    """A citizen's request, followed up by its dossier number."""

    __tablename__ = "ticket"

    id: int | None = Field(default=None, primary_key=True)
    dossier_number: str = Field(max_length=DOSSIER_LENGTH, unique=True, index=True)
    call_id: int | None = Field(default=None, foreign_key="call.id", ondelete="SET NULL", index=True)
    status: TicketStatus = Field(default=TicketStatus.OPEN, sa_type=StrEnumType(TicketStatus), index=True)
    # How the call behind the ticket ended (None: a ticket not born from a call).
    outcome: CallOutcome | None = Field(default=None, sa_type=StrEnumType(CallOutcome), index=True)
    assigned_agent_id: int | None = Field(default=None, foreign_key="agent.id", ondelete="SET NULL", index=True)
    created_at: datetime = Field(default_factory=utc_now, index=True)
    updated_at: datetime = Field(default_factory=utc_now)
    resolved_at: datetime | None = None
    category: str | None = Field(default=None, max_length=TOPIC_LENGTH, index=True)  # a KB topic, set by an agent
    resolution: str | None = Field(default=None, sa_type=Text)  # how it was resolved, in the agent's words
    origin: str = Field(default=ORIGIN_PHONE, max_length=ORIGIN_LENGTH, index=True)  # phone, or open311
    # What an Open311 client sent (None for a phone ticket): the request's text, where, and who asked.
    description: str | None = Field(default=None, sa_type=Text)
    address: str | None = Field(default=None, max_length=ADDRESS_LENGTH)
    lat: float | None = None
    lon: float | None = None
    requester: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    attributes: dict[str, Any] | None = Field(default=None, sa_type=JSON)


class TicketCreate(TicketBase):
    call_id: int | None = None


class TicketPublic(TicketBase):
    id: int
    dossier_number: str
    call_id: int | None
    status: TicketStatus
    outcome: CallOutcome | None
    assigned_agent_id: int | None
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None


class TicketCall(SQLModel, table=True):
    """A later call that joined an open ticket (the same number, on the same topic): the ticket's first call is
    `Ticket.call_id`, the others are here."""

    __tablename__ = "ticket_call"

    call_id: int = Field(foreign_key="call.id", ondelete="CASCADE", primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", ondelete="CASCADE", index=True)
    joined_at: datetime = Field(default_factory=utc_now)


class TicketNote(SQLModel, table=True):
    """A note an agent adds to a ticket (author None: written by the system)."""

    __tablename__ = "ticket_note"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", ondelete="CASCADE", index=True)
    author_agent_id: int | None = Field(default=None, foreign_key="agent.id", ondelete="SET NULL")
    body: str = Field(sa_type=Text)
    at: datetime = Field(default_factory=utc_now)


class TicketStatusChange(SQLModel, table=True):
    """History of a ticket's statuses; from_status None is the creation."""

    __tablename__ = "ticket_status_change"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", ondelete="CASCADE", index=True)
    from_status: TicketStatus | None = Field(default=None, sa_type=StrEnumType(TicketStatus))
    to_status: TicketStatus = Field(sa_type=StrEnumType(TicketStatus))
    at: datetime = Field(default_factory=utc_now)
    by_agent_id: int | None = Field(default=None, foreign_key="agent.id", ondelete="SET NULL")
    reason: str | None = Field(default=None, max_length=REASON_LENGTH)


# ------------------------------------------------------------------------------------ queue, callback


class QueueEntry(SQLModel, table=True):
    """One caller's stay in the waiting queue."""

    __tablename__ = "queue_entry"

    id: int | None = Field(default=None, primary_key=True)
    call_id: int = Field(foreign_key="call.id", ondelete="CASCADE", index=True)
    topic: str | None = Field(default=None, max_length=TOPIC_LENGTH)
    faq_id: str | None = Field(default=None, max_length=FAQ_ID_LENGTH)
    priority: int = DEFAULT_PRIORITY
    enqueued_at: datetime = Field(default_factory=utc_now, index=True)
    position_hint: int | None = None  # position announced to the caller; the live order is computed
    state: QueueEntryState = Field(default=QueueEntryState.WAITING, sa_type=StrEnumType(QueueEntryState), index=True)
    answered_by_agent_id: int | None = Field(default=None, foreign_key="agent.id", ondelete="SET NULL")
    left_at: datetime | None = None
    channel_id: str | None = Field(default=None, max_length=CHANNEL_ID_LENGTH, index=True)  # the caller's leg
    caller_phone: str | None = Field(default=None, max_length=PHONE_LENGTH)
    reason: str | None = Field(default=None, max_length=EVENT_KIND_LENGTH)  # why a person: caller_asked, not_helped...
    transcript: str | None = Field(default=None, sa_type=Text)  # what the caller said before asking for a person
    offered_agent_id: int | None = Field(default=None, foreign_key="agent.id", ondelete="SET NULL")
    offered_at: datetime | None = None
    answered_at: datetime | None = None
    wrapped_up_at: datetime | None = None  # the agent finished the call's wrap-up: the handle time ends here
    target_agent_id: int | None = Field(default=None, foreign_key="agent.id", ondelete="SET NULL")  # transferred to


class Callback(SQLModel, table=True):
    """A promise to call a citizen back about a ticket."""

    __tablename__ = "callback"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", ondelete="CASCADE", index=True)
    phone: str = Field(max_length=PHONE_LENGTH, index=True)
    requested_at: datetime = Field(default_factory=utc_now)
    due_at: datetime = Field(index=True)
    attempts: int = 0
    state: CallbackState = Field(default=CallbackState.PENDING, sa_type=StrEnumType(CallbackState), index=True)
    done_at: datetime | None = None
    agent_id: int | None = Field(default=None, foreign_key="agent.id", ondelete="SET NULL")
    # The caller's place: a callback is served among the waiting callers by priority, then by this time.
    call_id: int | None = Field(default=None, foreign_key="call.id", ondelete="SET NULL")
    place_at: datetime | None = None
    priority: int = DEFAULT_PRIORITY
    topic: str | None = Field(default=None, max_length=TOPIC_LENGTH)
    last_result: str | None = Field(default=None, max_length=EVENT_KIND_LENGTH)


class CallbackAttempt(SQLModel, table=True):
    """One try at a callback: the agent's phone, then the citizen's."""

    __tablename__ = "callback_attempt"

    id: int | None = Field(default=None, primary_key=True)
    callback_id: int = Field(foreign_key="callback.id", ondelete="CASCADE", index=True)
    agent_id: int | None = Field(default=None, foreign_key="agent.id", ondelete="SET NULL")
    started_at: datetime = Field(default_factory=utc_now)
    ended_at: datetime | None = None
    result: str | None = Field(default=None, max_length=EVENT_KIND_LENGTH)  # domain.callbacks.AttemptResult


# -------------------------------------------------------------------------------- knowledge, audit


class UnmatchedUtterance(SQLModel, table=True):
    """What a caller said that the matcher could not answer confidently, for the KB editors to review."""

    __tablename__ = "unmatched_utterance"

    id: int | None = Field(default=None, primary_key=True)
    call_id: int | None = Field(default=None, foreign_key="call.id", ondelete="SET NULL", index=True)
    text: str = Field(sa_type=Text)
    best_faq_id: str | None = Field(default=None, max_length=FAQ_ID_LENGTH)
    best_score: float = 0.0  # fused matcher score of best_faq_id, below the answer threshold
    at: datetime = Field(default_factory=utc_now, index=True)
    reviewed: bool = Field(default=False, index=True)
    resolved_faq_id: str | None = Field(default=None, max_length=FAQ_ID_LENGTH)


class AuditLog(SQLModel, table=True):
    """Who did what from the supervisor screens (crisis mode, exports, KB edits)."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    actor: str = Field(max_length=LOGIN_LENGTH, index=True)
    action: str = Field(max_length=ACTION_LENGTH, index=True)
    target: str = Field(default="", max_length=TARGET_LENGTH)
    details: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    at: datetime = Field(default_factory=utc_now, index=True)


class Open311Key(SQLModel, table=True):
    """A city system allowed to create requests through Open311; only the key's SHA-256 is kept."""

    __tablename__ = "open311_key"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=LOGIN_LENGTH, unique=True)
    key_hash: str = Field(max_length=KEY_HASH_LENGTH, unique=True)
    created_at: datetime = Field(default_factory=utc_now)
    revoked_at: datetime | None = None


class SiteSetting(SQLModel, table=True):
    """A setting an admin changed from /admin (pause reasons, callback hours); it overrides the environment's."""

    __tablename__ = "site_setting"

    key: str = Field(primary_key=True, max_length=ACTION_LENGTH)
    value: Any = Field(sa_type=JSON)
    changed_at: datetime = Field(default_factory=utc_now)
    changed_by: str = Field(max_length=LOGIN_LENGTH)


class CrisisState(SQLModel, table=True):
    """Whether crisis mode is on, and its pre-announcement: one row (id 1), changed by supervisors."""

    __tablename__ = "crisis_state"

    id: int | None = Field(default=None, primary_key=True)
    active: bool = False
    message: str | None = Field(default=None, sa_type=Text)
    changed_at: datetime = Field(default_factory=utc_now)
    changed_by: str = Field(default="", max_length=LOGIN_LENGTH)
    recording: str | None = Field(default=None, max_length=RECORDING_NAME_LENGTH)  # an uploaded pre-announcement
    pinned_faq_id: str | None = Field(default=None, max_length=FAQ_ID_LENGTH)  # wins the matching when close
    overflow_wait_s: float | None = None  # above this expected wait, callers are offered the callback at once


# ---------------------------------------------------------------------------------------- alert register


class Resident(SQLModel, table=True):
    """A person registered for Aurevault Alerte (alerts by voice call), with their consent.

    One row per number (E.164): registering it again updates the row. An opted-out resident keeps their row (so
    that the opt-out is remembered) but is never targeted again until they give a new consent."""

    __tablename__ = "resident"

    id: int | None = Field(default=None, primary_key=True)
    phone_e164: str = Field(max_length=E164_LENGTH, unique=True, index=True)
    name: str = Field(max_length=DISPLAY_NAME_LENGTH)
    commune: str = Field(max_length=COMMUNE_LENGTH, index=True)  # a commune of kb/territory.yaml
    hamlet: str | None = Field(default=None, max_length=HAMLET_LENGTH)  # one of that commune's hamlets
    consent_date: date
    consent_channel: ResidentChannel = Field(sa_type=StrEnumType(ResidentChannel))
    created_at: datetime = Field(default_factory=utc_now)
    opted_out_at: datetime | None = Field(default=None, index=True)
    opt_out_channel: ResidentChannel | None = Field(default=None, sa_type=StrEnumType(ResidentChannel))

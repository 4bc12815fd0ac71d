"""The states and outcomes the hotline records. Plain StrEnums: stored as strings, no SQL here."""

from __future__ import annotations

from enum import StrEnum


class CallOutcome(StrEnum):
    """How a phone call ended (IN_PROGRESS until hangup)."""

    IN_PROGRESS = "in_progress"
    SELF_SERVED = "self_served"  # the knowledge base answered and the caller hung up satisfied
    TO_AGENT = "to_agent"  # bridged to a human agent
    CALLBACK_REQUESTED = "callback_requested"  # the caller chose to be called back instead of waiting
    ABANDONED = "abandoned"  # the caller hung up before being served
    FALLBACK = "fallback"  # the app failed mid-call and the dialplan fallback took over


class TicketStatus(StrEnum):
    """Where a ticket stands in the agents' work."""

    OPEN = "open"
    IN_PROGRESS = "in_progress"
    WAITING_CALLBACK = "waiting_callback"
    RESOLVED = "resolved"
    ESCALATED = "escalated"  # handed to the owning city service
    CLOSED = "closed"


# Statuses in which the ticket counts as answered (resolved_at is set on entering them).
DONE_TICKET_STATUSES = frozenset({TicketStatus.RESOLVED, TicketStatus.CLOSED})


class AgentState(StrEnum):
    """An agent's availability, as shown on the wallboard."""

    OFFLINE = "offline"
    AVAILABLE = "available"
    RINGING = "ringing"  # offered a caller: their phone rings
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"  # after a call, finishing notes; not offered new calls yet
    PAUSED = "paused"


class QueueEntryState(StrEnum):
    """One caller's stay in the queue."""

    WAITING = "waiting"
    OFFERED = "offered"  # shown to an agent who has not accepted yet
    ANSWERED = "answered"
    ABANDONED = "abandoned"
    CALLBACK = "callback"  # left the queue with a callback request


class CallbackState(StrEnum):
    """A promised call back to a citizen."""

    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    FAILED = "failed"  # gave up after the maximum number of attempts
    CANCELLED = "cancelled"


class ResidentChannel(StrEnum):
    """How a resident gave (or withdrew) their consent to the alerts."""

    PHONE = "phone"  # on the numéro vert, by the IVR
    AGENT = "agent"  # to an agent, who registered them from /residents
    IMPORT = "import"  # a list the city already held with each person's consent (a paper form, the old service)
    WEB = "web"  # the city's website

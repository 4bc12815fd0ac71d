"""The Jinja2 templates of every page, with the filters that write values in French."""

from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates

from hotline.domain import topics
from hotline.domain.agent_states import FRENCH_STATES
from hotline.domain.enums import AgentState, TicketStatus
from hotline.domain.tickets import REOPENED_STATUS, STATUS_LABELS, can_reopen
from hotline.web import french
from hotline.web.ticket_views import moves_from

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
TEMPLATES.env.filters.update(
    phone=french.phone,
    date_time=french.date_time,
    clock=french.clock,
    duration=french.duration,
    long_date=french.long_date,
    topic=topics.topic,
    handoff=french.handoff,
    callback_result=french.callback_result,
    callback_state=french.callback_state,
    agent_state=lambda state: FRENCH_STATES[AgentState(state)],
    ticket_status=lambda status: STATUS_LABELS[TicketStatus(status)],
)
TEMPLATES.env.globals.update(
    reopened=REOPENED_STATUS,
    can_reopen_ticket=lambda ticket: can_reopen(ticket.status),
    ticket_moves=lambda ticket: moves_from(ticket.status),
)

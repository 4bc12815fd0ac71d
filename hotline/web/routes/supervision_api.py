"""/metrics for Prometheus, /api/wallboard (the supervisor's snapshot) and /api/kpis (any range).

/metrics is open like Asterisk's own: it holds counts only, never a number, a transcript or a name (the web
app listens on 127.0.0.1 unless told otherwise). The wallboard and the KPIs need a supervisor or an admin.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.responses import Response

from hotline.domain.report_days import Window, day_window
from hotline.domain.roles import Role
from hotline.services.metrics import CONTENT_TYPE, HotlineMetrics
from hotline.web.deps import AuthenticatedAgent, PartsDep, require_role

router = APIRouter()
Supervisor = Annotated[AuthenticatedAgent, Depends(require_role(Role.SUPERVISOR, Role.ADMIN))]
MAX_RANGE_DAYS = 366


@router.get("/metrics", response_class=Response, tags=["supervision"])
def metrics(parts: PartsDep) -> Response:
    render = parts.metrics or HotlineMetrics(parts.supervisor.snapshot).render
    return Response(render(), media_type=CONTENT_TYPE)


@router.get("/api/wallboard")
async def wallboard(parts: PartsDep, _user: Supervisor) -> dict[str, Any]:
    """Everything the wallboard shows, as one JSON snapshot (the page fetches it again on each event)."""
    board = await asyncio.to_thread(parts.supervisor.snapshot)
    return board.as_dict()


def _window(parts: PartsDep, day: date | None, start: datetime | None, end: datetime | None) -> Window:
    sup = parts.supervisor
    if day is not None and (start or end):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "Donnez soit un jour (day), soit un début et une fin.")
    if start is None and end is None:
        if day is None:
            return sup.today(datetime.now(UTC))
        return day_window(day, sup.timezone, sup.rules.day_start)
    if start is None or end is None:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "Un intervalle a un début (start) et une fin (end).")
    if start.tzinfo is None or end.tzinfo is None:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "Dates avec leur fuseau, par ex. 2026-12-04T08:00:00+01:00.")
    if end <= start:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "La fin (end) doit venir après le début (start).")
    if end - start > timedelta(days=MAX_RANGE_DAYS):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"Un intervalle couvre au plus {MAX_RANGE_DAYS} jours.")
    return Window(start.astimezone(UTC), end.astimezone(UTC))


@router.get("/api/kpis")
async def kpis(
    parts: PartsDep,
    _user: Supervisor,
    day: Annotated[date | None, Query(description="A reporting day (YYYY-MM-DD); default today.")] = None,
    start: Annotated[datetime | None, Query(description="Start of a range, ISO 8601 with its offset.")] = None,
    end: Annotated[datetime | None, Query(description="End of the range (excluded).")] = None,
) -> dict[str, Any]:
    """The KPIs of a day or of any range (calls and queue stays that started in it); definitions in the README."""
    window = _window(parts, day, start, end)
    result = await asyncio.to_thread(parts.supervisor.kpis, window)
    return result.as_dict()

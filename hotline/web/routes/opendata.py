"""/opendata/: the calls' open data, public (no sign-in): a page listing the last finished days, one file per day
in CSV and JSON, and the data dictionary. Only finished days are served; a bad, future or unfinished day is a
404 with a French message. The sync routes run in FastAPI's thread pool, off the event loop."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import HTMLResponse, Response

from hotline.domain import opendata as rules
from hotline.domain.opendata_dictionary import LICENCE
from hotline.domain.report_days import parse_day_start
from hotline.services import opendata
from hotline.web.deps import PartsDep, WebParts
from hotline.web.templating import TEMPLATES

router = APIRouter(prefix="/opendata", tags=["opendata"])
CSV_TYPE = "text/csv; charset=utf-8"
JSON_TYPE = "application/json"


def _day_start(parts: WebParts) -> time:
    return parse_day_start(parts.day_start)


def _published_day(parts: WebParts, text: str) -> date:
    """The day asked for, if it is published now; a 404 in French otherwise."""
    try:
        day = rules.parse_day(text)
        rules.published_window(day, datetime.now(UTC), parts.timezone, _day_start(parts))
    except rules.DayNotPublishedError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    return day


@router.get("/", response_class=HTMLResponse)
def opendata_index(request: Request, parts: PartsDep) -> HTMLResponse:
    """The open-data page: the last finished days, each in CSV and JSON, and the dictionary."""
    day_start = _day_start(parts)
    context = {
        "days": rules.listed_days(datetime.now(UTC), parts.timezone, day_start),
        "timezone": parts.timezone,
        "day_start": f"{day_start:%H:%M}",
        "threshold": rules.SUPPRESSION_THRESHOLD,
        "licence": LICENCE,
    }
    return TEMPLATES.TemplateResponse(request, "opendata.html", context)


@router.get("/appels-{day}.csv")
def opendata_day_csv(day: str, parts: PartsDep) -> Response:
    """One finished day's counts in CSV."""
    published = _published_day(parts, day)
    rows = opendata.daily_counts(parts.engine, published, parts.timezone, _day_start(parts))
    disposition = f'attachment; filename="{opendata.file_name(published, "csv")}"'
    return Response(opendata.to_csv(rows), media_type=CSV_TYPE, headers={"Content-Disposition": disposition})


@router.get("/appels-{day}.json")
def opendata_day_json(day: str, request: Request, parts: PartsDep) -> Response:
    """One finished day's counts in JSON, with the dictionary's address."""
    published = _published_day(parts, day)
    day_start = _day_start(parts)
    rows = opendata.daily_counts(parts.engine, published, parts.timezone, day_start)
    dictionary_url = str(request.url_for("opendata_dictionary_json"))
    body = opendata.to_json(rows, published, parts.timezone, day_start, dictionary_url)
    return Response(body, media_type=JSON_TYPE)


@router.get("/dictionnaire", response_class=HTMLResponse)
def opendata_dictionary(request: Request, parts: PartsDep) -> HTMLResponse:
    """The data dictionary as a French page."""
    dictionary = opendata.dictionary_document(parts.timezone, _day_start(parts))
    return TEMPLATES.TemplateResponse(request, "opendata_dictionary.html", {"dictionary": dictionary})


@router.get("/dictionnaire.json")
def opendata_dictionary_json(parts: PartsDep) -> Response:
    """The data dictionary in JSON."""
    return Response(opendata.dictionary_json(parts.timezone, _day_start(parts)), media_type=JSON_TYPE)

"""/open311/v2/: Open311 GeoReport v2, in JSON and in XML (the spec's own format; FixMyStreet speaks only XML).

Reading is open to anyone (no caller's number or words ever leaves here); creating a request needs an API key
(`hotline open311 key add NAME`). Errors are the spec's list of {code, description}, with the same HTTP status.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any
from xml.etree import ElementTree as ET

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from hotline.services import open311
from hotline.services.open311 import Open311Error
from hotline.web import french
from hotline.web.deps import PartsDep

router = APIRouter(prefix="/open311/v2", tags=["open311"])
FORMATS = ("json", "xml")
XML_TYPE = "text/xml; charset=utf-8"


def _xml_value(parent: ET.Element, name: str, value: Any) -> None:
    child = ET.SubElement(parent, name)
    if isinstance(value, bool):
        child.text = "true" if value else "false"
    elif value is not None:
        child.text = str(value)


def _xml(root: str, item: str, rows: Sequence[Mapping[str, Any]]) -> Response:
    top = ET.Element(root)
    for row in rows:
        element = ET.SubElement(top, item)
        for name, value in row.items():
            _xml_value(element, name, value)
    body = ET.tostring(top, encoding="utf-8", xml_declaration=True)
    return Response(body, media_type=XML_TYPE)


def _format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise Open311Error(400, f"format inconnu : {fmt} (json ou xml)")
    return fmt


def _error(exc: Open311Error, fmt: str) -> Response:
    rows = [{"code": exc.code, "description": exc.description}]
    if fmt == "xml":
        response = _xml("errors", "error", rows)
        response.status_code = exc.code
        return response
    return JSONResponse(rows, status_code=exc.code)


def _answer(fmt: str, root: str, item: str, rows: list[dict[str, Any]]) -> Response:
    return _xml(root, item, rows) if fmt == "xml" else JSONResponse(rows)


def _service_row(s: open311.Service) -> dict[str, Any]:
    return {"service_code": s.service_code, "service_name": s.service_name, "description": s.description,
            "metadata": s.metadata, "type": s.type, "keywords": s.keywords, "group": s.group}  # fmt: skip


@router.get("/services.{fmt}")
def list_services(fmt: str, parts: PartsDep) -> Response:
    """The request types: the knowledge base's entries that take a report or a callback, with their topic."""
    try:
        return _answer(_format(fmt), "services", "service", [_service_row(s) for s in open311.services(parts.kb)])
    except Open311Error as exc:
        return _error(exc, fmt if fmt in FORMATS else "json")


@router.get("/services/{code}.{fmt}")
def service_definition(code: str, fmt: str, parts: PartsDep) -> Response:
    """A request type's attributes (the reporter's urgency)."""
    shown = fmt if fmt in FORMATS else "json"
    try:
        _format(fmt)
        open311.service(parts.kb, code)
    except Open311Error as exc:
        return _error(exc, shown)
    attrs = open311.attributes()
    if shown == "json":
        return JSONResponse({"service_code": code, "attributes": [
            {**{k: v for k, v in a.__dict__.items() if k != "values"},
             "values": [{"key": v.key, "name": v.name} for v in a.values]} for a in attrs]})  # fmt: skip
    top = ET.Element("service_definition")
    _xml_value(top, "service_code", code)
    holder = ET.SubElement(top, "attributes")
    for a in attrs:
        element = ET.SubElement(holder, "attribute")
        for name in ("variable", "code", "datatype", "required", "datatype_description", "order", "description"):
            _xml_value(element, name, getattr(a, name))
        values = ET.SubElement(element, "values")
        for v in a.values:
            value = ET.SubElement(values, "value")
            _xml_value(value, "key", v.key)
            _xml_value(value, "name", v.name)
    return Response(ET.tostring(top, encoding="utf-8", xml_declaration=True), media_type=XML_TYPE)


@router.post("/requests.{fmt}")
async def create_request(fmt: str, request: Request, parts: PartsDep) -> Response:
    """A new request, form-encoded as the spec says, signed with `api_key`: the answer is the one-element list
    [{service_request_id, service_notice, account_id}], the id being the ticket's dossier number."""
    shown = fmt if fmt in FORMATS else "json"
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        _format(fmt)
        owner = await asyncio.to_thread(open311.key_owner, parts.engine, fields.get("api_key", ""))
        if owner is None:
            raise Open311Error(403, "api_key absente ou invalide")
        created = await asyncio.to_thread(
            open311.create_request, parts.engine, parts.bus, parts.kb, fields, key_name=owner,
            hotline_number=french.phone(parts.hotline_number),
        )  # fmt: skip
    except Open311Error as exc:
        return _error(exc, shown)
    row = {"service_request_id": created.service_request_id, "service_notice": created.service_notice,
           "account_id": created.account_id}  # fmt: skip
    return _answer(shown, "service_requests", "request", [row])


@router.get("/requests.{fmt}")
def list_requests(fmt: str, request: Request, parts: PartsDep) -> Response:
    """Requests by the spec's filters: service_request_id (a list, which overrides the others), service_code,
    start_date and end_date (at most 90 days; the last 90 by default), status (open, closed); 1,000 at most."""
    shown = fmt if fmt in FORMATS else "json"
    try:
        _format(fmt)
        rows = open311.list_requests(parts.engine, parts.kb, dict(request.query_params))
    except Open311Error as exc:
        return _error(exc, shown)
    return _answer(shown, "service_requests", "request", rows)


@router.get("/requests/{number}.{fmt}")
def get_request(number: str, fmt: str, parts: PartsDep) -> Response:
    """One request, as a one-element list (the spec's form)."""
    shown = fmt if fmt in FORMATS else "json"
    try:
        _format(fmt)
        row = open311.get_request(parts.engine, parts.kb, number)
    except Open311Error as exc:
        return _error(exc, shown)
    return _answer(shown, "service_requests", "request", [row])

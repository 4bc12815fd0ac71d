"""The public page: the topics the hotline answers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from hotline.web.deps import PartsDep
from hotline.web.templating import TEMPLATES

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def home(request: Request, parts: PartsDep) -> HTMLResponse:
    topics: dict[str, list[Any]] = {}
    for e in parts.kb.entries:
        topics.setdefault(e.topic, []).append(e)
    return TEMPLATES.TemplateResponse(request, "home.html", {"topics": topics})

"""The FastAPI application, made of routers over the parts the composition root (hotline.app) hands it."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import StatelessLifespan

from hotline.web.deps import WebParts
from hotline.web.routes import (
    admin_pages,
    agent_api,
    callback_api,
    console_pages,
    console_parts,
    crisis_api,
    health,
    kb_api,
    message_api,
    open311_api,
    opendata,
    pages,
    resident_pages,
    supervision_api,
    ticket_pages,
    wallboard_pages,
)
from hotline.web.templating import TEMPLATES

TITLE = "Numéro vert — Aurevault Agglomération"
# A refusal on these is a page; elsewhere (the APIs) it is JSON.
STAFF_PAGES = ("/console", "/tickets", "/admin", "/wallboard", "/residents")
PAGE_TITLES = {403: "Accès refusé", 404: "Introuvable"}


async def _refusal(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    path = request.url.path
    if exc.status_code in PAGE_TITLES and path.startswith(STAFF_PAGES) and not path.startswith("/console/parts"):
        context = {"title": PAGE_TITLES[exc.status_code], "message": exc.detail}
        return TEMPLATES.TemplateResponse(request, "refused.html", context, status_code=exc.status_code)
    return await http_exception_handler(request, exc)


def create_web_app(parts: WebParts, lifespan: StatelessLifespan[FastAPI] | None = None) -> FastAPI:
    """`lifespan` runs what lives as long as the web app (the root starts the IVR there)."""
    app = FastAPI(title=TITLE, lifespan=lifespan)
    app.state.parts = parts
    for router in (
        health.router,
        kb_api.router,
        agent_api.router,
        callback_api.router,
        message_api.router,
        console_pages.router,
        console_parts.router,
        ticket_pages.router,
        admin_pages.router,
        resident_pages.router,
        open311_api.router,
        supervision_api.router,
        crisis_api.router,
        wallboard_pages.router,
        opendata.router,
        pages.router,
    ):
        app.include_router(router)
    app.add_exception_handler(StarletteHTTPException, _refusal)
    # Every script and style the pages use is served from here: no CDN.
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    return app

"""The FastAPI application, made of routers over the parts the composition root (hotline.app) hands it."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.types import StatelessLifespan

from hotline.web.deps import WebParts
from hotline.web.routes import (
    admin_pages,
    agent_api,
    callback_api,
    console_pages,
    console_parts,
    health,
    kb_api,
    message_api,
    open311_api,
    pages,
    ticket_pages,
)

TITLE = "Numéro vert — Aurevault Agglomération"


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
        open311_api.router,
        pages.router,
    ):
        app.include_router(router)
    # Every script and style the pages use is served from here: no CDN.
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    return app

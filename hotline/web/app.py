"""The FastAPI application: health, the knowledge base API and its public page."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.engine import Engine

from hotline.settings import Settings
from hotline.storage.db import make_engine
from ivr.runtime.service import Ivr, build_ivr
from kb.loader import KnowledgeBase, load_kb
from kb.matcher import Matcher, build_matcher

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
MAX_UTTERANCE_CHARS = 500  # longer than anyone says in one breath; protects the matcher


class MatchRequest(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_UTTERANCE_CHARS)


class AppState:
    """What the app holds for its lifetime."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine: Engine = make_engine(settings.effective_database_url())
        self.kb: KnowledgeBase = load_kb(settings.kb_path)
        self._matcher: Matcher | None = None
        self.ivr: Ivr | None = None  # set when the app runs the IVR too (`hotline serve`)

    @property
    def ari_connected(self) -> bool:
        return self.ivr is not None and self.ivr.app.connected

    @property
    def matcher(self) -> Matcher:
        if self._matcher is None:
            self._matcher = build_matcher(self.kb, self.settings.match_threshold)
        return self._matcher


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.hotline
    return state


State = Annotated[AppState, Depends(get_state)]


def create_app(settings: Settings, with_ivr: bool = False) -> FastAPI:
    """The web app; with `with_ivr`, the IVR runs in the same process and event loop."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state: AppState = app.state.hotline
        task: asyncio.Task[None] | None = None
        if with_ivr:
            state.ivr = build_ivr(settings, state.engine, state.kb, lambda: state.matcher)
            task = asyncio.create_task(state.ivr.run(), name="ivr")
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            state.engine.dispose()

    app = FastAPI(title="Numéro vert — Aurevault Agglomération", lifespan=lifespan)
    app.state.hotline = AppState(settings)

    @app.get("/healthz")
    def healthz(state: State) -> dict[str, str]:
        try:
            with state.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            db = "ok"
        except Exception as exc:  # the health check reports any database failure instead of raising
            db = f"error: {type(exc).__name__}"
        ari = "connected" if state.ari_connected else "disconnected"
        return {"status": "ok" if db == "ok" else "degraded", "db": db, "ari": ari}

    @app.get("/api/kb/entries")
    def kb_entries(state: State) -> list[dict[str, Any]]:
        return [
            {"id": e.id, "topic": e.topic, "title": e.title, "action": e.action.value, "crisis": e.crisis}
            for e in state.kb.entries
        ]

    @app.get("/api/kb/entries/{entry_id}")
    def kb_entry(entry_id: str, state: State) -> dict[str, Any]:
        entry = state.kb.get(entry_id)
        if entry is None:
            raise HTTPException(404, f"no KB entry with id {entry_id!r}")
        return entry.model_dump(mode="json")

    @app.post("/api/kb/match")
    def kb_match(body: MatchRequest, state: State) -> dict[str, object]:
        return state.matcher.match(body.text).as_json()

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request, state: State) -> HTMLResponse:
        topics: dict[str, list[Any]] = {}
        for e in state.kb.entries:
            topics.setdefault(e.topic, []).append(e)
        return TEMPLATES.TemplateResponse(request, "home.html", {"topics": topics})

    return app

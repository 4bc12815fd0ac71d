"""/api/kb/*: the knowledge base's entries and the matcher the IVR uses."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from hotline.web.deps import PartsDep

MAX_UTTERANCE_CHARS = 500  # longer than anyone says in one breath; protects the matcher

router = APIRouter(prefix="/api/kb")


class MatchRequest(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_UTTERANCE_CHARS)


@router.get("/entries")
def kb_entries(parts: PartsDep) -> list[dict[str, Any]]:
    return [
        {"id": e.id, "topic": e.topic, "title": e.title, "action": e.action.value, "crisis": e.crisis}
        for e in parts.kb.entries
    ]


@router.get("/entries/{entry_id}")
def kb_entry(entry_id: str, parts: PartsDep) -> dict[str, Any]:
    entry = parts.kb.get(entry_id)
    if entry is None:
        raise HTTPException(404, f"no KB entry with id {entry_id!r}")
    return entry.model_dump(mode="json")


@router.post("/match")
def kb_match(body: MatchRequest, parts: PartsDep) -> dict[str, object]:
    # crisis mode's pinned entry wins here as on a call (the state as last read: no database round trip)
    return parts.matcher().match(body.text, parts.crisis_mode.current().pinned).as_json()

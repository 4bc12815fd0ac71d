"""/healthz: is the database reachable, is the IVR connected to Asterisk."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from hotline.web.deps import PartsDep, SessionDep

router = APIRouter()


@router.get("/healthz")
def healthz(parts: PartsDep, session: SessionDep) -> dict[str, str]:
    try:
        session.connection().execute(text("SELECT 1"))
        db = "ok"
    except Exception as exc:  # the health check reports any database failure instead of raising
        db = f"error: {type(exc).__name__}"
    ari = "connected" if parts.ari_connected() else "disconnected"
    return {"status": "ok" if db == "ok" else "degraded", "db": db, "ari": ari}

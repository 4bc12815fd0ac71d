"""`hotline serve`: the web app and API (later issues add the IVR to the same process)."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from hotline.settings import get_settings


def serve(
    host: Annotated[str | None, typer.Option(help="Listen address (default HOTLINE_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default HOTLINE_PORT, 8000).")] = None,
) -> None:
    """Run the hotline service: migrations, then the web app, the API and the IVR (ARI app) together."""
    import uvicorn

    from hotline.storage.db import upgrade_database
    from hotline.web.app import create_app

    settings = get_settings()
    upgrade_database(settings.effective_database_url())
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("faster_whisper").setLevel(logging.WARNING)  # a line per caller turn
    uvicorn.run(
        create_app(settings, with_ivr=True),
        host=host or settings.host,
        port=port or settings.port,
        log_level="info",
        loop="uvloop",
    )

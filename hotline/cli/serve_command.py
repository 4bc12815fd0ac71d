"""`hotline serve`: the web app, the API and the IVR together (built by the composition root, hotline.app)."""

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
    from hotline import app as hotline_app
    from hotline.storage.db import upgrade_database

    settings = get_settings()
    upgrade_database(settings.effective_database_url())
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("faster_whisper").setLevel(logging.WARNING)  # a line per caller turn
    hotline_app.serve(settings, host or settings.host, port or settings.port)

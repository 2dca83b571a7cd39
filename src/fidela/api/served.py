"""The application as a server process builds it: settings from the environment, logging
configured, and the start-up heap settled (``uvicorn --factory fidela.api.served:served_app``,
which ``fidela serve --workers N`` runs in each process)."""

from __future__ import annotations

from fastapi import FastAPI

from fidela.api import balance
from fidela.api.app import create_app
from fidela.platform.heap import settle_after_startup
from fidela.platform.logging import configure_logging
from fidela.platform.settings import get_settings


def served_app() -> FastAPI:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    app = create_app(settings)
    loads = balance.installed()
    if loads is not None:
        app.state.batch_loads = loads
    settle_after_startup(settings.settle_heap)
    return app

"""The FastAPI application: `create_app(settings)`, or `app_from_env()` for uvicorn's --factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from cloud.api import audit_log, auth, events, fleet, ingest, patients, records, users
from cloud.api.deps import Services
from cloud.db import make_engine
from cloud.migrate import migrate
from cloud.queue import AnalysisQueue
from cloud.security import Passwords
from cloud.settings import Settings, settings_from_env

DESCRIPTION = """Archive of ECG records and arrhythmia events from wearable patches and PCs.

Users log in (POST /auth/login) and send `Authorization: Bearer <token>`; gateways send `X-Gateway-Key`.
Doctors see their own patients and what belongs to them; administrators see everything.
"""


def create_app(settings: Settings, queue: AnalysisQueue | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        services.engine.dispose()

    if settings.migrate_on_start:
        migrate(settings.db_url)
    services = Services(
        settings=settings,
        engine=make_engine(settings.db_url),
        queue=queue if queue is not None else AnalysisQueue(settings),
        passwords=Passwords(settings.argon2),
    )
    app = FastAPI(title="ECG patch cloud", version="1", description=DESCRIPTION, lifespan=lifespan)
    app.state.services = services
    for module in (auth, users, patients, fleet, records, events, ingest, audit_log):
        app.include_router(module.router)

    describe_raw_bodies(app)

    @app.get("/health", tags=["service"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def describe_raw_bodies(app: FastAPI) -> None:
    """Add the schemas of bodies that routes parse themselves (ingest batches) to the OpenAPI components."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            schema.setdefault("components", {}).setdefault("schemas", {}).update(ingest.body_schemas())
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def app_from_env() -> FastAPI:
    return create_app(settings_from_env())

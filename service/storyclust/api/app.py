"""The FastAPI application: one Engine per process (the model loads once, writes go through its
single-writer lock), the request-size limit, and error answers that name the field."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import __version__
from ..config import Settings
from ..embedding import Encoder
from ..engine import Engine
from ..metrics import LatencyMiddleware, Metrics
from ..repair_schedule import RepairSchedule
from ..retention import RetentionSchedule
from . import articles, clusters, corrections, dedup, health
from .admin import router as admin_router
from .schemas import BARE_LIST_BODIES, UNION_TAGS

DESCRIPTION = """Exact, near-duplicate and same-story clustering of news articles.

Every posted article gets exactly one relation to what is already stored: `exact_duplicate`,
`near_duplicate`, `same_story` or `new_story`, and a story cluster. Errors answer
`{"detail": "field: problem"}` with a 4xx status.
"""


def create_app(settings: Settings, encoder: Encoder | None = None) -> FastAPI:
    """The API over ``settings.data_dir``; ``encoder`` reuses an already loaded model (tests)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = Engine(settings, encoder=encoder)  # catches the indexes up with the store
        app.state.engine = engine
        app.state.metrics.watch_store(engine.store.count, engine.store.cluster_count)
        schedule = None
        if settings.repair_idle_seconds > 0:
            schedule = app.state.repair_schedule = RepairSchedule(
                engine, settings.repair_idle_seconds, settings.repair_limit,
                on_result=lambda result: app.state.metrics.repairs.labels(result).inc())
            engine.on_stored.append(schedule.stored)
        retention = None
        if settings.retention_days > 0:
            retention = app.state.retention = RetentionSchedule(
                engine, settings.retention_days, settings.retention_check_seconds,
                on_expired=app.state.metrics.expired.inc)
        try:
            yield
        finally:
            if retention is not None:
                retention.close()
            if schedule is not None:
                schedule.close()
            engine.save_indexes()
            engine.store.close()
            del app.state.engine

    app = FastAPI(title="storyclust", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.metrics = Metrics()
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes)
    app.add_middleware(LatencyMiddleware, metrics=app.state.metrics)  # outermost: times the 413s too
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(sqlite3.OperationalError, store_unavailable)
    for router in (articles.router, clusters.router, corrections.router, dedup.router, health.router, admin_router):
        app.include_router(router)
    app.openapi = lambda: describe_api(app, settings)  # type: ignore[method-assign]
    return app


def describe_api(app: FastAPI, settings: Settings) -> dict[str, Any]:
    """The OpenAPI document of this service as configured: a key it does not require is
    optional (``security: [{}, ...]``: clients and fuzzers otherwise take the header as
    required), an endpoint that takes a key can answer 401, and one that takes a body 400
    (not UTF-8, not JSON)."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description,
                             routes=app.routes)
        optional = {"WriteKey": not settings.api_key, "ReadKey": not settings.read_api_key}
        for operations in schema["paths"].values():
            for operation in operations.values():
                security = operation.get("security")
                if security:
                    operation["responses"].setdefault("401", problem("The key is missing or wrong."))
                    if all(optional.get(name) for need in security for name in need):
                        operation["security"] = [{}, *security]
                if "requestBody" in operation:
                    operation["responses"].setdefault("400", problem("The body is not UTF-8 or not JSON."))
                    _document_bare_list(operation["requestBody"]["content"]["application/json"])
        app.openapi_schema = schema
    return app.openapi_schema


def _document_bare_list(content: dict[str, Any]) -> None:
    """A body that takes ``{"articles": [...]}`` (a batch, a feed) takes the bare list too
    (``schemas._bare_list``): say so, so that clients and fuzzers know it."""
    body = content["schema"]
    alternatives = body.get("oneOf", [body])
    if any(alt.get("$ref", "").rsplit("/", 1)[-1] in BARE_LIST_BODIES for alt in alternatives):
        bare = {"type": "array", "minItems": 1, "items": {"$ref": "#/components/schemas/Article"},
                "description": "The articles alone, as a JSON list."}
        content["schema"] = {**body, "oneOf": [*alternatives, bare]} if "oneOf" in body else {"oneOf": [body, bare]}


class BodyLimit:
    """413 for a request body over ``max_bytes``: at once when Content-Length says so, else as
    soon as the streamed body passes it (a chunked upload declares no length).

    Starlette's own RequestBodyLimitMiddleware answers the Content-Length case in plain text,
    bypassing the app's error handlers; this one answers like every other error.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    @property
    def message(self) -> str:
        return f"body: larger than the limit of {self.max_bytes} bytes per request"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await JSONResponse({"detail": self.message}, status_code=413)(scope, receive, send)
            return
        received = 0

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise HTTPException(413, self.message)
            return message

        await self.app(scope, receive_within_limit, send)


def field_name(loc: Sequence[Any]) -> str:
    """``("body", "batch", "articles", 2, "text")`` -> ``articles[2].text``; query, path and header
    parameters by their name."""
    parts = list(loc[1:])
    if loc[:1] == ("body",) and parts[:1] and parts[0] in UNION_TAGS:
        parts = parts[1:]
    name = ""
    for part in parts:
        if isinstance(part, int):
            name += f"[{part}]"
        else:
            name += f".{part}" if name else str(part)
    if name:
        return name
    return str(loc[0]) if loc else "request"


def _json_error(error: dict, document: Any) -> str:
    position = error["loc"][-1]
    where = ""
    if isinstance(document, str) and isinstance(position, int):
        line = document.count("\n", 0, position) + 1
        column = position - document.rfind("\n", 0, position)
        where = f" at line {line}, column {column}"
    return f"not valid JSON ({error.get('ctx', {}).get('error', 'decode error')}{where})"


async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """400 for a body that is not JSON, else 422; one ``field: message`` per problem."""
    errors = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        if error["type"] == "json_invalid":
            errors.append({"field": "body", "message": _json_error(error, exc.body)})
            continue
        field = field_name(loc)
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):  # name the tag field, not its object
            tag = str(error.get("ctx", {}).get("discriminator", "")).strip("'")
            field = tag if field == "body" else f"{field}.{tag}"
            if error["type"] == "union_tag_not_found":
                message = "Field required"
        if field == "body" and isinstance(error.get("input"), (str, bytes)):
            message = "expected a JSON object sent with Content-Type: application/json"
        errors.append({"field": field, "message": message})
    status = 400 if any(e["type"] == "json_invalid" for e in exc.errors()) else 422
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return JSONResponse({"detail": detail, "errors": errors}, status_code=status)


async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """FastAPI answers an unreadable body with a bare 400; say why (its cause is chained)."""
    detail = exc.detail
    cause = exc.__cause__
    if exc.status_code == 400 and isinstance(cause, UnicodeDecodeError):
        detail = f"body: not valid UTF-8 ({cause.reason} at byte {cause.start})"
    elif exc.status_code == 400 and cause is not None:
        detail = f"body: could not be read as JSON ({cause})"
    headers = exc.headers
    if exc.status_code == 405:  # Starlette lists the methods of the first route on the path only
        headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(request))}
    return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=headers)


def problem(description: str) -> dict[str, Any]:
    """An OpenAPI response answered with a :class:`Problem` body."""
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def allowed_methods(request: Request) -> list[str]:
    """The methods the API document lists for this request's path (FastAPI's included routers
    hide their routes from a plain walk of ``app.routes``)."""
    methods: set[str] = set()
    for template, operations in request.app.openapi()["paths"].items():
        if re.fullmatch(re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template)), request.url.path):
            methods |= {m.upper() for m in operations}
    return sorted(methods)


async def store_unavailable(request: Request, exc: sqlite3.OperationalError) -> JSONResponse:
    """The store is locked past its timeout (e.g. by the nightly job) or unwritable: retry."""
    return JSONResponse({"detail": f"store unavailable, retry later: {exc}"}, status_code=503,
                        headers={"Retry-After": "5"})

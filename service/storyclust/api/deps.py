"""What the routers share: the app's single Engine, its settings and metrics, the API-key checks,
and the request limits that the body's schema cannot know (they are settings)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Annotated

from fastapi import HTTPException, Request, Security
from fastapi.security import APIKeyHeader

from ..article import Article
from ..config import Settings
from ..engine import Engine
from ..metrics import Metrics

# One header, two schemes, so that the OpenAPI document can say which key each endpoint takes
# and, for the service it describes, whether it is needed at all (app.describe_api).
WRITE_KEY = APIKeyHeader(name="X-API-Key", scheme_name="WriteKey", auto_error=False,
                         description="Writes and admin: needed when STORYCLUST_API_KEY is set.")
READ_KEY = APIKeyHeader(name="X-API-Key", scheme_name="ReadKey", auto_error=False,
                        description="Reads: needed when STORYCLUST_READ_API_KEY is set (then it or "
                        "the write key opens them).")


# The dependencies below do no I/O, so they are ``async``: FastAPI runs a plain ``def``
# dependency in its thread pool, one thread hop (~0.2-0.5 ms) each, on every request.
async def get_engine(request: Request) -> Engine:
    return request.app.state.engine


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics


def authorise(settings: Settings, given: str | None, write: bool) -> None:
    """Raise 401 unless ``given`` opens this kind of endpoint; an unset (or empty) key opens it."""
    keys = [settings.api_key] if write else [settings.read_api_key, settings.api_key]
    if not keys[0]:
        return
    if not given:
        raise HTTPException(401, "X-API-Key: header missing", headers={"WWW-Authenticate": "APIKey"})
    if not any(k and secrets.compare_digest(given.encode(), k.encode()) for k in keys):
        raise HTTPException(401, "X-API-Key: not a valid key for this endpoint",
                            headers={"WWW-Authenticate": "APIKey"})


async def require_write_key(request: Request, key: Annotated[str | None, Security(WRITE_KEY)]) -> None:
    """Writes and admin: open unless settings.api_key is set."""
    authorise(request.app.state.settings, key, write=True)


async def require_read_key(request: Request, key: Annotated[str | None, Security(READ_KEY)]) -> None:
    """Reads: open unless settings.read_api_key is set; then it or api_key opens them."""
    authorise(request.app.state.settings, key, write=False)


def check_limits(articles: Sequence[Article], settings: Settings, field: str | None) -> None:
    """413 for a batch or an article text over its limit, naming it; before anything is stored.

    ``field`` is the list the articles came in (``articles``), or None for a single article.
    """
    if len(articles) > settings.max_batch:
        raise HTTPException(413, f"{field}: {len(articles)} articles, more than the limit of "
                                 f"{settings.max_batch} per request")
    for i, article in enumerate(articles):
        size = len(article.text.encode("utf-8"))
        if size > settings.max_article_bytes:
            where = f"{field}[{i}].text" if field else "text"
            raise HTTPException(413, f"{where}: {size} bytes, more than the limit of "
                                     f"{settings.max_article_bytes} bytes per article")

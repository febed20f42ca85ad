"""/articles: ingest (one or a batch), read and delete articles."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Body, Depends, HTTPException, Response

from ..config import Settings
from ..engine import Engine
from ..metrics import Metrics
from .deps import check_limits, get_engine, get_metrics, get_settings, require_read_key, require_write_key
from .schemas import (
    ArticleBatch,
    IngestBatchResult,
    IngestResult,
    PostedArticles,
    Problem,
    StoredArticleOut,
    article_examples,
)

router = APIRouter(prefix="/articles", tags=["articles"])
NOT_FOUND = {404: {"model": Problem, "description": "No article with this id."}}


@router.post(
    "", response_model=IngestResult | IngestBatchResult,
    dependencies=[Depends(require_write_key)],
    responses={401: {"model": Problem}, 413: {"model": Problem}, 422: {"model": Problem}},
)
def post_articles(
    body: Annotated[PostedArticles, Body(openapi_examples=article_examples())],
    engine: Annotated[Engine, Depends(get_engine)],
    settings: Annotated[Settings, Depends(get_settings)],
    metrics: Annotated[Metrics, Depends(get_metrics)],
    response: Response,
) -> IngestResult | IngestBatchResult:
    """Decide and store one article (answered with one result) or a batch, `{"articles": [...]}`
    or a bare list (answered with `{"results": [...]}`), in order, each seeing the earlier ones.

    The answer comes after the commit: an answered article survives a crash. The same id with the
    same content is an idempotent repeat (`stored: false`); the same id with new content is an
    update, stored anew and decided again. The `Server-Timing` header splits the time spent into
    the embedding model's share (`model`) and the rest of the engine's (`engine`).
    """
    batch = isinstance(body, ArticleBatch)
    articles = body.articles if batch else [body]
    check_limits(articles, settings, "articles" if batch else None)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    decisions = engine.ingest(articles, timings=timings)
    model = timings.get("model", 0.0)
    response.headers["Server-Timing"] = (f"model;dur={1000 * model:.1f}, "
                                         f"engine;dur={1000 * (time.perf_counter() - started - model):.1f}")
    metrics.count_ingested(decisions)
    results = [IngestResult.of(d) for d in decisions]
    return IngestBatchResult(results=results) if batch else results[0]


@router.get("/{article_id:path}", response_model=StoredArticleOut,
            dependencies=[Depends(require_read_key)], responses=NOT_FOUND)
def get_article(article_id: str, engine: Annotated[Engine, Depends(get_engine)]) -> StoredArticleOut:
    """A stored article with its story and the evidence of its decision."""
    article = engine.store.get(article_id)
    if article is None:
        raise HTTPException(404, f"article_id: no article {article_id!r}")
    return StoredArticleOut.of(article)


@router.delete("/{article_id:path}", status_code=204, response_class=Response,
               dependencies=[Depends(require_write_key)], responses=NOT_FOUND)
def delete_article(article_id: str, engine: Annotated[Engine, Depends(get_engine)]) -> Response:
    """Remove an article from the store and the indexes. Its story keeps the other members (and
    picks its representative among them); a story left empty disappears."""
    if not engine.delete(article_id):
        raise HTTPException(404, f"article_id: no article {article_id!r}")
    return Response(status_code=204)

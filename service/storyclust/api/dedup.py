"""/dedup: a feed in, the feed with copies (or whole stories) collapsed out (:mod:`storyclust.dedup`)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, Query, Security

from ..config import Settings
from ..dedup import collapse_feed
from ..engine import Engine
from ..metrics import Metrics
from .deps import READ_KEY, authorise, check_limits, get_engine, get_metrics, get_settings
from .schemas import DedupItem, DedupRequest, DedupResult, Problem, dedup_examples

router = APIRouter(tags=["dedup"])


@router.post("/dedup", response_model=DedupResult,
             responses={401: {"model": Problem}, 413: {"model": Problem}, 422: {"model": Problem}})
def dedup(
    body: Annotated[DedupRequest, Body(openapi_examples=dedup_examples())],
    key: Annotated[str | None, Security(READ_KEY)],
    engine: Annotated[Engine, Depends(get_engine)],
    settings: Annotated[Settings, Depends(get_settings)],
    metrics: Annotated[Metrics, Depends(get_metrics)],
    level: Annotated[Literal["near_duplicate", "story"] | None,
                     Query(description="The body's `level`, given in the query instead.")] = None,
    store: Annotated[bool | None, Query(description="The body's `store`, given in the query instead.")] = None,
) -> DedupResult:
    """Collapse a feed: per near-duplicate group (`level=near_duplicate`) or per story
    (`level=story`) one article is kept, and every dropped one says which article stands for it,
    a feed article or a stored one.

    `store=false` (a read: needs the read key when one is set) decides the feed exactly as an
    ingest would, each article seeing the stored ones and the earlier feed ones, then keeps
    nothing. `store=true` (a write) ingests the feed.

    The body is `{"articles": [...], "level": ..., "store": ...}`, or the feed alone as a JSON
    list; `level` and `store` may be given in the query instead (`/dedup?level=story`), and
    where given there they override the body's.
    """
    given = {"level": level, "store": store}
    body = body.model_copy(update={name: value for name, value in given.items() if value is not None})
    authorise(settings, key, write=body.store)
    check_limits(body.articles, settings, "articles")
    collapsed = collapse_feed(engine, body.articles, body.level, body.store)
    if body.store:
        metrics.count_ingested([c.decision for c in collapsed])
    items = [DedupItem(**c.decision.line(), kept=c.kept, stands_for=c.stands_for,
                       stands_for_stored=c.stands_for_stored) for c in collapsed]
    return DedupResult(level=body.level, stored=body.store,
                       kept=[i.id for i in items if i.kept], items=items)

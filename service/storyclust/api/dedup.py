"""/dedup: a feed in, the feed with copies (or whole stories) collapsed out.

A newsroom wants each thing once: within a copy group (or a story) the first feed article is
kept and the others are dropped in its favour; a feed article that repeats something already
stored is dropped in favour of the stored article, which it adds nothing to.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, Query, Security

from ..config import Settings
from ..engine import Decision, Engine
from ..metrics import Metrics
from ..store import Store
from .clusters import COPIES, representative
from .deps import READ_KEY, authorise, check_limits, get_engine, get_metrics, get_settings
from .schemas import DedupItem, DedupRequest, DedupResult, Problem, dedup_examples

router = APIRouter(tags=["dedup"])


def _stored_representative(store: Store, cluster_id: str, new_ids: set[str]) -> str | None:
    """The representative of the story as it was before this request, if it existed."""
    members = [m for m in store.cluster_members(cluster_id) if m.id not in new_ids]
    return representative(members).id if members else None


def _targets(decisions: Sequence[Decision], level: str, store: Store, new_ids: set[str]) -> dict[str, str]:
    """Feed id -> the article it defers to directly (itself when nothing comes before it)."""
    target: dict[str, str] = {}
    story_head: dict[str, str] = {}
    for d in decisions:
        if d.id in target:  # the same article twice in the feed: the first occurrence counts
            continue
        if level == "story":
            if d.cluster_id not in story_head:
                story_head[d.cluster_id] = _stored_representative(store, d.cluster_id, new_ids) or d.id
            target[d.id] = story_head[d.cluster_id]
        else:
            target[d.id] = d.duplicate_of if d.relation in COPIES and d.duplicate_of else d.id
    return target


def _stands_for(article_id: str, target: dict[str, str]) -> str:
    """Follow deferrals through the feed to a kept feed article or a stored one."""
    for _ in range(len(target)):
        nxt = target.get(article_id, article_id)
        if nxt == article_id:
            break
        article_id = nxt
    return article_id


def collapse(decisions: Sequence[Decision], level: str, store: Store, new_ids: set[str]) -> list[DedupItem]:
    """One item per decision, in feed order: kept, or the article that stands for it."""
    target = _targets(decisions, level, store, new_ids)
    seen: set[str] = set()
    items = []
    for d in decisions:
        stands = _stands_for(d.id, target)
        items.append(DedupItem(**d.line(), kept=stands == d.id and d.id not in seen,
                               stands_for=stands, stands_for_stored=stands not in target))
        seen.add(d.id)
    return items


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
    decisions = engine.ingest(body.articles, dry_run=not body.store)
    new_ids = {d.id for d in decisions if d.stored} if body.store else set()
    if body.store:
        metrics.count_ingested(decisions)
    items = collapse(decisions, body.level, engine.store, new_ids)
    return DedupResult(level=body.level, stored=body.store,
                       kept=[i.id for i in items if i.kept], items=items)

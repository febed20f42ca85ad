"""/clusters: one story with its members, and recent stories, paged."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query

from ..article import iso_date_schema, parse_published
from ..engine import Engine
from ..store import StoredArticle, representative
from .deps import get_engine, require_read_key
from .schemas import Member, Problem, Story, StoryListItem, StoryPage, utc

router = APIRouter(prefix="/clusters", tags=["clusters"], dependencies=[Depends(require_read_key)])


def summary(cluster_id: str, members: Sequence[StoredArticle]) -> dict:
    dated = [m.published_ts for m in members if m.published_ts is not None]
    return {
        "cluster_id": cluster_id, "size": len(members),
        "representative": Member.of(representative(members)),
        "sources": sorted({m.source for m in members if m.source}),
        "first_published": utc(min(dated)) if dated else None,
        "last_published": utc(max(dated)) if dated else None,
    }


# A page ends at a (updated_at, cluster_id) position; the cursor spells it plainly, so that any
# string of this form is a position to continue from (the schema's pattern, for clients and fuzzers).
CURSOR = re.compile(r"([0-9]{1,17}(?:\.[0-9]{1,17})?)~([^\x00]+)")


def encode_cursor(updated_at: float, cluster_id: str) -> str:
    return f"{updated_at!r}~{cluster_id}"  # repr: the float exactly, as the store compares it


def decode_cursor(cursor: str) -> tuple[float, str]:
    match = CURSOR.fullmatch(cursor)
    if match is None:
        raise HTTPException(422, "cursor: not a cursor returned by GET /clusters")
    return float(match[1]), match[2]


@router.get("", response_model=StoryPage, responses={422: {"model": Problem}})
def list_clusters(
    engine: Annotated[Engine, Depends(get_engine)],
    since: Annotated[str | None, Query(description="ISO 8601 date or datetime: only stories "
                                       "updated at or after it.", examples=["2025-04-11"],
                                       json_schema_extra=iso_date_schema)] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="Stories per page.")] = 20,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page; empty or absent: the first.",
                                        json_schema_extra={"pattern": f"^({CURSOR.pattern})?$"})] = None,
) -> StoryPage:
    """Recent stories, most recently updated first, a page at a time."""
    try:
        since_ts = parse_published(since).timestamp() if since and since.strip() else None
    except ValueError as error:
        raise HTTPException(422, f"since: {error}") from None
    before = decode_cursor(cursor) if cursor else None
    rows = engine.store.recent_clusters(since_ts, limit + 1, before=before)
    page = []
    for cluster_id, updated_at in rows[:limit]:
        members = engine.store.cluster_members(cluster_id)
        if members:  # emptied by a delete since the listing
            page.append(StoryListItem(**summary(cluster_id, members), updated_at=utc(updated_at)))
    if len(rows) <= limit:
        return StoryPage(clusters=page, next_cursor=None)
    last_id, last_updated = rows[limit - 1]
    return StoryPage(clusters=page, next_cursor=encode_cursor(last_updated, last_id))


@router.get("/{cluster_id}", response_model=Story,
            responses={404: {"model": Problem, "description": "No story with this id."}})
def get_cluster(cluster_id: str, engine: Annotated[Engine, Depends(get_engine)]) -> Story:
    """A story: its members with their relations, its representative article, size, distinct
    sources, first and last published time. An id merged away by re-clustering answers with the
    story it was merged into."""
    live = engine.store.resolve_cluster(cluster_id)
    members = engine.store.cluster_members(live) if live else []
    if not members:
        raise HTTPException(404, f"cluster_id: no story {cluster_id!r}")
    return Story(**summary(live, members), members=[Member.of(m) for m in members])

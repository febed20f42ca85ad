"""Collapsing a feed before publication: one article per copy group (or per story), and for
each dropped one the article that stands for it.

A newsroom wants each thing once: within a copy group (or a story) the first feed article is
kept and the others are dropped in its favour; a feed article that repeats something already
stored is dropped in favour of the stored article, which it adds nothing to. The feed is
decided exactly as an ingest would decide it, each article seeing the stored ones and the
earlier feed ones, and then stored or (``store=False``) rolled back. Used by ``POST /dedup``
and ``storyclust dedup``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from .article import Article
from .engine import Decision, Engine
from .store import COPIES, Store, representative

Level = Literal["near_duplicate", "story"]


@dataclass(frozen=True)
class Collapsed:
    """A feed article's decision, whether the collapsed feed keeps it, and what stands for it."""

    decision: Decision
    kept: bool
    stands_for: str  # itself when kept
    stands_for_stored: bool  # the article standing for it was stored before this feed


def collapse_feed(engine: Engine, articles: Sequence[Article], level: Level = "near_duplicate",
                  store: bool = False) -> list[Collapsed]:
    """Decide the feed (storing it only with ``store``) and collapse it, in feed order."""
    decisions = engine.ingest(list(articles), dry_run=not store)
    new_ids = {d.id for d in decisions if d.stored} if store else set()
    return collapse(decisions, level, engine.store, new_ids)


def collapse(decisions: Sequence[Decision], level: Level, store: Store, new_ids: set[str]) -> list[Collapsed]:
    """One entry per decision, in feed order: kept, or the article that stands for it.
    ``new_ids``: the feed articles this feed stored (they are not "stored before")."""
    target = _targets(decisions, level, store, new_ids)
    seen: set[str] = set()
    out = []
    for d in decisions:
        stands = _stands_for(d.id, target)
        out.append(Collapsed(d, kept=stands == d.id and d.id not in seen,
                             stands_for=stands, stands_for_stored=stands not in target))
        seen.add(d.id)
    return out


def _stored_representative(store: Store, cluster_id: str, new_ids: set[str]) -> str | None:
    """The representative of the story as it was before this feed, if it existed."""
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
        elif d.relation in COPIES and d.duplicate_of:
            target[d.id] = d.duplicate_of if d.duplicate_of in target else _stored_original(store, d.duplicate_of)
        else:
            target[d.id] = d.id
    return target


def _stored_original(store: Store, article_id: str) -> str:
    """The stored article that a stored copy copies, through copies of copies: a feed's copy of
    a stored wire copy stands for the original the newsroom already has."""
    for _ in range(100):  # copies always point at an existing earlier article: the chain ends
        stored = store.get(article_id)
        if stored is None or stored.relation not in COPIES or not stored.duplicate_of:
            break
        article_id = stored.duplicate_of
    return article_id


def _stands_for(article_id: str, target: dict[str, str]) -> str:
    """Follow deferrals through the feed to a kept feed article or a stored one."""
    for _ in range(len(target)):
        nxt = target.get(article_id, article_id)
        if nxt == article_id:
            break
        article_id = nxt
    return article_id

"""Retention: remove the articles older than a cutoff, so that a long-running store stays bounded.

A newsroom keeps a story live for days or weeks, but the store, the vector index (about 1.8 KB of
memory a stored article, README) and the term counts otherwise grow with every article ever
posted. Expiry is an operator's explicit act: `storyclust expire`, `POST /admin/expire`, or a
retention period set for the running service (``Settings.retention_days``, off by default;
:class:`RetentionSchedule`). What the service acknowledged stays until someone says how long
to keep it.

An article's age is its place in time as the re-clustering job reads it: its publication time
(``published_at``, or the date its body opens with), or its arrival where it is undated. Each
article goes as on ``DELETE /articles/{id}``: its story keeps its id and its other members (and
re-picks its representative), a story left empty disappears, and a copy whose original expires
takes the original's place; an editor's correction left with no pair of stored articles to
decide is forgotten (``corrections.prune``). Removal runs in batches of ``EXPIRE_BATCH``
articles, each one transaction under the engine lock: posts go on between batches, and a kill
leaves whole batches removed, never part of an article.

``EXPIRE_BATCH`` trades the time a post may wait for the lock against the cost of a commit (its
fsync) and a FAISS partition scan, paid once a batch (`bench/expire.py`, a store of 100k, the
oldest half expired, medians of 3 runs): batches of 100 take 83 ms each (216 ms at most) and
remove 1,188 articles a second, against 365 one by one (`DELETE`); batches of 500 took 321 ms
each for 1,546 a second (on a quieter run whose one-by-one rate was 559).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from . import corrections
from .recluster import parse_bound
from .store import PLACED

if TYPE_CHECKING:  # the engine's module loads torch
    from .engine import Engine

log = logging.getLogger(__name__)

EXPIRE_BATCH = 100


@dataclass
class ExpiryReport:
    """What an expiry removed (or, as a dry run, would remove)."""

    before: str
    dry_run: bool
    articles: int  # articles removed
    stories_removed: int  # stories all of whose articles were removed: they are gone
    stories_kept: int  # stories that lost articles and keep the others, under their ids
    seconds: float

    def summary(self) -> dict:
        return asdict(self)


def expire(engine: Engine, before: str, dry_run: bool = False, batch: int = EXPIRE_BATCH,
           progress: Callable[[int], None] | None = None, stop: threading.Event | None = None) -> ExpiryReport:
    """Remove every stored article placed in time before ``before`` (an ISO 8601 date or
    datetime; a bare date is the start of that day, UTC). ``dry_run`` counts without removing.
    ``progress`` is called with the number of articles each batch removed; once ``stop`` is set
    no further batch starts (a service shutting down). Raises ValueError for a ``before`` that
    is not a date."""
    started = time.perf_counter()
    cutoff = parse_cutoff(before)
    if dry_run:
        articles, removed, kept = count_expired(engine, cutoff, stories=True)
        return ExpiryReport(before, True, articles, removed, kept, round(time.perf_counter() - started, 3))
    stories: set[str] = set()
    articles = 0
    db = engine.store.reader()
    # The oldest first, through the index on the place in time (store.articles_placed).
    while ids := [row[0] for row in db.execute(
            f"SELECT id FROM articles WHERE {PLACED} < ? ORDER BY {PLACED} LIMIT ?", (cutoff, batch))]:
        gone = engine.delete_many(ids, placed_before=cutoff)
        if not gone:  # each was updated to a newer article meanwhile; a guard: the query skips those
            break
        stories.update(gone)
        articles += len(gone)
        if progress is not None:
            progress(len(gone))
        if stop is not None and stop.is_set():
            break
    if articles:
        pruned = corrections.prune(engine)
        if pruned:
            log.info("expire: %d editors' corrections no longer name two stored articles; forgotten", pruned)
    removed = sum(not engine.store.cluster_exists(story) for story in stories)
    return ExpiryReport(before, False, articles, removed, len(stories) - removed, round(time.perf_counter() - started, 3))


def parse_cutoff(before: str) -> float:
    """``before`` as a timestamp; ValueError naming the field where it is not a date."""
    try:
        cutoff = parse_bound(before)
    except ValueError as error:
        raise ValueError(f"before: {error}") from None
    if cutoff is None:
        raise ValueError("before: a date is required")
    return cutoff


def count_expired(engine: Engine, cutoff: float, stories: bool = False) -> tuple[int, int, int]:
    """Articles placed before ``cutoff`` (through the index) and, with ``stories`` (a scan of
    the whole table), the stories with every article before it and those with some before it
    and some after; else those two are 0."""
    db = engine.store.reader()
    articles = db.execute(f"SELECT COUNT(*) FROM articles WHERE {PLACED} < ?", (cutoff,)).fetchone()[0]
    if not stories:
        return int(articles), 0, 0
    removed, kept = db.execute(
        f"SELECT COALESCE(SUM(newest < ?), 0), COALESCE(SUM(newest >= ?), 0) FROM "
        f"(SELECT MIN({PLACED}) AS oldest, MAX({PLACED}) AS newest FROM articles GROUP BY cluster_id) "
        f"WHERE oldest < ?", (cutoff, cutoff, cutoff)).fetchone()
    return int(articles), int(removed), int(kept)


class RetentionSchedule:
    """Expires, every ``every_seconds`` (and once at start), what is older than ``days`` days, on a
    thread of its own in the process that holds the engine: the service's indexes stay those of
    the store, which an expiry run by another process on the same data directory would not.

    - ``days``: how much the store keeps. Shorter: less memory and disk, and a story reported
      again after that long starts anew (it can no longer join its old reports).
    - ``every_seconds``: how often it looks. A check that finds nothing old costs one indexed
      count; longer lets the store hold up to that much more than ``days``.

    ``on_expired`` is called with each expiry's count (the metrics)."""

    def __init__(self, engine: Engine, days: float, every_seconds: float = 3600.0,
                 on_expired: Callable[[int], None] | None = None) -> None:
        self.engine, self.days, self.every_seconds, self.on_expired = engine, days, every_seconds, on_expired
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="retention", daemon=True)
        self._thread.start()

    def run_once(self) -> ExpiryReport:
        cutoff = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=self.days)
        report = expire(self.engine, cutoff.isoformat(), stop=self._stop)
        if report.articles:
            log.info("retention: %s", report.summary())
        if self.on_expired is not None:
            self.on_expired(report.articles)
        return report

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # noqa: BLE001 - logged, and tried again at the next check
                log.exception("retention: expiry failed; it is tried again at the next check")
            self._stop.wait(self.every_seconds)

    def close(self) -> None:
        """Stop after the batch in progress (the rest waits for the next start)."""
        self._stop.set()
        self._thread.join()

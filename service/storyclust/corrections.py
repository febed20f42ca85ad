"""Editors' corrections: a story split, or articles moved into another story, by hand, and kept
by every later re-clustering.

Why: some errors no signal here decides. Two look-alike events of one topic and cast, months or
years apart (docs/accuracy.md: the IE patches of 2008 and 2013, the Chargers' two DUI arrests),
score as one story, and the nightly job would undo an editor's fix of them every night. A
correction takes effect in the store at once, like a job's write, and is recorded as constraints
between the articles it names, which the job (:mod:`recluster`) reads as pair scores:

- articles set apart score ``APART`` with each other, far below any threshold, so that average
  linkage never forms a group holding both (one such pair outweighs any number of others);
- articles put together score ``TOGETHER`` (1, the most a pair scores), so they merge first.

A split keeps the articles it takes out together, as one story, and apart from the rest of their
old story; a move puts the articles together with each member of the story they join (not its
members with each other: the editor placed these articles, and did not vouch for the rest of
that story; and k moved into a story of n make k x n pairs, not n^2 / 2) and sets them apart
from the rest of the stories they leave. The job's cost: a split of k from a story of n adds k x
(n - k) + k^2 / 2 pairs (2,000 of 4,000: 6M pairs, 0.2-1.2 s to expand). Where corrections
disagree on a pair, the latest wins. Only originals are named: copies (exact and near
duplicates) follow the article they copy, as everywhere else. A job whose span holds one side of
a correction also re-clusters the other (:func:`hold_partners`), so a dated span cannot break a
correction. Withdrawing one moves nothing back: the next job decides those articles freely
again.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from .store import COPIES, DUPLICATES, Store, StoredArticle, select_in

Action = Literal["split", "move"]
MOVED, APART, WITH = "moved", "apart", "with"  # the sides of a correction's members
APART_SCORE = -1e9  # finite: SciPy's linkage refuses infinite distances
TOGETHER_SCORE = 1.0
SQLITE_MAX_INTEGER = 2**63 - 1  # correction ids are SQLite row ids


class CorrectionError(ValueError):
    """A correction that cannot be made as asked; the message names the field. ``status``: 404
    where it names what is not stored, 409 where what is stored does not allow it."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Correction:
    """One editor's correction as recorded. ``cluster_id``: the story a split made, or the one a
    move joined (as it was named then). ``article_ids``: the articles it moved (their copies
    went with them)."""

    correction_id: int
    action: Action
    cluster_id: str
    article_ids: list[str]
    apart_from: int
    placed_with: int
    note: str | None
    created_at: float


def split(engine, article_ids: Sequence[str], cluster_id: str | None = None, note: str | None = None) -> Correction:
    """Take ``article_ids`` (originals of one story, not all of it) out of their story into a new
    one, set apart from the rest. ``cluster_id``, when given, is the story the caller sees them in:
    the split is refused if they are no longer there (a job or another editor moved them)."""
    with _transaction(engine) as store:
        moved = _originals(store, article_ids)
        stories = sorted({a.cluster_id for a in moved})
        if len(stories) > 1:
            raise CorrectionError(f"article_ids: the articles are in {len(stories)} stories ({', '.join(stories)}); "
                                  "a split takes articles of one story")
        story = stories[0]
        if cluster_id is not None and store.resolve_cluster(cluster_id, store.db) != story:
            raise CorrectionError(f"cluster_id: the articles are in story {story!r}, not {cluster_id!r}")
        moving = {a.id for a in moved}
        rest = [i for i in _story_originals(store.db, [story]) if i not in moving]
        if not rest:
            raise CorrectionError(f"article_ids: that is every original of story {story!r}; nothing is left to split it from")
        new_story = store.unused_cluster_id(moved[0].id)
        return _apply(store, "split", moved, new_story, {APART: rest}, note)


def move(engine, article_ids: Sequence[str], cluster_id: str, note: str | None = None) -> Correction:
    """Move ``article_ids`` (originals) into story ``cluster_id`` (or the story it was merged
    into), with its members, and apart from the rest of the stories they leave."""
    with _transaction(engine) as store:
        target = store.resolve_cluster(cluster_id, store.db)
        if target is None:
            raise CorrectionError(f"cluster_id: no story {cluster_id!r}", 404)
        moved = _originals(store, article_ids)
        there = [a.id for a in moved if a.cluster_id == target]
        if there:
            raise CorrectionError(f"article_ids: {there[0]!r} is already in story {target!r}")
        moving = {a.id for a in moved}
        left = sorted({a.cluster_id for a in moved})
        members = {WITH: _story_originals(store.db, [target]),
                   APART: [i for i in _story_originals(store.db, left) if i not in moving]}
        return _apply(store, "move", moved, target, members, note)


def withdraw(engine, correction_id: int) -> bool:
    """Forget a correction: later jobs no longer keep it (nothing moves now). False: none such."""
    if not 0 < correction_id <= SQLITE_MAX_INTEGER:  # none such, and SQLite could not even compare it
        return False
    with _transaction(engine) as store:
        return store.db.execute("DELETE FROM corrections WHERE correction_id=?", (correction_id,)).rowcount > 0


def prune(engine) -> int:
    """Forget the corrections that no longer decide any pair of stored articles (every pair has a
    moved article: none of those is stored, or nothing else is), as retention removes their
    articles; how many. Without it, corrections would outlive a retention period forever."""
    with _transaction(engine) as store:
        return store.db.execute(
            "DELETE FROM corrections WHERE correction_id IN (SELECT m.correction_id FROM correction_members m "
            "LEFT JOIN articles a ON a.id = m.article_id GROUP BY m.correction_id "
            f"HAVING COUNT(a.id) < 2 OR SUM(a.id IS NOT NULL AND m.side = '{MOVED}') = 0)").rowcount


def get(store: Store, correction_id: int) -> Correction | None:
    if not 0 < correction_id <= SQLITE_MAX_INTEGER:
        return None
    found = _read(store.reader(), "WHERE correction_id=?", [correction_id])
    return found[0] if found else None


def recent(store: Store, limit: int, before: int | None = None) -> list[Correction]:
    """The latest corrections first; ``before``: only those older than this one."""
    where, args = ("WHERE correction_id < ?", [before]) if before is not None else ("", [])
    return _read(store.reader(), f"{where} ORDER BY correction_id DESC LIMIT ?", args + [limit])


# --------------------------------------------------------------------------------------------
# What the job reads
# --------------------------------------------------------------------------------------------
def constraint_pairs(db: sqlite3.Connection, ids: Sequence[str],
                     node_of_row: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The job's pairs of nodes that corrections decide (a < b), with their score (``APART_SCORE``
    or ``TOGETHER_SCORE``); the latest correction of a pair wins. ``ids`` and ``node_of_row``:
    the snapshot's article ids and each one's node (-1: not clustered); articles out of the
    snapshot take no part."""
    members = db.execute("SELECT correction_id, article_id, side FROM correction_members ORDER BY correction_id").fetchall()
    empty = np.zeros(0, dtype=np.int64)
    if not members:
        return empty, empty, np.zeros(0)
    wanted = {article_id for _, article_id, _ in members}
    node_of = {i: int(node_of_row[row]) for row, i in enumerate(ids) if i in wanted and node_of_row[row] >= 0}
    sides: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for correction_id, article_id, side in members:
        if article_id in node_of:
            sides[correction_id][side].append(node_of[article_id])
    parts_a, parts_b, parts_value = [], [], []
    for by_side in sides.values():  # in correction order
        moved, joined, apart = (np.array(by_side[side], dtype=np.int64) for side in (MOVED, WITH, APART))
        i, j = np.triu_indices(len(moved), 1)
        for a, b, value in ((np.repeat(moved, len(apart)), np.tile(apart, len(moved)), APART_SCORE),
                            (np.repeat(moved, len(joined)), np.tile(joined, len(moved)), TOGETHER_SCORE),
                            (moved[i], moved[j], TOGETHER_SCORE)):  # k x n pairs, never n^2 / 2
            parts_a.append(np.minimum(a, b))
            parts_b.append(np.maximum(a, b))
            parts_value.append(np.full(len(a), value))
    a, b, value = (np.concatenate(p) for p in (parts_a, parts_b, parts_value))
    keep = a != b
    a, b, value = a[keep], b[keep], value[keep]
    key = a * len(node_of_row) + b
    last = len(key) - 1 - np.unique(key[::-1], return_index=True)[1]  # the latest of each pair
    return a[last], b[last], value[last]


def with_constraints(n: int, a: np.ndarray, b: np.ndarray, score: np.ndarray,
                     fixed: tuple[np.ndarray, np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The job's edges (a < b) with the pairs corrections decide in place of their scores."""
    fa, fb, value = fixed
    if not len(fa):
        return a, b, score
    keep = ~np.isin(a * n + b, fa * n + fb)
    return np.concatenate([a[keep], fa]), np.concatenate([b[keep], fb]), np.concatenate([score[keep], value])


def hold_partners(db: sqlite3.Connection, scope: str, args: list) -> None:
    """Add to ``temp.job_rows`` every stored article that shares a correction with an article in
    ``scope`` (SQL over ``articles`` that reads ``temp.job_rows`` too), until none is left to
    add: the job then clusters both sides of each correction it meets."""
    while db.execute(
            "INSERT OR IGNORE INTO temp.job_rows SELECT a.rowid FROM articles a "
            "JOIN correction_members m ON m.article_id = a.id WHERE m.correction_id IN ("
            "SELECT n.correction_id FROM correction_members n "  # one lookup per member, not a scan of the scope
            f"WHERE EXISTS (SELECT 1 FROM articles WHERE id = n.article_id AND {scope}))", args).rowcount > 0:
        pass


# --------------------------------------------------------------------------------------------
# The write
# --------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _transaction(engine) -> Iterator[Store]:
    """The store, in one write transaction under the engine's lock: committed when the block
    ends, rolled back (nothing written) when it raises."""
    with engine.lock:
        store = engine.store
        store.begin()
        try:
            yield store
            store.commit()
        except BaseException:
            store.rollback()
            raise


def _originals(store: Store, article_ids: Sequence[str]) -> list[StoredArticle]:
    """The stored originals named, in order, once each; a copy named with its original is
    dropped (it follows), one named without it is refused."""
    ids = list(dict.fromkeys(article_ids))
    found = {}
    for article_id in ids:
        article = store.get(article_id, store.db)
        if article is None:
            raise CorrectionError(f"article_ids: no article {article_id!r}", 404)
        found[article_id] = article
    originals = [a for a in found.values() if a.relation not in COPIES]
    for a in found.values():
        if a.relation in COPIES and _original_of(store, a).id not in found:
            raise CorrectionError(f"article_ids: {a.id!r} is a copy ({a.relation}) of {a.duplicate_of!r} and goes where "
                                  "it goes; name the original")
    if not originals:  # a copy whose original is gone is never stored (Store.delete passes its place on)
        raise CorrectionError("article_ids: names no original article")
    return originals


def _original_of(store: Store, article: StoredArticle) -> StoredArticle:
    """The end of an article's copy chain."""
    seen = {article.id}
    while article.relation in COPIES and article.duplicate_of and article.duplicate_of not in seen:
        original = store.get(article.duplicate_of, store.db)
        if original is None:
            break
        seen.add(original.id)
        article = original
    return article


def _story_originals(db: sqlite3.Connection, stories: list[str]) -> list[str]:
    marks = ",".join("?" * len(COPIES))
    return [r[0] for r in select_in(db, f"SELECT id FROM articles WHERE cluster_id IN ({{}}) AND relation NOT IN ({marks}) "
                                        "ORDER BY rowid", stories, list(DUPLICATES))]


def _apply(store: Store, action: Action, moved: list[StoredArticle], story: str, members: dict[str, list[str]],
           note: str | None) -> Correction:
    """Inside the caller's transaction: move the originals (and their copies) into ``story``,
    renumber the relations of every story touched, record the correction, and make any job
    that read the store before it refuse its write (its plan does not know the correction)."""
    db, now = store.db, time.time()
    left = sorted({a.cluster_id for a in moved})  # as read before this move
    db.executemany("UPDATE articles SET cluster_id=? WHERE rowid=?", [(story, a.rowid) for a in moved])
    store.follow_originals([(a.id, story) for a in moved])
    touched = sorted({story, *left})
    marks = ",".join("?" * len(COPIES))
    for cluster_id in touched:  # the earliest original starts its story, as online
        db.execute(f"UPDATE articles SET relation=CASE WHEN rowid=(SELECT MIN(rowid) FROM articles WHERE cluster_id=? "
                   f"AND relation NOT IN ({marks})) THEN 'new_story' ELSE 'same_story' END "
                   f"WHERE cluster_id=? AND relation NOT IN ({marks})", [cluster_id, *DUPLICATES, cluster_id, *DUPLICATES])
    db.executemany("INSERT INTO clusters(cluster_id, created_at, updated_at) SELECT ?, ?, ? "
                   "WHERE EXISTS (SELECT 1 FROM articles WHERE cluster_id=?) "
                   "ON CONFLICT(cluster_id) DO UPDATE SET updated_at=excluded.updated_at",
                   [(c, now, now, c) for c in touched])
    for emptied in [c for c in left if not db.execute("SELECT 1 FROM articles WHERE cluster_id=?", (c,)).fetchone()]:
        db.execute("DELETE FROM clusters WHERE cluster_id=?", (emptied,))  # moved whole: its id leads to the story joined
        db.execute("UPDATE cluster_aliases SET cluster_id=? WHERE cluster_id=?", (story, emptied))
        db.execute("INSERT INTO cluster_aliases(alias, cluster_id) VALUES(?, ?) "
                   "ON CONFLICT(alias) DO UPDATE SET cluster_id=excluded.cluster_id", (emptied, story))
    correction_id = int(db.execute("INSERT INTO corrections(action, cluster_id, note, created_at) VALUES(?, ?, ?, ?)",
                                   (action, story, note, now)).lastrowid)
    rows = [(correction_id, a.id, MOVED) for a in moved]
    rows += [(correction_id, i, side) for side, ids in members.items() for i in ids]
    db.executemany("INSERT INTO correction_members(correction_id, article_id, side) VALUES(?, ?, ?)", rows)
    store.bump_generation()
    return Correction(correction_id, action, story, [a.id for a in moved], len(members.get(APART, [])),
                      len(members.get(WITH, [])), note, now)


def _read(db: sqlite3.Connection, tail: str, args: list) -> list[Correction]:
    rows = db.execute(f"SELECT correction_id, action, cluster_id, note, created_at FROM corrections {tail}", args).fetchall()
    counts: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for correction_id, article_id, side in select_in(
            db, "SELECT correction_id, article_id, side FROM correction_members WHERE correction_id IN ({}) "
                "ORDER BY rowid", [r[0] for r in rows]):
        counts[correction_id][side].append(article_id)
    return [Correction(c, action, cluster_id, counts[c][MOVED], len(counts[c][APART]), len(counts[c][WITH]), note, created)
            for c, action, cluster_id, note, created in rows]

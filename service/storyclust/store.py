"""SQLite store: the source of truth for articles, their hashes, signatures, embeddings,
profiles, story assignments and clusters. FAISS and LSH are derived from it.

WAL mode. With ``fsync`` (the default, ``synchronous=FULL``) a transaction that returned from
``commit`` survives a kill of the process and a power cut or OS crash, so whatever the service
acknowledged is never lost; that costs one fsync per write transaction (a one-article commit,
13 pages, takes ~1 ms p50 with it on this machine's disk). Without (``synchronous=NORMAL``) a
commit is in the OS before it returns and survives a kill of the process, but the last
transactions before a power cut may roll back; the database
itself stays consistent either way. One connection writes (the engine serialises writes);
readers open their own connections and run concurrently.

Term document frequencies (``term_df``) are derived data too, but rebuilding them means parsing
every stored profile, so the table is a checkpoint: it counts the terms of every article up to
the row id in meta ``term_df_upto``, and :meth:`Store.term_df` adds the articles after it from
their stored profiles. Writing ~300 term rows per article would dirty ~90 B-tree pages, 7 of
every 8 pages an ingest writes; an article's own write stays ~13 pages this way, and the engine
checkpoints the counts every few thousand articles (:meth:`Store.checkpoint_term_df`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .normalize import DIRECTION_MARKS, HASH_VERSION, content_hash, lead_hash
from .profile import COUNTED_TERMS_VERSION, Profile

SCHEMA_VERSION = 1
TERM_DF_UPTO = "term_df_upto"  # meta key: term_df counts the articles with rowid <= this
STORE_FILE = "storyclust.sqlite3"  # in the data directory
TERM_DF_KEYS = "term_df_keys"  # meta key: the profile.COUNTED_TERMS_VERSION term_df was counted in
REPAIRED_UPTO = "repaired_upto"  # meta key: the API's repairs have had every article with rowid <= this
HASH_KEY = "hash_version"  # meta key: the normalize.HASH_VERSION of the stored content and lead hashes
GENERATION_KEY = "recluster_generation"  # meta key: bumped by every re-clustering and correction written

log = logging.getLogger(__name__)


SQL_CHUNK = 900  # values per "IN (...)" list: under every SQLite build's variable limit


def select_in(db: sqlite3.Connection, sql: str, values: list, args: list | None = None) -> Iterator[tuple]:
    """Rows of ``sql`` (with one ``IN ({})``, then ``args``) over many values, a chunk at a time."""
    for start in range(0, len(values), SQL_CHUNK):
        chunk = values[start:start + SQL_CHUNK]
        yield from db.execute(sql.format(",".join("?" * len(chunk))), chunk + (args or []))

# An article's place in time: its publication, or its arrival when undated. The job's spans and
# retention select by it, and SQLite uses its index (articles_placed) only for this very
# expression: SQL that reads it writes PLACED.
PLACED = "COALESCE(published_ts, ingested_at)"

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    rowid INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    fingerprint TEXT NOT NULL,
    title TEXT, text TEXT NOT NULL, published_at TEXT, published_ts REAL,
    lang TEXT, source TEXT, url TEXT,
    content_hash TEXT NOT NULL,
    lead_hash TEXT,
    shingles INTEGER NOT NULL,
    signature BLOB NOT NULL,
    embedding BLOB NOT NULL,
    profile TEXT NOT NULL,
    cluster_id TEXT NOT NULL,
    relation TEXT NOT NULL,
    duplicate_of TEXT,
    score REAL,
    evidence TEXT,
    ingested_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS articles_hash ON articles(content_hash);
CREATE INDEX IF NOT EXISTS articles_cluster ON articles(cluster_id);
CREATE INDEX IF NOT EXISTS articles_published ON articles(published_ts);
-- The copies of an article (its DELETE or expiry passes its place on to them): without it each
-- removal scanned the whole table (83 ms an article at 100k stored; bench/expire.py).
CREATE INDEX IF NOT EXISTS articles_copies ON articles(duplicate_of) WHERE duplicate_of IS NOT NULL;
-- An article's place in time (publication, or arrival when undated), as the job's spans and
-- retention read it: an expiry finds the oldest articles without scanning the table.
CREATE INDEX IF NOT EXISTS articles_placed ON articles({PLACED});
CREATE TABLE IF NOT EXISTS clusters (
    cluster_id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS clusters_updated ON clusters(updated_at);
CREATE TABLE IF NOT EXISTS cluster_aliases (alias TEXT PRIMARY KEY, cluster_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS term_df (term TEXT PRIMARY KEY, df INTEGER NOT NULL);
-- Editors' corrections (:mod:`storyclust.corrections`): each names the articles it moved and
-- those it set them apart from or put them with, by id, so that it outlives their rows.
CREATE TABLE IF NOT EXISTS corrections (
    correction_id INTEGER PRIMARY KEY AUTOINCREMENT,
    action TEXT NOT NULL,
    cluster_id TEXT NOT NULL,
    note TEXT,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS correction_members (
    correction_id INTEGER NOT NULL REFERENCES corrections(correction_id) ON DELETE CASCADE,
    article_id TEXT NOT NULL,
    side TEXT NOT NULL,
    PRIMARY KEY (correction_id, article_id)
);
CREATE INDEX IF NOT EXISTS correction_members_article ON correction_members(article_id);
"""

ARTICLE_COLUMNS = (
    "rowid, id, fingerprint, title, text, published_at, published_ts, lang, source, url, "
    "content_hash, shingles, cluster_id, relation, duplicate_of, score, evidence, ingested_at"
)


COPIES = frozenset({"exact_duplicate", "near_duplicate"})  # relations of an article that copies another
DUPLICATES = tuple(sorted(COPIES))  # the copy relations, in a fixed order for SQL parameters


@dataclass
class StoredArticle:
    rowid: int
    id: str
    fingerprint: str
    title: str | None
    text: str
    published_at: str | None
    published_ts: float | None
    lang: str | None
    source: str | None
    url: str | None
    content_hash: str
    shingles: int
    cluster_id: str
    relation: str
    duplicate_of: str | None
    score: float | None
    evidence: str | None
    ingested_at: float

    def public(self, with_text: bool = True) -> dict:
        data = {
            "id": self.id, "title": self.title, "published_at": self.published_at,
            "lang": self.lang, "source": self.source, "url": self.url,
            "cluster_id": self.cluster_id, "relation": self.relation,
            "duplicate_of": self.duplicate_of, "score": self.score,
            "evidence": json.loads(self.evidence) if self.evidence else None,
        }
        if with_text:
            data["text"] = self.text
        return data


def representative(members: Sequence[StoredArticle]) -> StoredArticle:
    """The earliest-ingested member that is not a copy (copies may be truncated or carry agency
    boilerplate), else the first member. ``members`` are in ingest order."""
    return next((m for m in members if m.relation not in COPIES), members[0])


@dataclass
class Candidate:
    """What the engine needs of a stored article to compare it with a new one."""

    rowid: int
    id: str
    cluster_id: str
    lang: str | None
    published_ts: float | None
    shingles: int
    signature: np.ndarray
    profile: Profile


class Store:
    def __init__(self, data_dir: Path, fsync: bool = True) -> None:
        self.data_dir = Path(data_dir)
        self.synchronous = "FULL" if fsync else "NORMAL"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.data_dir / STORE_FILE
        self._local = threading.local()
        self.db = self._connect()
        self.db.executescript(SCHEMA)
        self._add_lead_hash()
        self._check_version()

    # --- connections ----------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={self.synchronous}")
        db.execute("PRAGMA foreign_keys=ON")
        return db

    def reader(self) -> sqlite3.Connection:
        """A connection of this thread's own, for reads concurrent with the writer."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = self._connect()
        return db

    def close(self) -> None:
        self.db.close()

    def _add_lead_hash(self) -> None:
        """The column (and its index) a store made before lead hashes lacks: added empty, so its
        earlier articles are found as copies by LSH and neighbours only (hashing every stored
        text at start-up would cost minutes on a large store)."""
        columns = {row[1] for row in self.db.execute("PRAGMA table_info(articles)")}
        if "lead_hash" not in columns:
            self.db.execute("ALTER TABLE articles ADD COLUMN lead_hash TEXT")
        self.db.execute("CREATE INDEX IF NOT EXISTS articles_lead ON articles(lead_hash) WHERE lead_hash IS NOT NULL")

    def _check_version(self) -> None:
        version = self.get_meta("schema_version")
        if version is None:
            self.set_meta("schema_version", str(SCHEMA_VERSION))
            self.set_meta(TERM_DF_UPTO, "0")
        elif self.get_meta(TERM_DF_UPTO) is None:  # made when every insert counted its terms
            self.set_meta(TERM_DF_UPTO, str(self.max_rowid()))
        if version is not None and int(version) != SCHEMA_VERSION:
            raise RuntimeError(f"{self.path}: schema version {version}, this storyclust needs {SCHEMA_VERSION}")
        if self.get_meta(TERM_DF_KEYS) != str(COUNTED_TERMS_VERSION):
            self._recount_terms()
        if self.get_meta(HASH_KEY) != str(HASH_VERSION):
            self._rehash()

    def _rehash(self) -> None:
        """Re-hash the articles whose hashes an earlier normalisation computed differently, so
        that a copy posted now is still found as an exact duplicate of them. A store without the
        key was hashed by version 1, which kept ``DIRECTION_MARKS``: only the texts that carry
        one can hash differently now, and SQLite finds them without parsing every text in Python."""
        self.begin()
        try:
            marked = " OR ".join("instr(text, ?) > 0" for _ in DIRECTION_MARKS)
            rowids = [r for (r,) in self.db.execute(f"SELECT rowid FROM articles WHERE {marked}", list(DIRECTION_MARKS))]
            for start in range(0, len(rowids), SQL_CHUNK):  # a chunk of texts in memory at a time
                texts = select_in(self.db, "SELECT rowid, text FROM articles WHERE rowid IN ({})",
                                  rowids[start:start + SQL_CHUNK])
                self.db.executemany("UPDATE articles SET content_hash=?, lead_hash=? WHERE rowid=?",
                                    [(content_hash(text), lead_hash(text), rowid) for rowid, text in list(texts)])
            if rowids:
                log.warning("%s: re-hashed %d articles for normalisation version %d", self.path, len(rowids), HASH_VERSION)
            self.set_meta(HASH_KEY, str(HASH_VERSION))
            self.commit()
        except BaseException:
            self.rollback()
            raise

    def _recount_terms(self) -> None:
        """Drop the term_df checkpoint of a store counted by an earlier version (a store without
        the key predates sentence counts: its boilerplate sentences would never count), so that
        :meth:`term_df` counts every stored profile anew and the next checkpoint writes it. The
        counts are derived data: nothing stored is lost, one start-up parses every profile."""
        self.begin()
        try:
            stored = self.max_rowid(self.db)
            if stored:
                log.warning("%s: term counts were made by an earlier version; recounting %d articles' "
                            "stored profiles", self.path, self.count(self.db))
            self.db.execute("DELETE FROM term_df")
            self.set_meta(TERM_DF_UPTO, "0")
            self.set_meta(TERM_DF_KEYS, str(COUNTED_TERMS_VERSION))
            self.commit()
        except BaseException:
            self.rollback()
            raise

    # --- meta -----------------------------------------------------------------------------
    def get_meta(self, key: str, db: sqlite3.Connection | None = None) -> str | None:
        row = (db or self.reader()).execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value", (key, value))

    def bind(self, key: str, value: str) -> None:
        """Record a setting the stored data depends on; refuse to mix data made with another."""
        stored = self.get_meta(key)
        if stored is None:
            self.set_meta(key, value)
        elif stored != value:
            raise RuntimeError(
                f"{self.path} was built with {key}={stored!r}, the configuration says {value!r}: "
                "use another data directory or the same setting"
            )

    # --- transactions ---------------------------------------------------------------------
    def begin(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self.db.execute("COMMIT")

    def rollback(self) -> None:
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")

    # --- articles -------------------------------------------------------------------------
    def _article(self, row) -> StoredArticle | None:
        return StoredArticle(*row) if row else None

    def get(self, article_id: str, db: sqlite3.Connection | None = None) -> StoredArticle | None:
        db = db or self.reader()
        row = db.execute(f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE id=?", (article_id,)).fetchone()
        return self._article(row)

    def first_with_hash(self, content_hash: str) -> StoredArticle | None:
        row = self.db.execute(
            f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE content_hash=? ORDER BY rowid LIMIT 1",
            (content_hash,),
        ).fetchone()
        return self._article(row)

    def with_lead(self, lead_hash: str | None, limit: int = 8) -> list[int]:
        """Row ids of the first stored articles that open with the same words."""
        if lead_hash is None:
            return []
        rows = self.db.execute("SELECT rowid FROM articles WHERE lead_hash=? ORDER BY rowid LIMIT ?", (lead_hash, limit))
        return [r[0] for r in rows]

    def insert(self, *, article_id: str, fingerprint: str, title: str | None, text: str,
               published_at: str | None, published_ts: float | None, lang: str | None,
               source: str | None, url: str | None, content_hash: str, lead_hash: str | None, shingles: int,
               signature: np.ndarray, embedding: np.ndarray, profile: Profile, cluster_id: str,
               relation: str, duplicate_of: str | None, score: float | None,
               evidence: dict | None) -> int:
        now = time.time()
        cursor = self.db.execute(
            "INSERT INTO articles(id, fingerprint, title, text, published_at, published_ts, lang, "
            "source, url, content_hash, lead_hash, shingles, signature, embedding, profile, cluster_id, "
            "relation, duplicate_of, score, evidence, ingested_at) "
            "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (article_id, fingerprint, title, text, published_at, published_ts, lang, source, url,
             content_hash, lead_hash, int(shingles), signature.astype(np.uint32).tobytes(),
             embedding.astype(np.float32).tobytes(), json.dumps(profile.to_json(), ensure_ascii=False),
             cluster_id, relation, duplicate_of, score,
             json.dumps(evidence) if evidence is not None else None, now),
        )
        self.db.execute(
            "INSERT INTO clusters(cluster_id, created_at, updated_at) VALUES(?, ?, ?) "
            "ON CONFLICT(cluster_id) DO UPDATE SET updated_at=excluded.updated_at",
            (cluster_id, now, now),
        )
        return int(cursor.lastrowid)  # its terms reach term_df at the next checkpoint

    def delete(self, article_id: str, touch: bool = True) -> StoredArticle | None:
        """Remove an article (inside the caller's transaction); its cluster row goes when emptied.
        ``touch``: the story counts as updated now (a retention expiry does not make an old
        story recent)."""
        article = self.get(article_id, self.db)
        if article is None:
            return None
        profile = self.profiles([article.rowid])[article.rowid]
        self.db.execute("DELETE FROM articles WHERE rowid=?", (article.rowid,))
        self._pass_on_copies(article)
        if article.rowid <= self.term_df_upto(self.db):  # counted there: uncount it
            self.db.executemany("UPDATE term_df SET df=df-1 WHERE term=?", ((t,) for t in profile.all_terms()))
        if self.cluster_size(article.cluster_id, self.db) == 0:
            self.db.execute("DELETE FROM clusters WHERE cluster_id=?", (article.cluster_id,))
        elif touch:
            self.db.execute("UPDATE clusters SET updated_at=? WHERE cluster_id=?", (time.time(), article.cluster_id))
        return article

    def text_of(self, rowid: int) -> str:
        return self.db.execute("SELECT text FROM articles WHERE rowid=?", (rowid,)).fetchone()[0]

    def _pass_on_copies(self, gone: StoredArticle) -> None:
        """Copies of a removed article must not point at it: the earliest copy takes its place
        (its relation, link and score: a copy's 1.0 would say it copies something) and the other
        copies now copy that one, in the same story."""
        copies = self.db.execute(
            "SELECT rowid, id FROM articles WHERE duplicate_of=? ORDER BY rowid", (gone.id,)
        ).fetchall()
        if not copies:
            return
        heir_rowid, heir_id = copies[0]
        self.db.execute("UPDATE articles SET relation=?, duplicate_of=?, score=? WHERE rowid=?",
                        (gone.relation, gone.duplicate_of, gone.score, heir_rowid))
        self.db.execute("UPDATE articles SET duplicate_of=? WHERE duplicate_of=?", (heir_id, gone.id))

    def profiles(self, rowids: list[int]) -> dict[int, Profile]:
        rows = select_in(self.db, "SELECT rowid, profile FROM articles WHERE rowid IN ({})", rowids)
        return {r: Profile.from_json(json.loads(p)) for r, p in rows}

    def candidates(self, rowids: list[int], known: Mapping[int, Candidate] | None = None) -> list[Candidate]:
        """The rows to compare a new article with, in row-id order. Of a row in ``known`` only
        the story is read again (nothing else of a stored row changes); the rest in full."""
        if not rowids:
            return []
        known = known if known is not None else {}
        held = [r for r in rowids if r in known]
        out: dict[int, Candidate] = {}
        if held:
            for rowid, cluster_id in select_in(self.db, "SELECT rowid, cluster_id FROM articles WHERE rowid IN ({})", held):
                c = known[rowid]
                out[rowid] = c if c.cluster_id == cluster_id else Candidate(
                    rowid, c.id, cluster_id, c.lang, c.published_ts, c.shingles, c.signature, c.profile)
        missing = [r for r in rowids if r not in known]
        if missing:
            rows = select_in(self.db, "SELECT rowid, id, cluster_id, lang, published_ts, shingles, signature, "
                                       "profile FROM articles WHERE rowid IN ({})", missing)
            for r in rows:
                out[r[0]] = Candidate(r[0], r[1], r[2], r[3], r[4], r[5], np.frombuffer(r[6], dtype=np.uint32),
                                      Profile.from_json(json.loads(r[7])))
        return [out[r] for r in sorted(out)]

    def cluster_rowids(self, cluster_id: str, limit: int) -> list[int]:
        """Up to ``limit`` members of a story, originals before duplicates, newest first."""
        rows = self.db.execute(
            "SELECT rowid FROM articles WHERE cluster_id=? "
            "ORDER BY relation IN ('exact_duplicate','near_duplicate'), rowid DESC LIMIT ?",
            (cluster_id, limit),
        )
        return [r[0] for r in rows]

    def embeddings(self, rowids: list[int], dim: int) -> dict[int, np.ndarray]:
        marks = ",".join("?" * len(rowids))
        rows = self.db.execute(f"SELECT rowid, embedding FROM articles WHERE rowid IN ({marks})", rowids)
        return {r: np.frombuffer(e, dtype=np.float32).reshape(dim) for r, e in rows}

    def iter_vectors(self, dim: int, num_perm: int, after_rowid: int = 0,
                     chunk: int = 10_000) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, list[float | None]]]:
        """(rowids, embeddings, signatures, publication times) in row-id order, a chunk at a time."""
        last = after_rowid
        while True:
            rows = self.reader().execute(
                "SELECT rowid, embedding, signature, published_ts FROM articles WHERE rowid>? ORDER BY rowid LIMIT ?",
                (last, chunk),
            ).fetchall()
            if not rows:
                return
            ids = np.array([r[0] for r in rows], dtype=np.int64)
            vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), dim)
            sigs = np.frombuffer(b"".join(r[2] for r in rows), dtype=np.uint32).reshape(len(rows), num_perm)
            yield ids, vectors, sigs, [r[3] for r in rows]
            last = int(ids[-1])

    def ids_after(self, rowid: int, limit: int = -1) -> list[str]:
        """Ids of the articles stored after ``rowid`` (row ids only grow), in the order stored;
        the first ``limit`` of them (-1: all)."""
        return [i for (i,) in self.reader().execute("SELECT id FROM articles WHERE rowid>? ORDER BY rowid LIMIT ?",
                                                    (rowid, limit))]

    def rowids(self) -> np.ndarray:
        return np.array([r[0] for r in self.reader().execute("SELECT rowid FROM articles")], dtype=np.int64)

    def max_rowid(self, db: sqlite3.Connection | None = None) -> int:
        return int((db or self.reader()).execute("SELECT COALESCE(MAX(rowid), 0) FROM articles").fetchone()[0])

    def term_df_upto(self, db: sqlite3.Connection | None = None) -> int:
        row = (db or self.reader()).execute("SELECT value FROM meta WHERE key=?", (TERM_DF_UPTO,)).fetchone()
        return int(row[0]) if row else 0

    def uncounted_rowids(self, db: sqlite3.Connection | None = None) -> list[int]:
        """Articles whose terms are not in the term_df checkpoint yet."""
        db = db or self.reader()
        return [r for (r,) in db.execute("SELECT rowid FROM articles WHERE rowid>? ORDER BY rowid",
                                         (self.term_df_upto(db),))]

    def term_df(self) -> tuple[dict[str, int], int]:
        """(document frequency per term, number of articles) over every stored article: the
        checkpoint plus the terms of the articles after it. One read transaction, so a
        concurrent commit cannot fall between the parts."""
        db = self.reader()
        db.execute("BEGIN")
        try:
            df = Counter(dict(db.execute("SELECT term, df FROM term_df WHERE df > 0")))
            for profile in self._profiles_of(self.uncounted_rowids(db), None, db):
                df.update(profile.all_terms())
            return dict(df), self.count(db)
        finally:
            db.execute("COMMIT")

    def checkpoint_term_df(self, known: Mapping[int, Profile] | None = None) -> int:
        """Count the uncounted articles' terms into term_df (inside the caller's transaction);
        returns how many articles that was."""
        rowids = self.uncounted_rowids(self.db)
        if not rowids:
            return 0
        counts: Counter[str] = Counter()
        for profile in self._profiles_of(rowids, known, self.db):
            counts.update(profile.all_terms())
        self.db.executemany(
            "INSERT INTO term_df(term, df) VALUES(?, ?) ON CONFLICT(term) DO UPDATE SET df=df+excluded.df",
            counts.items(),
        )
        self.set_meta(TERM_DF_UPTO, str(rowids[-1]))
        return len(rowids)

    def _profiles_of(self, rowids: list[int], known: Mapping[int, Profile] | None,
                     db: sqlite3.Connection) -> Iterator[Profile]:
        known = known or {}
        yield from (known[r] for r in rowids if r in known)
        missing = [r for r in rowids if r not in known]
        for (text,) in select_in(db, "SELECT profile FROM articles WHERE rowid IN ({})", missing):
            yield Profile.from_json(json.loads(text))

    def count(self, db: sqlite3.Connection | None = None) -> int:
        return int((db or self.reader()).execute("SELECT COUNT(*) FROM articles").fetchone()[0])

    def cluster_count(self) -> int:
        return int(self.reader().execute("SELECT COUNT(*) FROM clusters").fetchone()[0])

    # --- clusters -------------------------------------------------------------------------
    def cluster_exists(self, cluster_id: str) -> bool:
        return self.db.execute("SELECT 1 FROM clusters WHERE cluster_id=?", (cluster_id,)).fetchone() is not None

    def cluster_size(self, cluster_id: str, db: sqlite3.Connection | None = None) -> int:
        return int((db or self.reader()).execute("SELECT COUNT(*) FROM articles WHERE cluster_id=?", (cluster_id,)).fetchone()[0])

    def resolve_cluster(self, cluster_id: str, db: sqlite3.Connection | None = None) -> str | None:
        """The live story for an id or a merged-away alias, or None."""
        db = db or self.reader()
        if db.execute("SELECT 1 FROM clusters WHERE cluster_id=?", (cluster_id,)).fetchone():
            return cluster_id
        row = db.execute("SELECT cluster_id FROM cluster_aliases WHERE alias=?", (cluster_id,)).fetchone()
        return row[0] if row else None

    def unused_cluster_id(self, article_id: str, taken: set[str] | None = None) -> str:
        """A new story's id: ``s-`` + a hash of its first article, numbered on where that is a
        live story, an alias or in ``taken`` (ids given out but not yet written; it is added)."""
        base = "s-" + hashlib.sha1(article_id.encode("utf-8")).hexdigest()[:16]
        candidate, n = base, 1
        while (candidate in (taken or ())
               or self.db.execute("SELECT 1 FROM clusters WHERE cluster_id=?", (candidate,)).fetchone()
               or self.db.execute("SELECT 1 FROM cluster_aliases WHERE alias=?", (candidate,)).fetchone()):
            n += 1
            candidate = f"{base}-{n}"
        if taken is not None:
            taken.add(candidate)
        return candidate

    def follow_originals(self, moved: list[tuple[str, str]]) -> int:
        """Inside the caller's transaction, after articles ``(id, story)`` moved: their copies,
        down copy chains, join the story of the article they copy. How many moved."""
        if not moved:
            return 0
        db = self.db
        db.execute("CREATE TEMP TABLE IF NOT EXISTS moved_originals(id TEXT PRIMARY KEY, cluster_id TEXT NOT NULL)")
        db.execute("DELETE FROM moved_originals")
        db.executemany("INSERT OR REPLACE INTO moved_originals(id, cluster_id) VALUES(?, ?)", moved)
        total = 0
        marks = ",".join("?" * len(DUPLICATES))
        while True:
            changed = db.execute(
                "UPDATE articles SET cluster_id=(SELECT m.cluster_id FROM moved_originals m WHERE m.id=articles.duplicate_of) "
                f"WHERE relation IN ({marks}) AND duplicate_of IN (SELECT id FROM moved_originals) "
                "AND cluster_id != (SELECT m.cluster_id FROM moved_originals m WHERE m.id=articles.duplicate_of) "
                "RETURNING id, cluster_id", DUPLICATES).fetchall()
            if not changed:
                break
            total += len(changed)
            db.executemany("INSERT OR REPLACE INTO moved_originals(id, cluster_id) VALUES(?, ?)", changed)
        db.execute("DELETE FROM moved_originals")
        return total

    def bump_generation(self) -> None:
        """Inside the caller's transaction: a re-clustering that read the store before it is
        stale (its write is refused; ``recluster.StaleSnapshot``)."""
        self.set_meta(GENERATION_KEY, str(int(self.get_meta(GENERATION_KEY, self.db) or 0) + 1))

    def cluster_members(self, cluster_id: str) -> list[StoredArticle]:
        rows = self.reader().execute(
            f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE cluster_id=? ORDER BY rowid", (cluster_id,)
        ).fetchall()
        return [StoredArticle(*r) for r in rows]

    def recent_clusters(self, since_ts: float | None, limit: int,
                        before: tuple[float, str] | None = None) -> list[tuple[str, float]]:
        """(cluster_id, updated_at), most recently updated first; ``before`` pages on (updated_at, id)."""
        sql = "SELECT cluster_id, updated_at FROM clusters WHERE 1=1"
        args: list = []
        if since_ts is not None:
            sql += " AND updated_at >= ?"
            args.append(since_ts)
        if before is not None:
            sql += " AND (updated_at < ? OR (updated_at = ? AND cluster_id < ?))"
            args += [before[0], before[0], before[1]]
        sql += " ORDER BY updated_at DESC, cluster_id DESC LIMIT ?"
        args.append(limit)
        return [(r[0], r[1]) for r in self.reader().execute(sql, args)]

    def assignments(self) -> list[tuple[str, str, str, str | None, float | None]]:
        """(id, cluster_id, relation, duplicate_of, score) of every article, in ingest order."""
        return list(self.reader().execute(
            "SELECT id, cluster_id, relation, duplicate_of, score FROM articles ORDER BY rowid"
        ))

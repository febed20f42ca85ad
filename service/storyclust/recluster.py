"""The nightly re-clustering job: re-decide story membership of what is stored, with hindsight.

Online, each article is decided once, against what came before it: a story that began as two
fragments stays two, and an early wrong join is never undone. The job rebuilds the clustering from
the stored signals alone (embeddings, MinHash signatures, profiles; nothing is re-embedded):

1. snapshot: the articles in scope and their current stories, in one read transaction, without
   the engine lock (ingest goes on);
2. candidate graph: nearest neighbours over the stored vectors within the time window (exact
   BLAS blocks for small stores, a temporary IVF index with time-range selectors for large ones),
   plus MinHash band collisions (:mod:`job_candidates`);
3. edges: the online pair scorer on vectorised pair features (:mod:`batch_features`), after a
   cheap cosine pre-filter, read again with hindsight: each pair's cosine against both articles'
   nearest neighbours in the span (:mod:`neighbourhood`; ``PairScorer.job_score``);
4. average linkage at the job's threshold (:mod:`linkage`): a cluster joins another only if the
   pairs between them score above the threshold on average, so one look-alike pair cannot chain
   two events. Inside each component of the strong edges every pair above the cosine pre-filter
   is scored (so a story larger than the neighbour count is not cut into pieces); other pairs
   count 0. Then a merge of two groups much tighter inside than across is undone (two look-alike
   events, whose moderate scores across cleared the threshold; ``ReclusterConfig.split_ratio``),
   and so is a lone article's join to a story it mostly does not link with
   (``ReclusterConfig.lone_majority``). Editors' corrections (:mod:`corrections`) enter as pair
   scores: articles an editor set apart never end in one story, those put together merge first;
5. stable ids: an old story's id goes to the new cluster holding most of its articles; a cluster
   that holds most of several keeps the oldest and records the others as aliases;
6. one write transaction under the engine lock. Articles ingested after the snapshot keep their
   online decision and follow renames; duplicates follow the article they copy.

Duplicates (exact and near) take no part in 2-4: they are attached to their original throughout.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import math
import sqlite3
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .article import parse_published
from .batch_features import ProfileTable, feature_rows
from .corrections import constraint_pairs, hold_partners, with_constraints
from .job_candidates import band_pairs, neighbour_pairs, pair_cosines
from .linkage import average_linkage, strong_components
from .neighbourhood import margins, nearest_cosines
from .store import DUPLICATES, GENERATION_KEY, PLACED, select_in

log = logging.getLogger(__name__)

_JOB_LOCK = threading.Lock()  # one job per process; across processes the generation check refuses a stale write


class JobRunning(RuntimeError):
    """Another job of this process holds the job lock (one job at a time per process)."""


class StaleSnapshot(RuntimeError):
    """Another job (of any process) committed since this one's snapshot: run it again."""


@dataclass(frozen=True)
class ReclusterConfig:
    """Knobs of the job; its merge threshold is ``engine.recluster_threshold`` (scorer artifact or setting).

    neighbours: nearest neighbours fetched per article: the candidate pairs. Stories larger
        than this still come together (through completion, below); more neighbours find more
        pairs across look-alike events to score, at a cost linear in search and scoring.
        On the dev sets 10 and 20 give the same B3 within 0.01.
    min_cosine: pairs below this cosine are not scored (their score counts as 0 in the
        averages). Scoring is the expensive step; on the dev sets 1 of 11,300 same-event pairs
        below 0.3 scores above the threshold. Lower is safer and slower.
    exact_budget: most query x base dot products for exact search; above it a temporary IVF
        index answers instead (approximate: on the bench it finds 99.8% of the exact pairs
        above min_cosine at nprobe 16, 99.7% at 8).
    ivf_nprobe: IVF cells visited per query: recall against time.
    band_rows: MinHash slots per LSH band; with 128 slots, 4 rows (32 bands) catches pairs of
        Jaccard 0.5 with 87% and 0.3 with 23% probability. Fewer rows: more candidates.
    max_bucket: band buckets larger than this are boilerplate shared by unrelated articles
        and give no candidates (their members still meet through neighbours).
    complete_limit: components of strong edges up to this many articles get every pair with
        cosine >= min_cosine scored, so that their average linkage is exact; larger ones (rare:
        chains of look-alike events) are linked on candidate pairs only. Cost: its square.
    edge_batch: pairs featurised at once: memory against per-batch overhead.
    split_ratio: after average linkage, a merge of two groups (two articles or more each) is
        undone when the average score between them is below this share of the looser group's
        cohesion (its average pair score inside): two look-alike events, each told alike by its
        own reports and only moderately like the other. Higher splits more: in the dev sets'
        job merge trees, 42 of the 44 such merges below 0.44 joined different events; from
        0.44 to 0.5, 58 of 65, but undoing those also cut large ECB+ stories under a scorer
        that never saw ECB+ (B3 0.819 -> 0.806). 0 keeps plain average linkage.
    lone_majority: a lone article joins a group only where it links with more than half of
        the group's members; else it stays apart and the group goes on without it. It links
        with a member it scores at or above the job's threshold with, or higher than with any
        article outside the group: in a crowded topic a low score with a member says nothing
        if the article scores as much with reports of other events. Average linkage lets one
        strong pair carry a lone article into a small group: into a pair, 0.62 with one report
        outweighs 0.10 with the other, and a report of the same president's meeting with
        another Iraqi official joined the story (the seeds: 001, which scores 0.13 with the
        reports of two other events, with 002-003). Out-of-fold B3 (bench/accuracy.py): ECB+,
        AllSides and NewsWCL50 unchanged, Clust-McMs English -0.003, AllSides in pools of its
        test split's size -0.003. Counting only links at the threshold cost AllSides 0.006
        (0.018 in those pools): there a story's third report often scores low with one of the
        other two, and with nothing else either. False keeps plain average linkage.
    stale_retries: a job whose write finds that an editor's correction (or another process's
        job) landed after its snapshot runs again from a new snapshot, up to this many times,
        before it raises ``StaleSnapshot``: editors correct at any hour, and the nightly job
        should not fail for one correction. Each retry costs a whole job.
    """

    neighbours: int = 10
    min_cosine: float = 0.3
    exact_budget: float = 4e8
    ivf_nprobe: int = 16
    band_rows: int = 4
    max_bucket: int = 32
    complete_limit: int = 1000
    edge_batch: int = 10_000
    split_ratio: float = 0.44
    lone_majority: bool = True
    stale_retries: int = 2


# --------------------------------------------------------------------------------------------
# Scope and report
# --------------------------------------------------------------------------------------------
def parse_bound(value: str | None, end: bool = False) -> float | None:
    """An ISO date or datetime as a timestamp. A bare date as ``end`` (``until``) means the end
    of that day, so ``--since 2024-05-01 --until 2024-05-01`` is that whole day."""
    if value is None or not value.strip():
        return None
    moment = parse_published(value)
    if end and len(value.strip()) == 10:
        moment += dt.timedelta(days=1)
    return moment.timestamp()


@dataclass
class ReclusterReport:
    """What the job did. ``lines`` are the CONTRACT output lines of every article in scope, in
    ingest order, as committed."""

    lines: list[dict]
    merges: list[dict]
    splits: list[dict]
    new_stories: list[dict]
    moved_articles: list[dict]
    scope: dict
    graph: dict
    reconciled: dict
    stability: dict
    timings: dict = field(default_factory=dict)

    def aliases(self) -> dict[str, str]:
        """Merged-away id -> the id it went into."""
        return {absorbed: m["kept"] for m in self.merges for absorbed in m["absorbed"]}

    def summary(self) -> dict:
        """JSON-able account: counts first, then each merge, split, new story and moved article."""
        return {
            "counts": {
                "articles": len(self.lines),
                "stories": len({line["cluster_id"] for line in self.lines}),
                "merges": len(self.merges),
                "absorbed": sum(len(m["absorbed"]) for m in self.merges),
                "splits": len(self.splits),
                "new_stories": len(self.new_stories),
                "moved_articles": len(self.moved_articles),
            },
            "stability": self.stability, "scope": self.scope, "graph": self.graph, "reconciled": self.reconciled,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "merges": self.merges, "splits": self.splits, "new_stories": self.new_stories,
            "moved_articles": self.moved_articles,
        }


def id_stability(before: dict[str, str], after: dict[str, str], aliases: dict[str, str] | None = None) -> dict:
    """How well story ids survived a re-clustering, from article id -> story id before and
    after, and the aliases the job recorded (merged-away id -> the id it went into).

    An old id *leads to* a new story when it is that story's id or an alias of it, i.e. when
    ``GET /clusters/{old id}`` answers with it. ``continuing``: new stories holding more than
    half of some old story; they keep ids when every such old id leads to them. ``majority``:
    new stories most of whose articles come from one old story; kept when it leads to them.
    The second also counts the smaller part of each split, which by design gets a new id."""
    aliases = aliases or {}
    common = [i for i in after if i in before]
    old_size: dict[str, int] = defaultdict(int)
    overlap: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for i in common:
        old_size[before[i]] += 1
        overlap[after[i]][before[i]] += 1
    continuing = kept = majority = kept_majority = 0
    for new_id, parts in overlap.items():
        continued = [o for o, n in parts.items() if n > old_size[o] / 2]
        if continued:
            continuing += 1
            kept += all(aliases.get(o, o) == new_id for o in continued)
        top, n = max(parts.items(), key=lambda kv: (kv[1], kv[0]))
        if n > sum(parts.values()) / 2:
            majority += 1
            kept_majority += aliases.get(top, top) == new_id
    return {"continuing": continuing, "kept_id": kept, "kept_share": round(kept / continuing, 4) if continuing else 1.0,
            "majority_from_one": majority, "majority_kept_id": kept_majority,
            "majority_kept_share": round(kept_majority / majority, 4) if majority else 1.0}


# --------------------------------------------------------------------------------------------
# 1. Snapshot
# --------------------------------------------------------------------------------------------
@dataclass
class _Snapshot:
    """Articles in scope. Rows are in rowid order; nodes (the non-duplicates, the only articles
    clustered) are in time order, undated last, so that a time window is a contiguous range."""

    max_rowid: int
    generation: str | None
    rowid: np.ndarray          # [rows]
    ids: list[str]             # [rows]
    old: np.ndarray            # [rows] index into ``old_ids``
    old_ids: list[str]
    created: dict[str, float]  # created_at of the old stories
    fixed: np.ndarray          # [old stories] articles not re-clustered: out of scope, or anchored
    node_of_row: np.ndarray    # [rows] node of the row or of its original; -1: anchored outside scope
    node_row: np.ndarray       # [nodes] row of each node
    ts: np.ndarray             # [nodes] published_ts, NaN when undated
    lang: np.ndarray           # [nodes] language code index, -1 when unknown
    vectors: np.ndarray        # [nodes, dim] float32, unit length
    signatures: np.ndarray     # [nodes, num_perm] uint32
    languages: list[str] = field(default_factory=list)  # the language code of each ``lang`` index

    @property
    def dated(self) -> int:
        """Nodes [0, dated) have a publication time."""
        return int(np.count_nonzero(~np.isnan(self.ts)))


Spans = list[tuple[float | None, float | None]]  # [since, until) timestamps; None: unbounded
EVERYTHING: Spans = [(None, None)]


def _scope_sql(spans: Spans, held_rows: bool = False) -> tuple[str, list]:
    """Articles in any of the spans, or with ``held_rows`` also those in ``temp.job_rows`` (see
    :func:`_held_rows`). Articles are placed in time by publication, or by arrival when undated."""
    parts, args = [], []
    for since, until in spans:
        where = []
        if since is not None:
            where.append(f"{PLACED} >= ?")
            args.append(since)
        if until is not None:
            where.append(f"{PLACED} < ?")
            args.append(until)
        parts.append(" AND ".join(where) or "1=1")
    if held_rows:
        parts.append("rowid IN (SELECT rowid FROM temp.job_rows)")
    return "(" + " OR ".join(f"({part})" for part in parts) + ")", args


@contextlib.contextmanager
def _held_rows(engine, spans: Spans, rows: Sequence[int] | None) -> Iterator[bool]:
    """``rows`` in a temporary table of this thread's reader connection while the job runs (the
    job reads its scope twice, and the list can be longer than SQL parameters may be), with,
    unless the job takes everything, the other side of each correction its scope meets
    (:func:`corrections.hold_partners`); whether there are any."""
    db = engine.store.reader()
    corrected = spans != EVERYTHING and db.execute("SELECT 1 FROM corrections LIMIT 1").fetchone() is not None
    if not rows and not corrected:
        yield False
        return
    db.execute("CREATE TEMP TABLE IF NOT EXISTS job_rows(rowid INTEGER PRIMARY KEY)")
    db.execute("DELETE FROM temp.job_rows")
    db.executemany("INSERT OR IGNORE INTO temp.job_rows VALUES (?)", ((r,) for r in rows or ()))
    if corrected:
        hold_partners(db, *_scope_sql(spans, held_rows=True))
    try:
        yield db.execute("SELECT 1 FROM temp.job_rows LIMIT 1").fetchone() is not None
    finally:
        db.execute("DELETE FROM temp.job_rows")


def _take_snapshot(engine, spans: Spans, held_rows: bool = False) -> _Snapshot:
    """Read everything the computation needs in one read transaction: a consistent state while
    the writer keeps committing (WAL readers see the database as of their first read)."""
    dim, num_perm = engine.encoder.dim, engine.settings.num_perm
    scope, args = _scope_sql(spans, held_rows)
    db = engine.store.reader()
    db.execute("BEGIN")
    try:
        generation = engine.store.get_meta(GENERATION_KEY)
        max_rowid = int(db.execute("SELECT COALESCE(MAX(rowid), 0) FROM articles").fetchone()[0])
        dup_marks = ",".join("?" * len(DUPLICATES))
        nodes = int(db.execute(f"SELECT COUNT(*) FROM articles WHERE {scope} AND relation NOT IN ({dup_marks})",
                               args + list(DUPLICATES)).fetchone()[0])
        vectors = np.empty((nodes, dim), dtype=np.float32)
        signatures = np.empty((nodes, num_perm), dtype=np.uint32)
        rowid, ids, clusters, dup_of, node_rows, ts, langs = [], [], [], [], [], [], []
        filled = 0
        cursor = db.execute(
            "SELECT rowid, id, cluster_id, relation, duplicate_of, published_ts, lang, embedding, signature "
            f"FROM articles WHERE {scope} ORDER BY rowid", args)
        while rows := cursor.fetchmany(10_000):
            embeddings, sigs = [], []
            for r in rows:
                rowid.append(r[0])
                ids.append(r[1])
                clusters.append(r[2])
                if r[3] in DUPLICATES:
                    dup_of.append(r[4])
                    continue
                dup_of.append(None)
                node_rows.append(len(rowid) - 1)
                ts.append(r[5] if r[5] is not None else math.nan)
                langs.append(r[6])
                embeddings.append(r[7])
                sigs.append(r[8])
            if embeddings:
                end = filled + len(embeddings)
                vectors[filled:end] = np.frombuffer(b"".join(embeddings), dtype=np.float32).reshape(-1, dim)
                signatures[filled:end] = np.frombuffer(b"".join(sigs), dtype=np.uint32).reshape(-1, num_perm)
                filled = end
        created = dict(db.execute("SELECT cluster_id, created_at FROM clusters"))
        code: dict[str, int] = {}
        old = np.fromiter((code.setdefault(c, len(code)) for c in clusters), dtype=np.int64, count=len(clusters))
        old_ids = list(code)
        fixed = np.zeros(len(old_ids), dtype=np.int64)
        if spans != EVERYTHING:
            for cluster_id, n in select_in(db, f"SELECT cluster_id, COUNT(*) FROM articles WHERE cluster_id IN ({{}}) "
                                                f"AND rowid <= {max_rowid} AND NOT ({scope}) GROUP BY cluster_id",
                                            old_ids, args):
                fixed[code[cluster_id]] = n
    finally:
        db.execute("ROLLBACK")

    ts_arr = np.asarray(ts, dtype=np.float64)
    order = np.argsort(ts_arr, kind="stable")  # NaN sorts last; ties stay in rowid order
    lang_code: dict[str | None, int] = {None: -1}
    lang_arr = np.fromiter((lang_code.setdefault(x, len(lang_code) - 1) for x in langs), dtype=np.int64,
                           count=len(langs))
    node_row = np.asarray(node_rows, dtype=np.int64)[order]
    node_of_row = np.full(len(rowid), -1, dtype=np.int64)
    node_of_row[node_row] = np.arange(len(node_row))
    _attach_duplicates(ids, dup_of, node_of_row)
    np.add.at(fixed, old[node_of_row < 0], 1)
    return _Snapshot(max_rowid, generation, np.asarray(rowid, dtype=np.int64), ids, old, old_ids,
                     {c: created.get(c, math.inf) for c in old_ids}, fixed, node_of_row, node_row,
                     ts_arr[order], lang_arr[order], vectors[order], signatures[order],
                     [x for x in lang_code if x is not None])


def _attach_duplicates(ids: list[str], dup_of: list[str | None], node_of_row: np.ndarray) -> None:
    """Give each duplicate the node of the original at the end of its copy chain; a chain that
    leaves the scope (or whose original was deleted) leaves the duplicate anchored (-1)."""
    row_of = {article_id: i for i, article_id in enumerate(ids)}
    for i, original in enumerate(dup_of):
        if original is None:
            continue
        seen = {i}
        j = row_of.get(original)
        while j is not None and dup_of[j] is not None and j not in seen:
            seen.add(j)
            j = row_of.get(dup_of[j])
        if j is not None and dup_of[j] is None:
            node_of_row[i] = node_of_row[j]


# --------------------------------------------------------------------------------------------
# 2. Candidate graph (the searches: job_candidates)
# --------------------------------------------------------------------------------------------
def _candidate_edges(snap: _Snapshot, window: float, multilingual: bool,
                     config: ReclusterConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
    """Undirected edges (a < b) worth scoring, with their cosine, and each node's nearest
    cosine (:func:`neighbourhood.nearest_cosines`, from the same search)."""
    dated = snap.dated
    src, dst, cos, method = neighbour_pairs(snap.vectors, snap.ts, dated, window, config.neighbours,
                                           config.exact_budget, config.ivf_nprobe)
    nearest = nearest_cosines(len(snap.ts), src, dst, cos)
    band_src, band_dst = band_pairs(snap.signatures, config.band_rows, config.max_bucket)
    band_cos = pair_cosines(snap.vectors, band_src, band_dst)
    src, dst = np.concatenate([src, band_src]), np.concatenate([dst, band_dst])
    cos = np.concatenate([cos, band_cos])
    keep = (cos >= config.min_cosine) & (src != dst)
    a, b = np.minimum(src, dst)[keep], np.maximum(src, dst)[keep]
    _, first = np.unique(a * len(snap.ts) + b, return_index=True)
    a, b, cos = a[first], b[first], cos[keep][first]
    keep = _comparable(snap, a, b, window, multilingual)
    stats = {"nodes": len(snap.ts), "search": method, "candidate_pairs": int(len(cos)),
             "band_pairs": int(len(band_src)), "edges": int(np.count_nonzero(keep))}
    return a[keep], b[keep], cos[keep], nearest, stats


# --------------------------------------------------------------------------------------------
# 3. Edge scores (the online pair features, vectorised: batch_features)
# --------------------------------------------------------------------------------------------
def _load_profiles(engine, rowids: np.ndarray, chunk: int = 5000) -> Iterator[dict | None]:
    """Stored profiles (JSON) of these rows, in this order, parsed a chunk at a time; None for
    a row deleted since the snapshot. Profiles never change for a row id (an update is a new
    row), so no transaction is needed."""
    db = engine.store.reader()
    for start in range(0, len(rowids), chunk):
        part = rowids[start:start + chunk]
        found = dict(select_in(db, "SELECT rowid, profile FROM articles WHERE rowid IN ({})", np.sort(part).tolist()))
        yield from (json.loads(found[r]) if r in found else None for r in part.tolist())


class EdgeScorer:
    """P(same story) of node pairs: the online scorer's, read again with each pair's neighbour
    margin (``PairScorer.job_score``) where the second stage reads both articles' language (else
    put on its scale, ``PairScorer.plain_job_score``), with
    the profiles of ``nodes`` (every node that can take part in a pair) loaded once.
    ``nearest``: each node's nearest cosine (NaN: unknown)."""

    def __init__(self, engine, snap: _Snapshot, nodes: np.ndarray, config: ReclusterConfig,
                 nearest: np.ndarray) -> None:
        with engine.lock:  # a consistent copy: ingest updates the counts under this lock
            df, docs, sentence_df = dict(engine.stats.df), engine.stats.docs, engine.stats.sentence_df.copy()
        self.profiles = ProfileTable(_load_profiles(engine, snap.rowid[snap.node_row[nodes]]), df, docs,
                                     sentence_df=sentence_df)
        self.local = np.full(len(snap.ts), -1, dtype=np.int64)
        self.local[nodes] = np.arange(len(nodes))
        self.ts = snap.ts[nodes]
        self.nearest = nearest
        self.lang, self.languages = snap.lang, snap.languages
        self.scorer = engine.scorer
        self.batch = config.edge_batch

    def __call__(self, a: np.ndarray, b: np.ndarray, cos: np.ndarray) -> np.ndarray:
        scores = np.zeros(len(a))
        # Whether the second stage reads each node's language; index -1 (unknown) is the last.
        reads = np.array([self.scorer.reads_margin(x) for x in self.languages] + [self.scorer.reads_margin(None)])
        staged = reads[self.lang[a]] & reads[self.lang[b]]
        for start in range(0, len(a), self.batch):
            part = slice(start, start + self.batch)
            rows = feature_rows(self.profiles, self.local[a[part]], self.local[b[part]], cos[part], self.ts)
            margin = margins(cos[part], self.nearest[a[part]], self.nearest[b[part]])
            pair_score = self.scorer.score(rows)
            scores[part] = np.where(staged[part], self.scorer.job_score(pair_score, margin),
                                    self.scorer.plain_job_score(pair_score))
        return scores


# What the job makes its pair scorer with: (engine, snapshot, the nodes that can take part in a
# pair, config, each node's nearest cosine) -> a scorer of node pairs (a, b, their cosines).
EdgeScorerFactory = Callable[[Any, _Snapshot, np.ndarray, ReclusterConfig, np.ndarray], EdgeScorer]


def _comparable(snap: _Snapshot, a: np.ndarray, b: np.ndarray, window: float, multilingual: bool) -> np.ndarray:
    """Pairs the online pass may put in one story: within the time window (when both are
    dated) and, unless the model is multilingual, of one language (when both are known)."""
    dated = ~np.isnan(snap.ts[a]) & ~np.isnan(snap.ts[b])
    keep = ~dated | (np.abs(np.where(dated, snap.ts[a] - snap.ts[b], 0.0)) <= window)
    if not multilingual:
        la, lb = snap.lang[a], snap.lang[b]
        keep &= (la < 0) | (lb < 0) | (la == lb)
    return keep


def _complete_components(snap: _Snapshot, a: np.ndarray, b: np.ndarray, cos: np.ndarray, score: np.ndarray,
                         threshold: float, window: float, multilingual: bool, config: ReclusterConfig,
                         scorer: EdgeScorer) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Score every pair inside each component of the strong edges (up to ``complete_limit``
    articles) that the candidate search did not reach, so that average linkage there averages
    over all pairs instead of counting a pair beyond the k nearest neighbours as 0: a story
    larger than k is not cut into k-sized pieces. Pairs below ``min_cosine`` stay 0."""
    n = len(snap.ts)
    component = strong_components(n, a, b, score, threshold)
    sizes = np.bincount(component)
    order = np.argsort(component, kind="stable")  # each component's nodes, ascending
    starts = np.concatenate(([0], np.cumsum(sizes)))
    pairs_of_size: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    new_a, new_b = [], []
    for c in np.flatnonzero((sizes >= 3) & (sizes <= config.complete_limit)).tolist():
        nodes = order[starts[c]:starts[c + 1]]
        if len(nodes) not in pairs_of_size:
            pairs_of_size[len(nodes)] = np.triu_indices(len(nodes), 1)
        i, j = pairs_of_size[len(nodes)]
        new_a.append(nodes[i])
        new_b.append(nodes[j])
    if not new_a:
        return a, b, score, 0
    pa, pb = np.concatenate(new_a), np.concatenate(new_b)
    known = np.sort(a * n + b)
    key = pa * n + pb
    fresh = known[np.minimum(np.searchsorted(known, key), len(known) - 1)] != key
    pa, pb = pa[fresh], pb[fresh]
    pcos = pair_cosines(snap.vectors, pa, pb)
    keep = (pcos >= config.min_cosine) & _comparable(snap, pa, pb, window, multilingual)
    pa, pb, pcos = pa[keep], pb[keep], pcos[keep]
    return np.concatenate([a, pa]), np.concatenate([b, pb]), np.concatenate([score, scorer(pa, pb, pcos)]), len(pa)


# --------------------------------------------------------------------------------------------
# 5. Stable ids (4, the linkage, is linkage.average_linkage)
# --------------------------------------------------------------------------------------------
@dataclass
class _Plan:
    """The new assignment of the computed rows, before new stories are named (under the write
    lock, where the ids in use are final)."""

    rows: np.ndarray              # snapshot rows that were clustered (not anchored)
    label: np.ndarray             # [rows] new cluster label
    kept: dict[int, str]          # label -> the old id it keeps; other labels are new stories
    renamed: dict[str, str]       # absorbed old id -> the id it went into
    moved: np.ndarray             # [rows] bool: changed story (not only its name)
    touched: set[int]             # labels whose membership changed
    left: set[str]                # stories (by final id) that articles moved out of
    score: np.ndarray             # [rows] mean score with the rest of the cluster (NaN: keep)
    merges: list[dict]
    splits: list[tuple[str, dict[int, int]]]  # old id, label -> articles


def _plan(snap: _Snapshot, node_label: np.ndarray, a: np.ndarray, b: np.ndarray, score: np.ndarray) -> _Plan:
    """Give every new cluster the id of the old story it continues.

    An old story's heir is the new cluster holding most of its re-clustered articles (ties:
    the cluster that starts earlier). A cluster that is heir of one story keeps its id; of
    several (a merge), it keeps the oldest, and each other one becomes an alias of it if the
    cluster holds most of that story, else (most of it lies outside the scope) that story
    stays and only its articles in the cluster move. Heir of none: a new story. So a split
    keeps the id on the larger part."""
    rows = np.flatnonzero(snap.node_of_row >= 0)
    label = node_label[snap.node_of_row[rows]]
    old = snap.old[rows]
    n_old = len(snap.old_ids)
    pair, counts = np.unique(label * n_old + old, return_counts=True)
    pair_label, pair_old = pair // n_old, pair % n_old
    order = np.lexsort((pair_label, -counts, pair_old))  # per old story: most articles, then earliest
    first = np.r_[True, pair_old[order][1:] != pair_old[order][:-1]]
    heirs = dict(zip(pair_old[order][first].tolist(), pair_label[order][first].tolist()))
    claims: dict[int, list[int]] = defaultdict(list)
    for o, lab in heirs.items():
        claims[lab].append(o)
    share = dict(zip(zip(pair_label.tolist(), pair_old.tolist()), counts.tolist()))

    kept: dict[int, str] = {}
    renamed: dict[str, str] = {}
    merges = []
    for lab, olds in claims.items():
        olds.sort(key=lambda o: (snap.created[snap.old_ids[o]], -share[(lab, o)], snap.old_ids[o]))
        kept[lab] = snap.old_ids[olds[0]]
        absorbed = [snap.old_ids[o] for o in olds[1:] if share[(lab, o)] > snap.fixed[o]]
        if absorbed:
            renamed.update((x, kept[lab]) for x in absorbed)
            merges.append({"kept": kept[lab], "absorbed": absorbed})

    # Where an article that does not move ends: its story's id, or the one it was merged into.
    staying = np.array([renamed.get(x, x) for x in snap.old_ids], dtype=object)
    kept_of_label = np.array([kept.get(lab) for lab in range(int(node_label.max(initial=-1)) + 1)], dtype=object)
    moved = kept_of_label[label] != staying[old]
    left = set(staying[np.unique(old[moved])].tolist())
    touched = set(label[moved].tolist()) | {lab for lab, k in kept.items() if k in left}
    merged_into = set(renamed.values())  # a set: ``in dict.values()`` is a linear scan (quadratic plan)
    touched |= {lab for lab, k in kept.items() if k in merged_into}

    parts_of: dict[int, dict[int, int]] = defaultdict(dict)
    for lab, o in zip(pair_label.tolist(), pair_old.tolist()):
        parts_of[o][lab] = share[(lab, o)]
    splits = [(snap.old_ids[o], parts) for o, parts in parts_of.items() if len(parts) > 1]

    row_score = np.full(len(rows), np.nan)
    node_score = _mean_cluster_score(len(node_label), node_label, a, b, score)
    is_node = snap.node_row[snap.node_of_row[rows]] == rows
    pick = is_node & np.isin(label, list(touched))
    row_score[pick] = node_score[snap.node_of_row[rows]][pick]
    return _Plan(rows, label, kept, renamed, moved, touched, left, row_score, merges, splits)


def _mean_cluster_score(n: int, label: np.ndarray, a: np.ndarray, b: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Each node's mean score with the other nodes of its cluster (missing pairs 0); NaN alone."""
    same = label[a] == label[b]
    total = np.bincount(a[same], weights=score[same], minlength=n) + np.bincount(b[same], weights=score[same], minlength=n)
    others = np.bincount(label, minlength=label.max() + 1)[label] - 1
    return np.divide(total, others, out=np.full(n, np.nan), where=others > 0)


# --------------------------------------------------------------------------------------------
# 6. The write
# --------------------------------------------------------------------------------------------
def _write(engine, snap: _Snapshot, plan: _Plan, before_commit: Callable[[], None] | None) -> tuple[dict[int, str], dict]:
    """Apply the plan in one transaction under the engine lock; returns the final id of each
    label and what reconciliation did. A failure anywhere rolls everything back."""
    store = engine.store
    db = store.db
    now = time.time()
    with engine.lock:
        store.begin()
        try:
            if store.get_meta(GENERATION_KEY) != snap.generation:
                raise StaleSnapshot("another re-clustering or a correction committed since this one's snapshot; "
                                    "run it again")
            final = dict(plan.kept)
            taken: set[str] = set()
            first_row: dict[int, int] = {}
            for i, lab in zip(plan.rows.tolist(), plan.label.tolist()):
                first_row.setdefault(lab, i)
            for lab in sorted(set(plan.label.tolist()) - set(final)):
                final[lab] = store.unused_cluster_id(snap.ids[first_row[lab]], taken)

            renames = list(plan.renamed.items())
            created: dict[str, float] = {}
            for absorbed, created_at in select_in(db, "SELECT cluster_id, created_at FROM clusters WHERE cluster_id IN ({})",
                                                   [x for x, _ in renames]):
                kept = plan.renamed[absorbed]
                created[kept] = min(created.get(kept, math.inf), created_at)
            renamed_rows = db.executemany("UPDATE articles SET cluster_id=? WHERE cluster_id=?",
                                          [(kept, absorbed) for absorbed, kept in renames]).rowcount
            db.executemany("UPDATE cluster_aliases SET cluster_id=? WHERE cluster_id=?",
                           [(kept, absorbed) for absorbed, kept in renames])
            db.executemany("INSERT INTO cluster_aliases(alias, cluster_id) VALUES(?, ?) "
                           "ON CONFLICT(alias) DO UPDATE SET cluster_id=excluded.cluster_id", renames)
            db.executemany("DELETE FROM clusters WHERE cluster_id=?", [(absorbed,) for absorbed, _ in renames])

            moved_rows = plan.rows[plan.moved]
            moved_ids = [final[lab] for lab in plan.label[plan.moved].tolist()]
            db.executemany("UPDATE articles SET cluster_id=? WHERE rowid=?",
                           zip(moved_ids, snap.rowid[moved_rows].tolist()))
            followed = store.follow_originals([(snap.ids[i], c) for i, c in zip(moved_rows.tolist(), moved_ids)])

            touched_ids = sorted({final[lab] for lab in plan.touched} | plan.left)
            _fix_relations(db, snap, plan, final)
            db.executemany("INSERT INTO clusters(cluster_id, created_at, updated_at) "
                           "SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM articles WHERE cluster_id=?) "
                           "ON CONFLICT(cluster_id) DO UPDATE SET updated_at=excluded.updated_at, "
                           "created_at=MIN(created_at, ?)",
                           [(c, now, now, c, created.get(c, math.inf)) for c in touched_ids])
            # A story that every article left (one merged away was deleted above).
            emptied = db.executemany("DELETE FROM clusters WHERE cluster_id=? AND NOT EXISTS "
                                     "(SELECT 1 FROM articles WHERE cluster_id=?)", [(c, c) for c in plan.left]).rowcount
            after = int(db.execute("SELECT COUNT(*) FROM articles WHERE rowid > ?", (snap.max_rowid,)).fetchone()[0])
            store.bump_generation()
            if before_commit is not None:
                before_commit()
            store.commit()
        except BaseException:
            store.rollback()
            raise
    return final, {"renamed_rows": renamed_rows, "duplicates_followed": followed,
                   "ingested_during_job": after, "emptied_clusters": emptied}


def _fix_relations(db: sqlite3.Connection, snap: _Snapshot, plan: _Plan, final: dict[int, str]) -> None:
    """In each story whose membership changed, the earliest original is ``new_story`` and the
    other originals ``same_story``, scored by their mean pair score with the rest of the story.
    Duplicates keep their relation and score."""
    touched = np.isin(plan.label, list(plan.touched))
    is_node = snap.node_row[snap.node_of_row[plan.rows]] == plan.rows
    pick = np.flatnonzero(touched & is_node)
    if not len(pick):
        return
    earliest = dict(select_in(db, "SELECT cluster_id, MIN(rowid) FROM articles WHERE cluster_id IN ({}) "
                                   "AND relation NOT IN ('exact_duplicate','near_duplicate') GROUP BY cluster_id",
                               sorted({final[lab] for lab in plan.label[pick].tolist()})))
    updates = []
    for p in pick.tolist():
        rowid = int(snap.rowid[plan.rows[p]])
        cluster_id = final[int(plan.label[p])]
        relation = "new_story" if earliest.get(cluster_id) == rowid else "same_story"
        score = plan.score[p]
        updates.append((relation, None if math.isnan(score) else float(score), rowid))
    db.executemany("UPDATE articles SET relation=?, score=COALESCE(?, score) WHERE rowid=?", updates)


# --------------------------------------------------------------------------------------------
# The job
# --------------------------------------------------------------------------------------------
def run_recluster(engine, since: str | None = None, until: str | None = None,
                  config: ReclusterConfig | None = None,
                  before_commit: Callable[[], None] | None = None,
                  edge_scorer: EdgeScorerFactory = EdgeScorer) -> ReclusterReport:
    """Re-cluster the stored articles published (or, undated, ingested) in [since, until).

    Out-of-scope articles keep their stories, except that a story merged away is renamed for
    all its articles. ``before_commit`` runs inside the write transaction just before it
    commits (tests use it to fail there). ``edge_scorer`` makes the job's pair scorer from the
    snapshot: :class:`EdgeScorer`, the engine's scorer, unless a caller scores pairs its own way
    (the accuracy bench, out-of-fold)."""
    since_ts, until_ts = parse_bound(since), parse_bound(until, end=True)
    spans = EVERYTHING if since_ts is None and until_ts is None else [(since_ts, until_ts)]
    return _run(engine, spans, since, until, config, before_commit, edge_scorer=edge_scorer)


def repair_articles(engine, ids: Iterable[str], config: ReclusterConfig | None = None,
                    edge_scorer: EdgeScorerFactory = EdgeScorer) -> ReclusterReport | None:
    """The job over the stored articles ``ids`` and the stored stories they meet: what
    ``storyclust cluster`` runs at the end of its online pass, and the API once posting pauses
    (:mod:`repair_schedule`), so that their answers get the hindsight the nightly job would give.

    The scope is the times of ``ids`` (placed as in ``run_recluster``; other stored articles of
    those times are re-clustered with them), cut into spans where two consecutive ones are more
    than the time window apart (dated reports that far apart are never one story), so a run
    holding one article of years ago does not re-cluster every year between; and every member of
    the stories that ``ids`` are in or meet among their nearest neighbours
    (:func:`_stories_met`). Without these members, a story that an earlier run began stayed
    out of reach: the reports of a later run that the online pass had split from it could not
    rejoin it (1,199 AllSides articles posted as 2 / 4 runs: B3 F1 0.816 / 0.777 against 0.873
    in one run, then; now 0.869 / 0.870 against 0.870; ``bench/runs.py``). None when none of
    ``ids`` is stored. ``edge_scorer`` as in :func:`run_recluster`."""
    config = config or ReclusterConfig()
    ids = list(dict.fromkeys(ids))
    times, members = _stories_met(engine, ids, config)
    if not times:
        return None
    window = engine.settings.time_window_seconds
    spans: Spans = []
    start = previous = times[0]
    for t in times[1:]:
        if t - previous > window:
            spans.append((start, math.nextafter(previous, math.inf)))  # until is exclusive
            start = t
        previous = t
    spans.append((start, math.nextafter(previous, math.inf)))
    since, until = (dt.datetime.fromtimestamp(t, dt.timezone.utc).isoformat() for t in (spans[0][0], spans[-1][1]))
    return _run(engine, spans, since, until, config, rows=members, edge_scorer=edge_scorer)


def _stories_met(engine, ids: list[str], config: ReclusterConfig) -> tuple[list[float], list[int]]:
    """The sorted times of the stored articles ``ids``, and the rows of every member of the
    stories they meet: their own, and those of their ``config.neighbours`` nearest stored
    articles with a cosine of at least ``config.min_cosine`` within the time window (the pairs
    the job would score). One vector search per article, as the online pass made for it."""
    db = engine.store.reader()
    window = engine.settings.time_window_seconds
    rows = list(select_in(db, f"SELECT rowid, cluster_id, {PLACED}, published_ts, "
                              "embedding FROM articles WHERE id IN ({})", ids))
    if not rows:
        return [], []
    dim = engine.encoder.dim
    stories = {row[1] for row in rows}
    found_for: dict[int, float | None] = {}  # neighbour rowid -> the publication time it was found around
    for _, _, _, published, embedding in rows:
        with engine.lock:  # the index changes under ingest; held per search, so posts go on between
            found, cosines = engine.vectors.search(np.frombuffer(embedding, dtype=np.float32).reshape(dim),
                                                   config.neighbours + 1, around=published, within=window)
        for rowid in found[cosines >= config.min_cosine].tolist():
            found_for.setdefault(rowid, published)
    own = {row[0] for row in rows}
    for rowid, cluster_id, published in select_in(
            db, "SELECT rowid, cluster_id, published_ts FROM articles WHERE rowid IN ({})",
            [r for r in found_for if r not in own]):
        around = found_for[rowid]
        if published is None or around is None or abs(published - around) <= window:
            stories.add(cluster_id)
    members = [row[0] for row in select_in(db, "SELECT rowid FROM articles WHERE cluster_id IN ({})", sorted(stories))]
    return sorted({row[2] for row in rows}), members


def _run(engine, spans: Spans, since: str | None, until: str | None, config: ReclusterConfig | None = None,
         before_commit: Callable[[], None] | None = None, rows: Sequence[int] | None = None,
         edge_scorer: EdgeScorerFactory = EdgeScorer) -> ReclusterReport:
    """The job over the articles of ``spans`` and the stored ``rows``; ``since`` and ``until``
    are the bounds as the caller wrote them, for the report."""
    config = config or ReclusterConfig()
    if not _JOB_LOCK.acquire(blocking=False):
        raise JobRunning("a re-clustering is already running in this process")
    try:
        for attempt in range(1, config.stale_retries + 2):
            try:
                with _held_rows(engine, spans, rows) as held:
                    return _job(engine, spans, held, since, until, config, before_commit, edge_scorer)
            except StaleSnapshot as stale:
                if attempt > config.stale_retries:
                    raise
                log.warning("recluster: %s (attempt %d of %d)", stale, attempt, config.stale_retries + 1)
        raise AssertionError("unreachable: the last attempt returns or raises")
    finally:
        _JOB_LOCK.release()


def _job(engine, spans: Spans, held_rows: bool, since: str | None, until: str | None, config: ReclusterConfig,
         before_commit: Callable[[], None] | None, edge_scorer: EdgeScorerFactory) -> ReclusterReport:
    """The job's stages (see the module), under the job lock; ``held_rows``: whether
    ``temp.job_rows`` is part of the scope."""
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = now - clock
        clock = now

    settings = engine.settings
    window = settings.time_window_seconds
    snap = _take_snapshot(engine, spans, held_rows)
    lap("snapshot")
    if len(snap.node_row) == 0:  # an empty store or span: nothing to re-cluster
        lines = _lines(engine, spans, snap.max_rowid, held_rows)
        unchanged = {line["id"]: line["cluster_id"] for line in lines}
        return ReclusterReport(lines, [], [], [], [], _scope_summary(snap, 0, since, until), {}, {},
                               id_stability(unchanged, unchanged), timings)
    a, b, cos, nearest, graph = _candidate_edges(snap, window, settings.model_multilingual, config)
    lap("candidates")
    scorer = edge_scorer(engine, snap, np.unique(np.concatenate([a, b])), config, nearest)
    score = scorer(a, b, cos)
    a, b, score, graph["completion_pairs"] = _complete_components(
        snap, a, b, cos, score, engine.recluster_threshold, window, settings.model_multilingual, config, scorer)
    graph["strong_edges"] = int(np.count_nonzero(score >= engine.recluster_threshold))
    corrected = constraint_pairs(engine.store.reader(), snap.ids, snap.node_of_row)
    a, b, score = with_constraints(len(snap.ts), a, b, score, corrected)
    graph["corrected_pairs"] = len(corrected[0])
    lap("scoring")
    node_label = average_linkage(len(snap.ts), a, b, score, engine.recluster_threshold, config.complete_limit,
                                 config.split_ratio, config.lone_majority, tally=graph)
    lap("linkage")
    plan = _plan(snap, node_label, a, b, score)
    lap("plan")
    final, reconciled = _write(engine, snap, plan, before_commit)
    lap("write")
    lines = _lines(engine, spans, snap.max_rowid, held_rows)
    lap("lines")
    report = _report(snap, plan, final, lines, graph, reconciled, since, until)
    report.timings = timings
    log.info("recluster: %s", report.summary()["counts"])
    return report


def _lines(engine, spans: Spans, max_rowid: int, held_rows: bool = False) -> list[dict]:
    """The committed assignment of every article of the snapshot's scope."""
    scope, args = _scope_sql(spans, held_rows)
    rows = engine.store.reader().execute(
        f"SELECT id, cluster_id, relation, duplicate_of, score FROM articles WHERE rowid <= ? AND {scope} ORDER BY rowid",
        [max_rowid] + args)
    return [{"id": r[0], "cluster_id": r[1], "relation": r[2], "duplicate_of": r[3],
             "score": round(float(r[4] or 0.0), 4)} for r in rows]


def _scope_summary(snap: _Snapshot, clustered: int, since: str | None, until: str | None) -> dict:
    """The report's account of what the job read: its bounds, the snapshot, how many articles it
    clustered and how many duplicates stayed with an original outside its scope."""
    return {"since": since, "until": until, "snapshot_rowid": snap.max_rowid, "articles": len(snap.rowid),
            "clustered": clustered, "anchored_duplicates": int(np.count_nonzero(snap.node_of_row < 0))}


def _report(snap: _Snapshot, plan: _Plan, final: dict[int, str], lines: list[dict], graph: dict,
            reconciled: dict, since: str | None, until: str | None) -> ReclusterReport:
    new_labels = sorted(set(final) - set(plan.kept))
    sources: dict[int, dict[str, int]] = defaultdict(dict)
    for lab, o in zip(plan.label.tolist(), snap.old[plan.rows].tolist()):
        name = snap.old_ids[o]
        sources[lab][name] = sources[lab].get(name, 0) + 1
    new_stories = [{"cluster_id": final[lab], "size": sum(sources[lab].values()), "from": sources[lab]}
                   for lab in new_labels]
    splits = [{"cluster_id": old_id, "parts": {final[lab]: n for lab, n in sorted(parts.items())}}
              for old_id, parts in plan.splits]
    moved = [{"id": snap.ids[i], "from": snap.old_ids[snap.old[i]], "to": final[lab]}
             for i, lab in zip(plan.rows[plan.moved].tolist(), plan.label[plan.moved].tolist())]
    scope = _scope_summary(snap, len(plan.rows), since, until)
    before = {article_id: snap.old_ids[o] for article_id, o in zip(snap.ids, snap.old.tolist())}
    after = {line["id"]: line["cluster_id"] for line in lines}
    aliases = {absorbed: m["kept"] for m in plan.merges for absorbed in m["absorbed"]}
    return ReclusterReport(lines, plan.merges, splits, new_stories, moved, scope, graph, reconciled,
                           id_stability(before, after, aliases))

"""Online assignment: each incoming article gets exactly one relation to what is stored
(exact_duplicate, near_duplicate, same_story, new_story), a story cluster and its evidence.

The order of checks is the order of certainty: an equal content hash, then a MinHash copy
(Jaccard or containment) among LSH and vector-index candidates, then the pair scorer against
*several* members of each candidate story (the mean of its best few member scores, so one
look-alike cannot chain two events together), and otherwise a new story.

Heavy work (embedding, hashing, profiles) runs in batches outside the write lock; decisions and
store writes run one article at a time under it, so each article sees every earlier one. A batch
is one SQLite transaction: it is committed before any answer leaves, and on failure the
in-memory indexes are rolled back with it.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import minhash
from .alignment import sentence_alignment
from .article import Article
from .boilerplate import copy_check_shingles
from .config import Settings
from .embedding import Encoder, PendingVectors, encoder_for
from .features import FEATURES, pair_feature_matrix
from .language import article_language
from .lsh_index import LSHIndex
from .normalize import clean, clean_uncached, content_hash, lead_hash
from .profile import Profile, build_profile
from .scorer import PairScorer
from .store import Candidate, Store, StoredArticle
from .term_stats import TermStats
from .vector_index import VectorIndex, span_for_window

log = logging.getLogger(__name__)

RELATIONS = ("exact_duplicate", "near_duplicate", "same_story", "new_story")
_EMBED_CHARS_PER_TOKEN = 8  # texts are cut to max_seq_length * this before tokenising


class _DryRun(Exception):
    """Raised inside a dry-run batch to take the rollback path."""


@dataclass
class Prepared:
    """An article with everything computed that does not depend on the store."""

    article: Article
    lang: str | None
    hash: str
    lead: str | None  # normalize.lead_hash: finds excerpts copied at any distance in time
    signature: np.ndarray
    shingles: int
    embedding: np.ndarray
    profile: Profile
    published_ts: float | None
    band_keys: np.ndarray | None = None  # the signature's LSH band hashes, computed per batch


@dataclass
class Decision:
    id: str
    cluster_id: str
    relation: str
    duplicate_of: str | None
    score: float
    matches: list[dict] = field(default_factory=list)
    evidence: dict = field(default_factory=dict)
    stored: bool = True  # False when an identical article was already stored (idempotent repeat)

    def line(self) -> dict:
        """The CONTRACT output line."""
        return {"id": self.id, "cluster_id": self.cluster_id, "relation": self.relation,
                "duplicate_of": self.duplicate_of, "score": round(float(self.score), 4)}


class _LRU(OrderedDict):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def put(self, key, value) -> None:
        self[key] = value
        self.move_to_end(key)
        if len(self) > self.size:
            self.popitem(last=False)


def _mean(values: list[float]) -> float:
    """``float(np.mean(values))`` bit for bit (np.mean is this sum and division), without
    np.mean's wrapper, which cost more than the sum for the few values of a story."""
    return float(np.add.reduce(np.array(values, dtype=np.float64)) / len(values))


def embed_text(article: Article, max_seq_length: int, cleaner: Callable[[str], str] = clean) -> str:
    """Headline and lead: what the model reads (the window holds ~max_seq_length tokens).
    ``cleaner``: :func:`clean_uncached` where the bodies must not push others out of the cache."""
    text = cleaner(article.text)  # markup first: a page may open with kilobytes of <style>
    title = cleaner(article.title or "")
    joined = f"{title}. {text}" if title and not text.startswith(title) else text
    return joined[: max_seq_length * _EMBED_CHARS_PER_TOKEN]


class Engine:
    def __init__(self, settings: Settings, encoder: Encoder | None = None) -> None:
        self.settings = settings
        self.store = Store(settings.data_dir, fsync=settings.fsync)
        self.encoder = encoder or encoder_for(settings, settings.encode_workers or 1)
        self.store.bind("model", self.encoder.name)
        self.store.bind("dim", str(self.encoder.dim))
        self.store.bind("num_perm", str(settings.num_perm))
        self.store.bind("shingle_size", str(settings.shingle_size))
        self.scorer = PairScorer.load(settings.scorer_path)
        if not self.scorer.fitted_on(self.encoder.name, self.encoder.dim):
            log.warning("the pair scorer %s was fitted on model %r (dim %s), the configured model is %r "
                        "(dim %d): its cosines read differently; fit a scorer for it with "
                        "`python -m training.train_scorer` and set STORYCLUST_SCORER_PATH", self.scorer.version,
                        self.scorer.model, self.scorer.dim, self.encoder.name, self.encoder.dim)
        self.threshold = settings.same_story_threshold if settings.same_story_threshold is not None else self.scorer.threshold
        self.recluster_threshold = (settings.recluster_threshold if settings.recluster_threshold is not None
                                    else self.scorer.recluster_threshold)
        self.lock = threading.RLock()  # the single writer
        # Called after each committed ingest, still under the write lock (so in commit order), with
        # the ids it stored and the highest row id among them (the API's RepairSchedule).
        self.on_stored: list[Callable[[list[str], int], None]] = []
        # Recently stored or compared articles as candidates, by row id: a candidate found here
        # needs only its current story from the store, not its signature and profile JSON.
        self._known: _LRU = _LRU(settings.profile_cache)
        self._uncounted = len(self.store.uncounted_rowids())  # articles since the term_df checkpoint
        if self._uncounted >= settings.term_df_checkpoint:
            # Many uncounted (a run killed before its checkpoint, or counts of an earlier
            # version dropped by the store): write the checkpoint now, so that they are parsed
            # once here and not again at the first ingest's checkpoint.
            self.checkpoint_terms()
        df, docs = self.store.term_df()
        self.stats = TermStats(df, docs)
        self.vectors, self.lsh = self._load_indexes(at_start_up=True)

    # --- derived indexes --------------------------------------------------------------------
    @property
    def vector_path(self) -> Path:
        return self.settings.data_dir / "vectors.zip"

    def _load_indexes(self, at_start_up: bool = False) -> tuple[VectorIndex, LSHIndex]:
        """Catch FAISS up with the store (add missing, drop deleted); LSH is rebuilt whole. At
        start-up only, large partitions become approximate (seconds to a minute of k-means:
        never inside a request's recovery)."""
        dim, num_perm = self.encoder.dim, self.settings.num_perm
        # Versions before the index was partitioned by publication time saved one FAISS file; it is rebuilt.
        (self.settings.data_dir / "vectors.faiss").unlink(missing_ok=True)
        span = span_for_window(self.settings.time_window_seconds)
        approximate_from = self.settings.vector_approximate_from
        vectors = (VectorIndex.load(self.vector_path, dim, span, approximate_from)
                   or VectorIndex(dim, span, approximate_from))
        lsh = LSHIndex(num_perm, self.settings.lsh_threshold)
        stored = self.store.rowids()
        indexed = vectors.ids()
        stale = np.setdiff1d(indexed, stored)
        vectors.remove(stale.tolist())
        missing = set(np.setdiff1d(stored, indexed).tolist())
        for ids, embs, sigs, published in self.store.iter_vectors(dim, num_perm):
            if missing:
                take = np.fromiter((i in missing for i in ids), dtype=bool, count=len(ids))
                vectors.add(ids[take], embs[take], [t for t, keep in zip(published, take) if keep])
            lsh.add_many(zip(ids.tolist(), sigs))
        if len(stale) or missing:
            log.info("vector index caught up: %d added, %d removed", len(missing), len(stale))
        if at_start_up and vectors.approximate():  # trained once: saved now, not at shutdown, so a crash does not redo it
            vectors.save(self.vector_path)
        return vectors, lsh

    def save_indexes(self) -> None:
        """Write the FAISS file and the term_df checkpoint: what a restart would otherwise redo."""
        with self.lock:
            self.vectors.save(self.vector_path)
            self.checkpoint_terms()

    def checkpoint_terms(self) -> None:
        """Count the terms of the articles stored since the last checkpoint into the store's
        term_df, in a transaction of its own (see store.py: an ingest then writes ~13 pages, not
        ~100). Failing here loses nothing: the counts are derived from the stored profiles."""
        with self.lock:
            self.store.begin()
            try:
                self.store.checkpoint_term_df({r: c.profile for r, c in self._known.items()})
                self.store.commit()
            except sqlite3.Error:
                self.store.rollback()
                log.exception("term_df checkpoint failed; it is retried at the next one")
                return
            self._uncounted = 0

    def indexes_match_store(self) -> bool:
        return len(self.vectors) == self.store.count() == len(self.lsh)

    # --- preparation (no lock: pure computation) -------------------------------------------
    def embed_later(self, articles: Sequence[Article]) -> PendingVectors:
        """The model's vectors for ``articles``, exactly as :meth:`prepare` computes them,
        computed in the encoder's workers; ``.result()`` waits for them.

        Safe beside :meth:`ingest` (the workers touch neither the store nor the indexes, nor
        the cleaning cache): a batch job keeps the next chunks queued while it decides an
        earlier one, so the engine's single-threaded work overlaps the model's instead of
        adding to it, and the workers go from one chunk's batches straight to the next."""
        limit = self.settings.max_seq_length
        return self.encoder.submit([embed_text(a, limit, clean_uncached) for a in articles])

    def prepare(self, articles: Sequence[Article], timings: dict[str, float] | None = None,
                embeddings: np.ndarray | None = None) -> list[Prepared]:
        """Everything about the articles that does not depend on the store. The model's share
        of the time is added to ``timings["model"]`` when given (the API reports it).
        ``embeddings``: the articles' vectors from :meth:`embed_later`, already computed.

        One article at a time, then the model on the batch: hashing, shingling, language and
        profile all start from the cleaned body, which :func:`clean`'s small cache then holds
        from the first of them to the last (done batch-wide, a batch of 128 pushed each body
        out before its next use and every body was cleaned three times)."""
        if not articles:
            return []
        limit, size = self.settings.max_seq_length, self.settings.shingle_size
        parts = []
        for a in articles:
            shingle_set = minhash.shingles(a.text, size)
            text = embed_text(a, limit) if embeddings is None else ""
            language = article_language(a)
            parts.append((language, content_hash(a.text), lead_hash(a.text),
                          minhash.signature(shingle_set, self.settings.num_perm), len(shingle_set),
                          build_profile(a.title, a.text, language), text))
        if embeddings is None:
            started = time.perf_counter()
            embeddings = self.encoder.encode([part[-1] for part in parts])
            if timings is not None:
                timings["model"] = timings.get("model", 0.0) + time.perf_counter() - started
        band_keys = self.lsh.band_keys(np.array([part[3] for part in parts]))
        return [Prepared(a, lang, hash_, lead, sig, shingles, embeddings[i], profile, a.published_ts, band_keys[i])
                for i, (a, (lang, hash_, lead, sig, shingles, profile, _)) in enumerate(zip(articles, parts))]

    # --- ingestion ----------------------------------------------------------------------------
    def ingest(self, articles: Sequence[Article], dry_run: bool = False,
               timings: dict[str, float] | None = None, embeddings: np.ndarray | None = None) -> list[Decision]:
        """Assign and store a batch, in order; one transaction; answers only after commit.

        ``dry_run`` decides the batch exactly the same way (each article sees the earlier ones)
        and then rolls everything back: the feed is compared with itself and the store, and
        nothing is kept. ``timings``: see :meth:`prepare`. ``embeddings``: the vectors of
        ``articles`` (row for row) from :meth:`embed_later`, when the caller encoded them ahead.
        """
        todo = [i for i, a in enumerate(articles) if not self._is_repeat(a)]
        prepared = {id(p.article): p for p in self.prepare(
            [articles[i] for i in todo], timings, None if embeddings is None else embeddings[todo])}
        with self.lock:
            added: list[tuple[int, Prepared]] = []
            removed: list[tuple[int, Prepared | None]] = []
            decisions = []
            self.store.begin()
            try:
                for article in articles:
                    stored = self.store.get(article.id, self.store.db)
                    if stored is not None and stored.fingerprint == article.fingerprint():
                        decisions.append(self._stored_decision(stored))
                        continue
                    if stored is not None:  # same id, new content: an update
                        self._delete_in_transaction(stored.id)
                        self.vectors.remove([stored.rowid], [stored.published_ts])
                        removed.append((stored.rowid, None))
                    p = prepared.get(id(article)) or self.prepare([article], timings)[0]
                    decision, rowid = self._decide_and_store(p)
                    added.append((rowid, p))
                    decisions.append(decision)
                if dry_run:
                    raise _DryRun
                self.store.commit()
                self._uncounted += len(added)  # committed: a dry run's rows are gone again
            except _DryRun:
                self._undo(added, removed)
            except BaseException:
                self._undo(added, removed)
                raise
            if self._uncounted >= self.settings.term_df_checkpoint:
                self.checkpoint_terms()
            if added and not dry_run:
                stored = [d.id for d in decisions if d.stored]
                for listener in self.on_stored:
                    listener(stored, max(rowid for rowid, _ in added))
        return decisions

    def _undo(self, added: list[tuple[int, Prepared]], removed: list) -> None:
        """Roll back the open transaction and what it did to the in-memory indexes."""
        self.store.rollback()
        self.vectors.remove([rowid for rowid, _ in added], [p.published_ts for _, p in added])
        for rowid, p in added:
            self.lsh.remove(rowid)
            self.stats.remove(p.profile.all_terms())
            self._known.pop(rowid, None)
        if removed:  # deleted rows came back with the rollback
            self.vectors, self.lsh = self._load_indexes()
            self.stats = TermStats(*self.store.term_df())

    def _is_repeat(self, article: Article) -> bool:
        stored = self.store.get(article.id)
        return stored is not None and stored.fingerprint == article.fingerprint()

    def _stored_decision(self, stored) -> Decision:
        evidence = stored.public(with_text=False)["evidence"] or {}
        return Decision(stored.id, stored.cluster_id, stored.relation, stored.duplicate_of,
                        stored.score or 0.0, evidence.get("matches", []), evidence, stored=False)

    def _decide_and_store(self, p: Prepared) -> tuple[Decision, int]:
        decision = self.decide(p)
        if decision.relation == "new_story":
            decision.cluster_id = self.store.unused_cluster_id(p.article.id)
        a = p.article
        rowid = self.store.insert(
            article_id=a.id, fingerprint=a.fingerprint(), title=a.title, text=a.text,
            published_at=a.published_at, published_ts=p.published_ts, lang=p.lang, source=a.source,
            url=a.url, content_hash=p.hash, lead_hash=p.lead, shingles=p.shingles, signature=p.signature,
            embedding=p.embedding, profile=p.profile, cluster_id=decision.cluster_id,
            relation=decision.relation, duplicate_of=decision.duplicate_of, score=decision.score,
            evidence={**decision.evidence, "matches": decision.matches},
        )
        self.vectors.add(np.array([rowid]), p.embedding.reshape(1, -1), [p.published_ts])
        self.lsh.add(rowid, p.signature, p.band_keys)
        self.stats.add_profile(p.profile)
        self._known.put(rowid, Candidate(rowid, a.id, decision.cluster_id, p.lang, p.published_ts,
                                         p.shingles, p.signature, p.profile))
        return decision, rowid

    # --- deletion -------------------------------------------------------------------------------
    def delete(self, article_id: str) -> bool:
        return bool(self.delete_many([article_id]))

    def delete_many(self, article_ids: Sequence[str], placed_before: float | None = None) -> list[str]:
        """Remove the stored articles among ``article_ids`` in one transaction: all of them or,
        on failure, none. With ``placed_before``, only those placed in time before it (published,
        or ingested when undated; read inside the transaction, so an id updated meanwhile to a
        newer article stays), and their stories do not count as updated (an expiry, see
        :mod:`retention`). The story of each removed article, one entry an article."""
        with self.lock:
            self.store.begin()
            try:
                gone = [stored for stored in (self._delete_in_transaction(a, placed_before) for a in article_ids)
                        if stored is not None]
                self.vectors.remove([g.rowid for g in gone], [g.published_ts for g in gone])
                self.store.commit()
            except BaseException:
                self.store.rollback()
                self.vectors, self.lsh = self._load_indexes()
                self.stats = TermStats(*self.store.term_df())
                raise
            return [g.cluster_id for g in gone]

    def _delete_in_transaction(self, article_id: str, placed_before: float | None = None) -> StoredArticle | None:
        """Remove an article from the store, the LSH index and the term counts (``delete_many``
        for ``placed_before``); the removed article, None if there was none to remove. Its vector
        is the caller's to remove: a FAISS removal scans the whole partition, once for a batch."""
        stored = self.store.get(article_id, self.store.db)
        if stored is None:
            return None
        placed = stored.published_ts if stored.published_ts is not None else stored.ingested_at
        if placed_before is not None and placed >= placed_before:
            return None
        profile = self._profile_of(stored.rowid)
        self.store.delete(article_id, touch=placed_before is None)
        self.lsh.remove(stored.rowid)
        self.stats.remove(profile.all_terms())
        self._known.pop(stored.rowid, None)
        return stored

    def _profile_of(self, rowid: int) -> Profile:
        known = self._known.get(rowid)
        return known.profile if known is not None else self.store.profiles([rowid])[rowid]

    def _candidates(self, rowids: list[int]) -> list[Candidate]:
        """Stored articles to compare with, from the cache where held: parsing a profile's JSON
        costs more than the rest of a candidate's row together."""
        candidates = self.store.candidates(rowids, self._known)
        for c in candidates:
            self._known.put(c.rowid, c)
        return candidates

    # --- the decision -----------------------------------------------------------------------
    def decide(self, p: Prepared) -> Decision:
        """The relation of a prepared article to the store, without storing it."""
        a = p.article
        twin = self.store.first_with_hash(p.hash)
        if twin is not None:
            return Decision(a.id, twin.cluster_id, "exact_duplicate", twin.id, 1.0,
                            [{"id": twin.id, "cluster_id": twin.cluster_id, "score": 1.0}],
                            {"content_hash": p.hash})

        ids, cosines = self.vectors.search(p.embedding, self.settings.neighbours, around=p.published_ts,
                                           within=self.settings.time_window_seconds)
        cosine_of = dict(zip(ids.tolist(), cosines.tolist()))
        # Copies beyond the neighbours (or the time window): MinHash band collisions, and texts
        # that open with the same words (excerpts, too short a share of the text for LSH).
        others = dict.fromkeys(r for r in (*self.lsh.query(p.signature, p.band_keys), *self.store.with_lead(p.lead))
                               if r not in cosine_of)
        if others:
            for rowid, vector in self.store.embeddings(list(others), self.encoder.dim).items():
                cosine_of[rowid] = float(vector @ p.embedding)
        candidates = [c for c in self._candidates(list(cosine_of)) if self._comparable(p, c)]

        copy = self._near_duplicate(p, candidates, cosine_of)
        if copy is not None:
            cand, jac, cont = copy
            return Decision(a.id, cand.cluster_id, "near_duplicate", cand.id, max(jac, cont),
                            [{"id": cand.id, "cluster_id": cand.cluster_id, "score": max(jac, cont)}],
                            {"jaccard": round(jac, 4), "containment": round(cont, 4),
                             "cosine": round(cosine_of[cand.rowid], 4)})

        return self._same_story(p, candidates, cosine_of)

    def _comparable(self, p: Prepared, c: Candidate) -> bool:
        if not self.settings.model_multilingual and p.lang and c.lang and p.lang != c.lang:
            return False
        return True

    def _near_duplicate(self, p: Prepared, candidates: list[Candidate],
                        cosine_of: dict[int, float]) -> tuple[Candidate, float, float] | None:
        """The stored article this one copies, with (Jaccard, containment), or None.

        MinHash flags suspects cheaply; each suspect is then verified on the exact shingle sets,
        because containment estimated from a small Jaccard is noise when one text is tiny
        beside the other (a one-sentence brief against a long report), leaving out boilerplate
        shingles (:mod:`storyclust.boilerplate`). For the same reason MinHash can miss such a
        pair altogether, so a short body is also checked against its closest neighbours
        (``near_dup_short_shingles``, ``near_dup_short_neighbours``).
        """
        if not candidates:
            return None
        sigs = np.array([c.signature for c in candidates])
        sizes = np.array([c.shingles for c in candidates])
        jac = minhash.jaccard(p.signature, sigs)
        cont = minhash.containment(jac, p.shingles, sizes)
        suspect = (jac >= self.settings.near_dup_jaccard * 0.8) | (cont >= self.settings.near_dup_containment * 0.8)
        short = self.settings.near_dup_short_shingles
        if p.shingles <= short or (sizes <= short).any():  # else no pair has a short body
            closest = np.argsort([-cosine_of[c.rowid] for c in candidates], kind="stable")[:self.settings.near_dup_short_neighbours]
            suspect[closest] |= np.minimum(p.shingles, sizes[closest]) <= short
        suspects = np.flatnonzero(suspect)
        if not len(suspects):
            return None
        size = self.settings.shingle_size
        mine = copy_check_shingles(p.article.text, size, self.stats)
        best = None
        for i in suspects[np.argsort(-jac[suspects])].tolist():
            stored = self.store.text_of(candidates[i].rowid)
            theirs = copy_check_shingles(stored, size, self.stats)
            shared = len(mine & theirs)
            exact_jac = shared / max(len(mine | theirs), 1)
            smaller = min(len(mine), len(theirs))
            exact_cont = shared / max(smaller, 1)
            is_copy = exact_jac >= self.settings.near_dup_jaccard or (
                smaller >= self.settings.near_dup_min_shingles and exact_cont >= self.settings.near_dup_containment)
            if is_copy and (best is None or max(exact_jac, exact_cont) > max(best[1], best[2])):
                best = (candidates[i], exact_jac, exact_cont)
        return best

    def _pair_scores(self, p: Prepared, candidates: list[Candidate],
                     cosine_of: dict[int, float]) -> tuple[np.ndarray, list[list[float]]]:
        """P(same story) for each candidate, and the feature rows behind them."""
        if not candidates:
            return np.zeros(0), []
        profiles = [c.profile for c in candidates]
        aligned = sentence_alignment(p.profile, profiles, self.stats)
        matrix = pair_feature_matrix(p.profile, p.published_ts, np.array([cosine_of[c.rowid] for c in candidates]),
                                     profiles, [c.published_ts for c in candidates], self.stats, aligned)
        return self.scorer.score(matrix), matrix.tolist()

    def _same_story(self, p: Prepared, candidates: list[Candidate], cosine_of: dict[int, float]) -> Decision:
        a = p.article
        # A text without words (emoji, punctuation) reports no event: it can only be a copy.
        # Pairs below min_pair_cosine are not scored: they practically never are one story, and
        # most candidates of an article that starts a story are such pairs.
        floor = self.settings.min_pair_cosine
        candidates = [c for c in candidates if cosine_of[c.rowid] >= floor and c.profile.terms
                      and self._in_window(p, c)] if p.profile.terms else []
        scores, rows = self._pair_scores(p, candidates, cosine_of)
        rows_by_rowid = {c.rowid: r for c, r in zip(candidates, rows)}
        by_story: dict[str, list[tuple[float, Candidate]]] = {}
        for s, c in zip(scores.tolist(), candidates):
            by_story.setdefault(c.cluster_id, []).append((s, c))
        ranked = sorted(by_story.items(), key=lambda kv: -max(s for s, _ in kv[1]))[:5]

        stories = []
        m, averaged = self.settings.story_members_compared, self.settings.story_members_averaged
        for cluster_id, scored in ranked:
            # A story none of whose candidates reaches the threshold cannot average above it
            # (its other members are further from the article): not worth scoring them.
            if max(s for s, _ in scored) >= self.threshold:
                scored = self._complete_story(p, cluster_id, scored, m)
            values = sorted((s for s, _ in scored), reverse=True)
            stories.append({"cluster_id": cluster_id, "score": _mean(values[:averaged]),
                            "max": values[0], "compared": len(values)})
        stories.sort(key=lambda s: -s["score"])
        score_list = scores.tolist()
        top = [(score_list[i], candidates[i]) for i in np.argsort(-scores, kind="stable")[:5].tolist()]
        matches = [{"id": c.id, "cluster_id": c.cluster_id, "score": round(s, 4)} for s, c in top]
        evidence = {
            "stories": [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in s.items()} for s in stories[:3]],
            "scorer": self.scorer.version,
        }
        if top:
            best = top[0][1]
            row = rows_by_rowid[best.rowid]
            # None for a feature not known for the pair (NaN, which JSON cannot carry).
            evidence["best_pair"] = {"id": best.id, **{f: None if math.isnan(v) else round(v, 4) for f, v in zip(FEATURES, row)}}
        if stories and stories[0]["score"] >= self.threshold:
            return Decision(a.id, stories[0]["cluster_id"], "same_story", None, stories[0]["score"], matches, evidence)
        best_score = stories[0]["score"] if stories else 0.0
        return Decision(a.id, "", "new_story", None, best_score, matches, evidence)

    def _complete_story(self, p: Prepared, cluster_id: str, scored: list, m: int) -> list:
        """Score up to ``m`` members of a story, adding members that were not candidates.

        A member dated outside the time window counts 0, as the window says such a pair never
        is one story (and as the nightly job counts it): without that, a story dated ten days
        earlier took a new report through one undated member, its dated members' pair scores
        only lowered by the day gap (NewsWCL50: two events merged this way)."""
        have = {c.rowid for _, c in scored}
        if len(scored) >= m:
            return sorted(scored, key=lambda t: -t[0])[:m]
        extra_ids = [r for r in self.store.cluster_rowids(cluster_id, m) if r not in have][: m - len(scored)]
        if not extra_ids:
            return scored
        extra = self._candidates(extra_ids)
        inside, outside = [], []
        for c in extra:
            (inside if self._in_window(p, c) else outside).append(c)
        vectors = self.store.embeddings([c.rowid for c in inside], self.encoder.dim) if inside else {}
        cos = {r: float(v @ p.embedding) for r, v in vectors.items()}
        return (scored + list(zip(self._pair_scores(p, inside, cos)[0].tolist(), inside))
                + [(0.0, c) for c in outside])

    def _in_window(self, p: Prepared, c: Candidate) -> bool:
        """False when both are dated further apart than the time window."""
        return (p.published_ts is None or c.published_ts is None
                or abs(p.published_ts - c.published_ts) <= self.settings.time_window_seconds)

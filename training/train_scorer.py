"""Learn the pair scorer from the labelled dev sets and write the shipped artifact.

    python -m training.train_scorer [--output service/storyclust/models/pair_scorer.json]

Training pairs are the pairs the online pass actually scores: each article with its nearest
neighbours by embedding (plus every same-event pair, which the story completion step scores).
Each dev set weighs the same in the fit, so the 7k short AllSides excerpts do not drown the 700
long ECB+ articles. Logistic regression keeps the artifact small and readable: one weight per
feature, whose sign can be checked against intuition.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from storyclust.features import FEATURES, feature_matrix, pair_features, sentence_alignment
from storyclust.scorer import DEFAULT_PATH, PairScorer
from storyclust.term_stats import TermStats

from .corpus import DEV_SETS, Doc, cached_encoder, prepare_set

NEIGHBOURS = 20
# Story score to join; one value for every set. Chosen on the out-of-fold one-pass results of
# bench/accuracy.py over all three dev sets together (0.3 scored a little higher on each when it
# was chosen; README, Accuracy) and the seeds: 001-002 (different meetings of the same
# presidents) score 0.381 and 002-003 (one meeting) 0.573, so 0.3 joins 001 and 002; 0.4 is
# the lowest round value that keeps the seeds apart.
THRESHOLD = 0.4
# The nightly job's average-linkage threshold (see PairScorer.recluster_threshold): at 0.4 the
# job made the online pass worse (tests/test_recluster.py, 600 AllSides articles: B3 0.828 ->
# 0.814); at 0.3 it repairs it (bench/recluster_quality.py figures in the README).
RECLUSTER_THRESHOLD = 0.3
REGULARISATION = 0.1  # inverse L2 strength: generalises better across dev sets than 1.0 (leave-one-set-out AUC)


def term_stats(docs: Sequence[Doc]) -> TermStats:
    stats = TermStats()
    for d in docs:
        stats.add(d.profile.all_terms())
    return stats


def candidate_pairs(docs: Sequence[Doc], k: int = NEIGHBOURS) -> list[tuple[int, int]]:
    """Unordered pairs (i < j): each doc's k nearest neighbours and every same-event pair."""
    vectors = np.stack([d.embedding for d in docs])
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -np.inf)
    nearest = np.argsort(-sims, axis=1)[:, :k]
    pairs = {(min(i, j), max(i, j)) for i in range(len(docs)) for j in nearest[i].tolist()}
    by_event: dict[str, list[int]] = {}
    for i, d in enumerate(docs):
        by_event.setdefault(d.event, []).append(i)
    for members in by_event.values():
        pairs.update((a, b) for x, a in enumerate(members) for b in members[x + 1:])
    return sorted(pairs)


def pair_table(docs: Sequence[Doc], pairs: Iterable[tuple[int, int]] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(features, labels) for candidate pairs of one set, with that set's term statistics."""
    stats = term_stats(docs)
    partners: dict[int, list[int]] = {}
    for i, j in (pairs if pairs is not None else candidate_pairs(docs)):
        partners.setdefault(i, []).append(j)
    rows, labels = [], []
    for i, js in partners.items():
        a = docs[i]
        aligned = sentence_alignment(a.profile, [docs[j].profile for j in js], stats)
        for k, j in enumerate(js):
            b = docs[j]
            rows.append(pair_features(a.profile, a.ts, float(a.embedding @ b.embedding), b.profile,
                                      b.ts, stats, float(aligned[k])))
            labels.append(a.event == b.event)
    return feature_matrix(rows), np.asarray(labels, dtype=int)


def fit(tables: Sequence[tuple[np.ndarray, np.ndarray]], version: str | None = None,
        threshold: float = THRESHOLD, recluster_threshold: float = RECLUSTER_THRESHOLD,
        embedding_model: str | None = None, dim: int | None = None) -> PairScorer:
    """Logistic regression over standardised features, each table (dev set) weighted equally."""
    X = np.vstack([t[0] for t in tables])
    y = np.concatenate([t[1] for t in tables])
    w = np.concatenate([np.full(len(t[1]), len(y) / (len(tables) * max(len(t[1]), 1))) for t in tables])
    mean, scale = X.mean(axis=0), X.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=REGULARISATION, max_iter=2000)
    model.fit((X - mean) / scale, y, sample_weight=w)
    digest = hashlib.sha1(np.concatenate([model.coef_[0], model.intercept_]).tobytes()).hexdigest()[:8]
    return PairScorer(version=version or f"lr-{dt.date.today().isoformat()}-{digest}", features=FEATURES,
                      mean=mean, scale=scale, weights=model.coef_[0], bias=float(model.intercept_[0]),
                      threshold=threshold, recluster_threshold=recluster_threshold,
                      model=embedding_model, dim=dim)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_PATH)
    parser.add_argument("--threshold", type=float, default=THRESHOLD)
    parser.add_argument("--recluster-threshold", type=float, default=RECLUSTER_THRESHOLD)
    args = parser.parse_args(argv)
    encoder = cached_encoder()
    tables = []
    for name in DEV_SETS:
        X, y = pair_table(prepare_set(name, encoder))
        print(f"{name}: {len(y)} pairs, {int(y.sum())} same-event")
        tables.append((X, y))
    scorer = fit(tables, threshold=args.threshold, recluster_threshold=args.recluster_threshold,
                 embedding_model=encoder.name, dim=encoder.dim)
    args.output.write_text(json.dumps(scorer.to_json(), indent=1) + "\n")
    for name, weight in zip(FEATURES, scorer.weights):
        print(f"  {name:20s} {weight:+.3f}")
    print(f"wrote {args.output} ({scorer.version})")


if __name__ == "__main__":
    main()

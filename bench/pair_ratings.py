"""The pair scorer against human ratings of a kind of data it never saw (SemEval-2022 Task 8).

    .venv/bin/python bench/pair_ratings.py [--same-at 1.5]

The scorer is fitted on ECB+, AllSides and Clust-McMs clusters; the SemEval sample is not used
in its fit or in choosing anything. Its pairs were rated by annotators on a 1-4 "Overall"
scale (1: same story), several per pair, the label their mean (its PROVENANCE: a sample of the
task's training pairs, texts cut to head and tail, some machine-translated; for checks, not
headline figures). The store is the whole sample (every language), so that rarity weights are
counted as the engine counts them over its store.

Printed per language pair: the number of pairs and of "same story" pairs (mean rating at or
under ``--same-at``), then for storyclust's pair score, the model's cosine alone (the naive
peer) and MinHash Jaccard alone: Pearson r with the rating (sign turned, so that higher is more
alike; the task's own metric), Spearman rho, and the AUC of telling same-story pairs apart.
Pairs across languages are listed without figures: under the default English model articles
in different languages never join (``STORYCLUST_MODEL_MULTILINGUAL``), whatever they score.

With ``--stories``, also what ``storyclust cluster`` makes of the rated pairs: the whole sample
is ingested in file order (online, then the repair, as the command runs), and for each rounded
rating the share of the same-language pairs whose two articles end in one story, online and
repaired. It is the contract's answer rather than the scorer's, read against people's ratings.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from storyclust import minhash, recluster  # noqa: E402
from storyclust.config import Settings  # noqa: E402
from storyclust.engine import Engine  # noqa: E402
from storyclust.features import feature_matrix, pair_features, sentence_alignment  # noqa: E402
from storyclust.scorer import PairScorer  # noqa: E402
from storyclust.term_stats import TermStats  # noqa: E402
from training.corpus import SHARED, Doc, cached_encoder, prepare_set  # noqa: E402
from training.train_scorer import term_stats  # noqa: E402

SET = "semeval2022-pairs-sample"


def pair_scores(docs: dict[str, Doc], pairs: list[dict], scorer: PairScorer, stats: TermStats) -> dict[str, np.ndarray]:
    """Each pair's storyclust score, cosine and MinHash Jaccard, as the online pass reads them,
    with ``stats`` the store's term counts."""
    rows, cosines, jaccards = [], [], []
    for pair in pairs:
        a, b = docs[pair["id1"]], docs[pair["id2"]]
        cosine = float(a.embedding @ b.embedding)
        aligned = float(sentence_alignment(a.profile, [b.profile], stats)[0])
        rows.append(pair_features(a.profile, a.ts, cosine, b.profile, b.ts, stats, aligned))
        cosines.append(cosine)
        jaccards.append(float(minhash.jaccard(a.signature, b.signature[None, :])[0]))
    return {"storyclust": scorer.score(feature_matrix(rows)), "cosine (naive peer)": np.array(cosines),
            "MinHash Jaccard": np.array(jaccards)}


def story_shares(docs: dict[str, Doc], pairs: list[dict], encoder) -> None:
    """Print, per rounded rating, the share of same-language pairs in one story after the
    online pass and after the repair, the sample ingested as ``storyclust cluster`` ingests it."""
    articles = [d.article for d in docs.values()]
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine(Settings(data_dir=Path(tmp), fsync=False), encoder=encoder)
        online = {decision.id: decision.cluster_id
                  for i in range(0, len(articles), 128) for decision in engine.ingest(articles[i:i + 128])}
        report = recluster.repair_articles(engine, [a.id for a in articles])
        repaired = {**online, **{line["id"]: line["cluster_id"] for line in report.lines}}
        engine.store.close()
    within = [p for p in pairs if p["lang_pair"].split("-")[0] == p["lang_pair"].split("-")[1]]
    print(f"\nstoryclust on the {len(within)} same-language pairs (`cluster`): share ending in one story")
    print(f"{'mean rating':12} {'pairs':>5} {'online':>7} {'repaired':>8} {'en-en repaired':>15}")
    for rating, label in enumerate(("1 - 1.5", "1.5 - 2.5", "2.5 - 3.5", "3.5 - 4"), start=1):
        group = [p for p in within if _rating_bucket(p["label"]) == rating]
        english = [p for p in group if p["lang_pair"] == "en-en"]
        shares = [np.mean([clusters[p["id1"]] == clusters[p["id2"]] for p in g]) if g else float("nan")
                  for clusters, g in ((online, group), (repaired, group), (repaired, english))]
        print(f"{label:12} {len(group):5d} {shares[0]:7.3f} {shares[1]:8.3f} {shares[2]:15.3f}")


def _rating_bucket(label: float) -> int:
    """1-4, the nearest whole rating, halves going to the more alike one (1.5 is "same story",
    as ``--same-at`` reads it)."""
    return int(min(4, max(1, np.ceil(label - 0.5))))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--same-at", type=float, default=1.5,
                        help="a pair whose mean Overall rating is at most this is one story (1 = same story)")
    parser.add_argument("--stories", action="store_true",
                        help="also ingest the sample as `storyclust cluster` does and print, per rating, "
                             "the share of pairs ending in one story")
    args = parser.parse_args()
    encoder = cached_encoder()
    docs = {d.row["id"]: d for d in prepare_set(SET, encoder)}
    pairs = [json.loads(line) for line in (SHARED / "data" / SET / "pairs.jsonl").open(encoding="utf-8")
             if line.strip()]
    pairs = [p for p in pairs if p["id1"] in docs and p["id2"] in docs]
    by_languages: dict[str, list[dict]] = defaultdict(list)
    for pair in pairs:
        by_languages[pair["lang_pair"]].append(pair)
    scorer = PairScorer.load()
    stats = term_stats(list(docs.values()))  # the whole sample is the store
    print(f"{SET}: {len(pairs)} rated pairs; scorer {scorer.version}; same story: mean rating <= {args.same_at}")
    print(f"{'pairs':8} {'n':>4} {'same':>4}  {'signal':20} {'pearson':>8} {'spearman':>8} {'AUC':>6}")
    for languages, group in sorted(by_languages.items(), key=lambda kv: -len(kv[1])):
        first, second = languages.split("-")
        if first != second:
            print(f"{languages:8} {len(group):4d}        (across languages: kept apart under an English model)")
            continue
        similarity = -np.array([p["label"] for p in group])
        same = similarity >= -args.same_at
        for signal, values in pair_scores(docs, group, scorer, stats).items():
            auc = roc_auc_score(same, values) if 0 < same.sum() < len(same) else float("nan")
            print(f"{languages:8} {len(group):4d} {int(same.sum()):4d}  {signal:20} "
                  f"{pearsonr(values, similarity)[0]:8.3f} {spearmanr(values, similarity)[0]:8.3f} {auc:6.3f}")
    if args.stories:
        story_shares(docs, pairs, encoder)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Accuracy on the labelled dev sets, out-of-fold: storyclust against a naive cosine peer and
MinHash alone.

    .venv/bin/python bench/accuracy.py [--sets ecbplus-dev allsides-train clustmcms-dev] [--folds 5]
                                       [--held-out newswcl50] [--one-day 2024-05-01] [--one-year 2024]
                                       [--footer-share 0.3] [--no-untitled] [--chrome-outlets 50]
                                       [--pool-topics 307 --pools 5] [--shuffled 3] [--errors N]

storyclust: each set is split into folds by topic (ECB+: the topic holding two similar events;
elsewhere the story); for every fold a pair scorer is trained on the other two sets and the
other folds of this one. Then the real engine does what `storyclust cluster` does: one online
pass over the whole set, in file order, each article decided by the scorer of its own fold, then
the repair over the run's articles (the nightly job), each candidate pair scored by the fold
scorer of its first article. The online-only row is what the API answered before the repair.
So no decision comes from a scorer that saw its article's topic, and every article faces all the
set's other stories as distractors (ingesting each fold into its own store, as an earlier
version did, hid four fifths of them and flattered the result).
Held-out sets (default NewsWCL50: ten US-politics events of three weeks, five outlets each) are
never used to train or tune anything: storyclust runs there with a scorer trained on all three
dev sets, as shipped. They show how the defaults carry to data of another kind.
One-day rows: the same pass with every article dated the same day, as in a day's real feed
(the dev sets are mostly undated): dates may only ever keep reports apart, so these rows must
match the plain ones where a set is undated. AllSides dates 1,164 of its articles (their
roundup's time), and dating them all one day erases the gaps that kept some stories apart.
One-year rows: every article ends with "(c) 2024", as agency boilerplate
or a mention of the current year does in a real feed; they show how much a shared year counts.
Footer rows: 30% of the articles (by a hash of the id) end with the Associated Press footer, as
wire copies in a real feed do; they show whether boilerplate makes copies or stories.
Untitled rows: every title taken away (a feed of bodies only, as scraped pages or SemEval's
texts come); the scorer was fitted on titled articles, so they show what the headline features
are worth and whether their absence reads as evidence against.
Chrome rows (``--chrome-outlets N``): each text ends with the paywall and newsletter lines of
one of N outlets (by a hash of the id), as scraped pages carry their site's chrome; with 50
outlets each is a fiftieth of the feed, under the twentieth at which a sentence is boilerplate.
Shuffled rows (``--shuffled N``): the same pass over the set in N random orders (seeded), means
and range: the dev files list each story's reports together, the order kindest to the online
pass, while a real feed interleaves stories; they show how much the answers owe to that order.
Pool rows (``--pool-topics K``): a set the size of a test split, as an unseen set of the same
kind would come: K of the set's topics drawn at random (``--pools`` draws, seeded), ingested
alone and repaired, decided by a scorer trained on the other dev sets and the rest of this one's
topics. Fewer stories in the store means fewer look-alike ones to confuse (AllSides' test split
holds 307 stories, an eighth of the 2,452 here).
Naive peer: the configured model's embeddings (MiniLM by default; STORYCLUST_MODEL_PATH) and one
cosine threshold, its best value per set (an oracle advantage storyclust does not get), single
pass (join the nearest earlier article's story) and average linkage. MinHash only: single pass
on estimated Jaccard, best threshold per set.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from functools import partial
from itertools import groupby
from pathlib import Path

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from storyclust import recluster  # noqa: E402
from storyclust.config import Settings  # noqa: E402
from storyclust.engine import Engine  # noqa: E402
from storyclust.evaluation import errors, score  # noqa: E402
from training.corpus import DEV_SETS, Doc, cached_encoder, prepare_set  # noqa: E402
from training.train_scorer import fit, pair_table  # noqa: E402

GRID = np.round(np.arange(0.30, 0.96, 0.01), 2)


def bucket_of(key: str, buckets: int) -> int:
    """A stable bucket of ``key`` (a topic's fold, an article's outlet or footer): the same in
    every run, unlike Python's salted ``hash``."""
    return int(hashlib.sha1(key.encode()).hexdigest(), 16) % buckets


def single_pass(sim: np.ndarray, threshold: float) -> list[int]:
    """Each item joins the cluster of its most similar earlier item if similar enough."""
    labels: list[int] = []
    for i in range(len(sim)):
        if i and sim[i, :i].max() >= threshold:
            labels.append(labels[int(np.argmax(sim[i, :i]))])
        else:
            labels.append(i)
    return labels


def best_over_grid(gold: list[str], cluster) -> tuple[float, dict]:
    best = max(((t, score(gold, cluster(t))) for t in GRID), key=lambda r: r[1]["b3_f1"])
    return best


def average_linkage(sim: np.ndarray, threshold: float, tree=None) -> list[int]:
    return fcluster(tree, t=1.0 - threshold, criterion="distance").tolist()


FOOTER = ("Copyright 2024 The Associated Press. All rights reserved. This material may not be "
          "published, broadcast, rewritten or redistributed without permission.")
# Site chrome: each outlet's own paywall and newsletter lines, named after the outlet.
OUTLET_NAMES = ("Herald", "Courier", "Tribune", "Gazette", "Sentinel", "Chronicle", "Observer", "Ledger",
                "Dispatch", "Beacon")
OUTLET_EDITIONS = ("Morning", "Evening", "Daily", "Weekly", "Sunday")


def with_site_chrome(text: str, article_id: str, outlets: int) -> str:
    """``text`` ending with the chrome of one of ``outlets`` outlets (by a hash of the id)."""
    k = bucket_of(article_id, outlets)
    outlet = f"{OUTLET_NAMES[k % len(OUTLET_NAMES)]} {OUTLET_EDITIONS[k // len(OUTLET_NAMES) % len(OUTLET_EDITIONS)]}"
    if k >= len(OUTLET_NAMES) * len(OUTLET_EDITIONS):
        outlet += f" {k}"
    return (f"{text}\n\nSign up for the {outlet} newsletter and get the day's top headlines in your inbox. "
            f"You have reached your limit of free articles this month, subscribe to the {outlet} for full access.")


def storyclust_oof(name: str, sets: dict[str, list[Doc]], tables: dict, folds: int, encoder,
                   date: str | None = None, year: str | None = None,
                   footer_share: float = 0.0, error_limit: int = 0, untitled: bool = False,
                   outlets: int = 0, shuffle_seed: int | None = None) -> tuple[dict, dict, float]:
    """One online pass over the whole set then its repair, each article decided (and each pair
    of the repair scored) by the scorer of its fold: see ``one_pass``."""
    fold, scorers = fold_scorers(name, sets, tables, folds)
    return one_pass(sets[name], fold, scorers, encoder, date=date, year=year, footer_share=footer_share,
                    error_limit=error_limit, untitled=untitled, outlets=outlets, shuffle_seed=shuffle_seed)


def fold_scorers(name: str, sets: dict[str, list[Doc]], tables: dict, folds: int) -> tuple[list[int], dict]:
    """The fold of each article of ``name`` (by topic), and per fold a scorer trained on the
    other sets and the other folds of this one."""
    docs = sets[name]
    fold = [bucket_of(d.topic, folds) for d in docs]
    scorers = {}
    for k in sorted(set(fold)):
        rest = [d for d, f in zip(docs, fold) if f != k]
        scorers[k] = fit([tables[n] for n in sets if n != name] + [pair_table(rest)], version=f"oof-{name}-{k}")
    return fold, scorers


def fold_edge_scorer(fold_of_id: dict[str, int], scorers: dict) -> recluster.EdgeScorerFactory:
    """The job's pair scorer with each pair scored by the fold scorer of its first article, which
    never saw that article's topic nor the pair: pass it as ``edge_scorer`` to the job."""

    class FoldEdgeScorer(recluster.EdgeScorer):
        def __init__(self, engine, snap, nodes, config, nearest) -> None:
            super().__init__(engine, snap, nodes, config, nearest)
            id_of = dict(engine.store.reader().execute("SELECT rowid, id FROM articles"))
            self.node_fold = np.array([fold_of_id[id_of[int(r)]] for r in snap.rowid[snap.node_row]])

        def __call__(self, a: np.ndarray, b: np.ndarray, cos: np.ndarray) -> np.ndarray:
            scores = np.zeros(len(a))
            for k, scorer in scorers.items():
                mine = self.node_fold[a] == k
                if mine.any():
                    self.scorer = scorer
                    scores[mine] = super().__call__(a[mine], b[mine], cos[mine])
            return scores

    return FoldEdgeScorer


def one_pass(docs: list[Doc], fold: list[int], scorers: dict, encoder, date: str | None = None,
             year: str | None = None, footer_share: float = 0.0, error_limit: int = 0,
             untitled: bool = False, outlets: int = 0, shuffle_seed: int | None = None) -> tuple[dict, dict, float]:
    """What `storyclust cluster` answers for ``docs`` in order: one online pass, each article
    decided by ``scorers[fold[i]]``, then the repair over the run's articles
    (``recluster.repair_articles``) with each pair scored by its first article's fold scorer.
    Scores of the repaired answers and of the online ones (what the API answered), and the
    seconds of both steps. With ``date``, every article is dated that day; with ``year``,
    every text ends with "(c) year"; with ``footer_share``, that share of the texts (by a hash
    of the id) end with ``FOOTER``; with ``untitled``, no article has a title; with ``outlets``,
    each text ends with one of that many outlets' chrome (``with_site_chrome``). With
    ``error_limit``, the repaired scores hold the worst wrong merges and splits under "errors"
    (``evaluation.errors``). With ``shuffle_seed``, the articles are posted in that seed's
    random order instead of the file's."""
    if shuffle_seed is not None:
        order = np.random.default_rng(shuffle_seed).permutation(len(docs))
        docs, fold = [docs[i] for i in order], [fold[i] for i in order]
    articles = [d.article for d in docs]
    if date:
        articles = [a.model_copy(update={"published_at": date}) for a in articles]
    if untitled:
        articles = [a.model_copy(update={"title": None}) for a in articles]
    if outlets:
        articles = [a.model_copy(update={"text": with_site_chrome(a.text, a.id, outlets)}) for a in articles]
    if year:
        articles = [a.model_copy(update={"text": f"{a.text}\n(c) {year}"}) for a in articles]
    if footer_share:
        articles = [a.model_copy(update={"text": f"{a.text}\n{FOOTER}"})
                    if bucket_of(a.id, 100) < footer_share * 100 else a
                    for a in articles]
    online: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine(Settings(data_dir=Path(tmp), fsync=False), encoder=encoder)
        assert all(s.threshold == engine.threshold for s in scorers.values()), "one threshold for all folds"
        assert all(s.recluster_threshold == engine.recluster_threshold for s in scorers.values())
        start = time.perf_counter()
        position = 0
        for k, run in groupby(fold):
            engine.scorer = scorers[k]
            run_articles = articles[position:position + len(list(run))]
            position += len(run_articles)
            for i in range(0, len(run_articles), 128):
                for decision in engine.ingest(run_articles[i:i + 128]):
                    online[decision.id] = decision.cluster_id
        report = recluster.repair_articles(engine, [a.id for a in articles],
                                           edge_scorer=fold_edge_scorer({a.id: k for a, k in zip(articles, fold)}, scorers))
        repaired = {**online, **{line["id"]: line["cluster_id"] for line in report.lines}}
        seconds = time.perf_counter() - start
        engine.store.close()
    gold = [d.event for d in docs]
    result = score(gold, [repaired[d.article.id] for d in docs])
    if error_limit:
        result["errors"] = errors({d.article.id: d.event for d in docs}, repaired, error_limit,
                                  {d.article.id: d.article.title or d.article.text[:100] for d in docs})
    return result, score(gold, [online[d.article.id] for d in docs]), seconds


def print_errors(found: dict[str, list[dict]]) -> None:
    """The worst wrong merges and splits, one line each, with the first article of each part."""
    if not found["wrong_merges"] and not found["splits"]:
        print("- none")
    for kind, parts in (("wrong_merges", "events"), ("splits", "clusters")):
        for error in found[kind]:
            cost = error.get("b3_precision_lost", error.get("b3_recall_lost"))
            shown = "; ".join(f"{len(ids)} like \"{ids[0]}\"" for ids in error[parts].values())
            print(f"- {kind[:-1].replace('_', ' ')} of {error['size']} articles (B3 {cost:.4f}): {shown}")


def pooled(name: str, sets: dict[str, list[Doc]], tables: dict, topics: int, draws: int, encoder) -> list[dict]:
    """B3 of the repaired pass over ``draws`` random pools of ``topics`` topics of ``name``, each
    decided by a scorer that never saw the pool's topics."""
    docs = sets[name]
    every = sorted({d.topic for d in docs})
    others = [tables[n] for n in sets if n != name]
    results = []
    for draw in range(draws):
        pool = set(np.random.default_rng(draw).choice(every, size=min(topics, len(every)), replace=False))
        chosen = [d for d in docs if d.topic in pool]
        scorer = fit(others + [pair_table([d for d in docs if d.topic not in pool])], version=f"pool-{name}-{draw}")
        results.append(one_pass(chosen, [0] * len(chosen), {0: scorer}, encoder)[0])
    return results


def row(label: str, m: dict, note: str = "") -> str:
    return (f"| {label} | {m['b3_precision']:.3f} | {m['b3_recall']:.3f} | **{m['b3_f1']:.3f}** | "
            f"{m['pair_f1']:.3f} | {m['ari']:.3f} | {note} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", nargs="+", default=list(DEV_SETS))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--held-out", nargs="*", default=["newswcl50"],
                        help="sets never trained on (any folder of ../shared/data with event_id)")
    parser.add_argument("--one-day", default="2024-05-01", help="the date of the one-day rows ('' to skip them)")
    parser.add_argument("--one-year", default="2024", help="the year of the one-year rows ('' to skip them)")
    parser.add_argument("--footer-share", type=float, default=0.3,
                        help="share of the articles ending with an agency footer in the footer rows (0 to skip them)")
    parser.add_argument("--untitled", action=argparse.BooleanOptionalAction, default=True,
                        help="the untitled rows: every title taken away, as in a feed of bodies only")
    parser.add_argument("--chrome-outlets", type=int, default=0,
                        help="outlets whose own chrome ends each text in the chrome rows (0 to skip them)")
    parser.add_argument("--pool-topics", type=int, default=0,
                        help="topics per pool in the pool rows (0 to skip them; AllSides' test split: 307)")
    parser.add_argument("--pools", type=int, default=5, help="pools drawn for the pool rows")
    parser.add_argument("--shuffled", type=int, default=0, metavar="N",
                        help="the shuffled rows: the pass in N random orders instead of the file's (0 to skip them)")
    parser.add_argument("--skip-peers", action="store_true")
    parser.add_argument("--errors", type=int, default=0, metavar="N",
                        help="print the N worst wrong merges and splits of each set's first row")
    args = parser.parse_args()

    encoder = cached_encoder()
    sets = {n: prepare_set(n, encoder) for n in DEV_SETS}
    tables = {n: pair_table(docs) for n, docs in sets.items()}
    shipped = None
    for name in args.sets + args.held_out:
        held_out = name not in DEV_SETS
        docs = prepare_set(name, encoder) if held_out else sets[name]
        gold = [d.event for d in docs]
        print(f"\n### {name} ({len(docs)} articles, {len(set(gold))} stories{', held out' if held_out else ''})\n")
        print("| method | B3 P | B3 R | B3 F1 | pair F1 | ARI | note |")
        print("|---|---|---|---|---|---|---|")
        if held_out:
            shipped = shipped or fit(list(tables.values()), version="all-dev-sets")
            run = partial(one_pass, docs, [0] * len(docs), {0: shipped}, encoder)
            label, note = "storyclust (held out)", "one pass, scorer trained on all dev sets"
        else:
            run = partial(storyclust_oof, name, sets, tables, args.folds, encoder)
            label, note = "storyclust (out-of-fold)", f"one pass, {args.folds} folds by topic"
        m, online, seconds = run(error_limit=args.errors)
        print(row(label, m, f"{note}, then the repair; ingest and repair {seconds:.0f} s"), flush=True)
        print(row(f"{label}, online only", online, "as the API answers: no repair (`cluster --online`)"), flush=True)
        if args.errors:
            print("\nWorst errors of the first row, by the B3 precision (merges) or recall (splits) each costs:\n")
            print_errors(m["errors"])
            print()
        if args.one_day:
            m, _, _ = run(args.one_day)
            print(row(f"{label}, all dated {args.one_day}", m, "robustness: a day's feed"), flush=True)
        if args.one_year:
            m, _, _ = run(year=args.one_year)
            print(row(f"{label}, all ending '(c) {args.one_year}'", m, "robustness: one year named everywhere"), flush=True)
        if args.footer_share:
            m, _, _ = run(footer_share=args.footer_share)
            print(row(f"{label}, {args.footer_share:.0%} ending with an AP footer", m,
                      "robustness: boilerplate on part of the feed"), flush=True)
        if args.untitled:
            m, online, _ = run(untitled=True)
            print(row(f"{label}, no titles", m, f"robustness: bodies only (online only {online['b3_f1']:.3f})"), flush=True)
        if args.chrome_outlets:
            m, online, _ = run(outlets=args.chrome_outlets)
            print(row(f"{label}, chrome of {args.chrome_outlets} outlets", m,
                      f"robustness: each site's paywall lines (online only {online['b3_f1']:.3f})"), flush=True)
        if args.shuffled:
            runs = [run(shuffle_seed=seed) for seed in range(args.shuffled)]
            for k, what in ((0, ""), (1, ", online only")):
                f1 = [r[k]["b3_f1"] for r in runs]
                mean = {key: float(np.mean([r[k][key] for r in runs]))
                        for key in ("b3_precision", "b3_recall", "b3_f1", "pair_f1", "ari")}
                print(row(f"{label}, shuffled{what}", mean, f"robustness: stories interleaved; mean of "
                          f"{len(runs)} random orders (B3 F1 {min(f1):.3f}-{max(f1):.3f})"), flush=True)
        if args.pool_topics and not held_out:
            pools = pooled(name, sets, tables, args.pool_topics, args.pools, encoder)
            mean = {k: float(np.mean([p[k] for p in pools])) for k in ("b3_precision", "b3_recall", "b3_f1", "pair_f1", "ari")}
            print(row(f"storyclust, pools of {args.pool_topics} held-out topics", mean,
                      f"mean of {len(pools)} pools (B3 F1 " + " / ".join(f"{p['b3_f1']:.3f}" for p in pools)
                      + f", {np.mean([p['articles'] for p in pools]):.0f} articles each)"), flush=True)
        if args.skip_peers:
            continue
        vectors = np.stack([d.embedding for d in docs])
        sim = vectors @ vectors.T
        t, m = best_over_grid(gold, lambda t: single_pass(sim, t))
        print(row("model cosine, single pass", m, f"best threshold {t:.2f}"))
        tree = linkage(squareform(np.clip(1.0 - sim, 0, None), checks=False), method="average")
        t, m = best_over_grid(gold, lambda t: average_linkage(sim, t, tree))
        print(row("model cosine, average linkage", m, f"best threshold {t:.2f}"))
        sigs = np.stack([d.signature for d in docs])
        jac = np.stack([(sigs == s).mean(axis=1) for s in sigs])
        t, m = best_over_grid(gold, lambda t: single_pass(jac, t) if t < 0.9 else list(range(len(docs))))
        print(row("MinHash Jaccard, single pass", m, f"best threshold {t:.2f}"), flush=True)


if __name__ == "__main__":
    main()

"""The seeds posted into a store that already holds other news, against a store of their own.

    .venv/bin/python bench/seeds_background.py [--sizes 0 5 15 50 500 2000] [--set allsides-train]
    .venv/bin/python bench/seeds_background.py --orders [--raw] [--online-thresholds 0.5 0.55 --job-thresholds 0.15 0.17]

With ``--orders`` it posts the seeds alone, in each of their 120 orders, and counts the orders
whose answers are all 10 pairs right, online and after the repair. With ``--raw`` each seed is
posted as its file's text, "date 2025-04-11" marker and all, without a published_at (as a
caller that does not know the seeds' format would post them; ``dateline.py`` dates it). With
``--online-thresholds`` and/or ``--job-thresholds`` it counts them at every pair of those
thresholds: the window a refitted scorer leaves the seeds (a feature that lifts every pair
without evidence lifts the seeds' pairs too, and the lowest thresholds that keep them move up;
``docs/accuracy.md``, lead figures).

The seeds (five Iran-Iraq reports, one pair of them one meeting) are decided by rare shared
names, terms and sentences, and rarity is counted over the store. Alone, the five share
Pezeshkian, Iran, Iraq and Tehran among themselves, so those names weigh little; behind other
news they are rare, and every pair shares them. This bench posts the first N articles of a dev
set (``--set``; unrelated to the seeds), then the seeds one by one in file order, and prints
for each N: how many of the seeds' 10 pairs the online answers get right, how many after the
repair (`storyclust cluster`'s end), and the online story scores of 002 (its best earlier
story: 000's or 001's, other events) and of 003 (002's, the same meeting); the online
threshold is 0.5.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from itertools import combinations, permutations
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from storyclust.article import ArticleError, parse_article  # noqa: E402
from storyclust.config import Settings  # noqa: E402
from storyclust.embedding import encoder_for  # noqa: E402
from storyclust.engine import Engine  # noqa: E402
from storyclust.recluster import repair_articles  # noqa: E402
from storyclust.seeds import load_gold, load_raw_seeds, load_seeds  # noqa: E402
from training.corpus import load_set  # noqa: E402


def pairs_right(gold: dict[str, str], cluster: dict[str, str]) -> int:
    return sum((gold[a] == gold[b]) == (cluster[a] == cluster[b]) for a, b in combinations(sorted(gold), 2))


def decide(engine: Engine, seeds: list[dict], gold: dict[str, str]) -> tuple[dict[str, str], dict[str, str], dict[str, float]]:
    """The seeds posted one by one: their online stories, their stories after the repair, and
    their online scores (by the id's first three characters)."""
    online, scores = {}, {}
    for seed in seeds:
        decision = engine.ingest([parse_article(seed)])[0]
        online[decision.id], scores[decision.id[:3]] = decision.cluster_id, decision.score
    report = repair_articles(engine, list(online))
    return online, {line["id"]: line["cluster_id"] for line in report.lines if line["id"] in gold}, scores


def orders(encoder, seeds: list[dict], gold: dict[str, str], online_threshold: float | None = None,
           job_threshold: float | None = None) -> tuple[int, int]:
    """Of the 120 posting orders, how many have all 10 pairs right online and after the repair,
    at these thresholds (None: as configured, by default the scorer artifact's)."""
    right = {"online": 0, "repaired": 0}
    chosen = {"same_story_threshold": online_threshold, "recluster_threshold": job_threshold}
    settings = {k: v for k, v in chosen.items() if v is not None}  # unset: the environment's, else the artifact's
    for order in permutations(seeds):
        with tempfile.TemporaryDirectory() as directory:
            engine = Engine(Settings(data_dir=Path(directory), **settings), encoder=encoder)
            try:
                online, repaired, _ = decide(engine, list(order), gold)
            finally:
                engine.store.close()
        right["online"] += pairs_right(gold, online) == 10
        right["repaired"] += pairs_right(gold, repaired) == 10
    return right["online"], right["repaired"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[0, 5, 15, 50, 500, 2000])
    parser.add_argument("--set", default="allsides-train")
    parser.add_argument("--orders", action="store_true", help="the seeds alone, in every order")
    parser.add_argument("--raw", action="store_true", help="post each seed file's text as it is, with no published_at")
    parser.add_argument("--online-thresholds", type=float, nargs="+",
                        help="with --orders: the online thresholds to try (default: the scorer artifact's)")
    parser.add_argument("--job-thresholds", type=float, nargs="+",
                        help="with --orders: the repair's thresholds to try (default: the scorer artifact's)")
    args = parser.parse_args()
    encoder = encoder_for(Settings())
    seeds, gold = load_seeds(), load_gold()
    if args.raw:
        seeds = load_raw_seeds()
    if args.orders:
        online_grid, job_grid = args.online_thresholds or [None], args.job_thresholds or [None]
        if online_grid == [None] and job_grid == [None]:
            online, repaired = orders(encoder, seeds, gold)
            print(f"seeds alone, every order: all 10 pairs right in {online} of 120 orders online, "
                  f"{repaired} of 120 after the repair")
            return 0
        print("| online threshold | job threshold | orders right online | after the repair |")
        print("|---|---|---|---|")
        for online_threshold in online_grid:
            for job_threshold in job_grid:
                online, repaired = orders(encoder, seeds, gold, online_threshold, job_threshold)
                shown = ["as configured" if t is None else t for t in (online_threshold, job_threshold)]
                print(f"| {shown[0]} | {shown[1]} | {online} of 120 | {repaired} of 120 |", flush=True)
        return 0
    background = []
    for row in load_set(args.set):
        try:
            background.append(parse_article(row))
        except ArticleError:
            continue
    print(f"background: the first N articles of {args.set}; seeds posted after them, in file order")
    print("| N | pairs right, online | after the repair | 002's online score (other events) | 003's (its own meeting) |")
    print("|---|---|---|---|---|")
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as directory:
            engine = Engine(Settings(data_dir=Path(directory)), encoder=encoder)
            try:
                for start in range(0, min(size, len(background)), 64):
                    engine.ingest(background[start:min(start + 64, size)])
                online, repaired, scores = decide(engine, seeds, gold)
            finally:
                engine.store.close()
        print(f"| {min(size, len(background))} | {pairs_right(gold, online)} of 10 | {pairs_right(gold, repaired)} of 10 "
              f"| {scores['002']:.3f} | {scores['003']:.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Retention speed: `storyclust expire` over a store of 100k articles, against deleting one by one.

    .venv/bin/python bench/expire.py [--size 100000] [--share 0.5] [--naive 1000] [--runs 3]

The store is ``bench/recluster.py``'s synthetic one (real profiles, planted stories, 3,000
articles a day; built once under ``--workdir`` and reused). Each run copies it, opens the real
Engine over the copy (its FAISS partitions and LSH index built at start), and times:

- ``expire``: the oldest ``--share`` of the store (by publication time) removed in batches of
  ``retention.EXPIRE_BATCH``, one transaction each; and how long each batch held the engine
  lock, which is how long a post may wait behind it;
- the naive alternative in the same run: ``Engine.delete`` of ``--naive`` of the next oldest
  articles one by one (a transaction and a FAISS partition scan each), as a client calling
  ``DELETE /articles/{id}`` for every expired article would.

Printed: articles a second for both, their ratio, and the batches' lock time (median, max).
Medians over ``--runs`` runs; the machine is shared, so read the ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "service"))
sys.path.insert(0, str(ROOT / "bench"))

from recluster import copy_store, ensure_store  # noqa: E402

from storyclust.config import Settings  # noqa: E402
from storyclust.retention import EXPIRE_BATCH  # noqa: E402


def one_run(source: Path, target: Path, share: float, naive: int) -> dict:
    from storyclust.embedding import encoder_for
    from storyclust.engine import Engine
    from storyclust.retention import expire

    copy_store(source, target)
    settings = Settings(data_dir=target, fsync=True)
    engine = Engine(settings, encoder=encoder_for(settings))
    try:
        times = [t for (t,) in engine.store.reader().execute(
            "SELECT COALESCE(published_ts, ingested_at) FROM articles ORDER BY 1")]
        cutoff_ts = times[int(len(times) * share)]
        cutoff = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(cutoff_ts))
        batches: list[float] = []
        last = [time.perf_counter()]

        def lap(_: int) -> None:  # called right after each batch's commit
            now = time.perf_counter()
            batches.append(now - last[0])
            last[0] = now

        started = time.perf_counter()
        report = expire(engine, cutoff, progress=lap)
        expire_s = time.perf_counter() - started
        ids = [i for (i,) in engine.store.reader().execute(
            "SELECT id FROM articles ORDER BY COALESCE(published_ts, ingested_at) LIMIT ?", (naive,))]
        started = time.perf_counter()
        for article_id in ids:
            engine.delete(article_id)
        naive_s = time.perf_counter() - started
        assert engine.indexes_match_store()
        return {"expired": report.articles, "expire_s": round(expire_s, 2),
                "expire_per_s": round(report.articles / expire_s), "naive_deleted": len(ids),
                "naive_per_s": round(len(ids) / naive_s), "batch_median_s": round(statistics.median(batches), 3),
                "batch_max_s": round(max(batches), 3)}
    finally:
        engine.store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=3000.0, help="articles per day (as bench/recluster.py)")
    parser.add_argument("--share", type=float, default=0.5, help="share of the store expired")
    parser.add_argument("--naive", type=int, default=1000, help="articles deleted one by one in each run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/storyclust-recluster-bench"))
    args = parser.parse_args()
    source = ensure_store(args.workdir, args.size, args.rate)
    runs = []
    for k in range(args.runs):
        runs.append(one_run(source, args.workdir / "expire-run", args.share, args.naive))
        print(json.dumps(runs[-1]), file=sys.stderr, flush=True)
    median = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    print(f"store of {args.size:,}; expired {median['expired']:,.0f} (the oldest {args.share:.0%}); medians of {len(runs)} runs")
    print(f"expire (batches of {EXPIRE_BATCH}):  {median['expire_per_s']:,.0f} articles/s ({median['expire_s']:.1f} s); "
          f"a batch took {median['batch_median_s'] * 1000:.0f} ms (median), {median['batch_max_s'] * 1000:.0f} ms (max)")
    print(f"naive (DELETE one by one): {median['naive_per_s']:,.0f} articles/s")
    print(f"ratio: expire is {median['expire_per_s'] / median['naive_per_s']:.1f}x the naive rate")
    return 0


if __name__ == "__main__":
    sys.exit(main())

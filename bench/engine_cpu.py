"""The engine's own cost per article, without the model: `Engine.ingest` of AllSides articles
whose vectors were computed beforehand (from the embedding cache of training/corpus.py).

    .venv/bin/python bench/engine_cpu.py [--limit 3000] [--runs 3]

This is the work `storyclust cluster` must fit beside the model (bench/speed.py): validation
aside, hashing, MinHash/LSH, profiles, candidates, pair scorer, SQLite with fsync, FAISS. The
model keeps both cores busy, so this CPU adds to the wall time nearly one for one. Printed: wall
and CPU milliseconds per article for each run, and the medians. The naive alternative of
bench/speed.py has no such work, so there is no ratio here; compare commits with it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from storyclust.article import parse_article  # noqa: E402
from storyclust.config import Settings  # noqa: E402
from storyclust.engine import Engine, embed_text  # noqa: E402
from training.corpus import cached_encoder, load_set  # noqa: E402

CHUNK = 128  # as `storyclust cluster`


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    articles = [parse_article(row) for row in load_set("allsides-train")[: args.limit]]
    settings = Settings()
    encoder = cached_encoder(settings)
    texts = [embed_text(a, settings.max_seq_length) for a in articles]
    encoder.preload(texts, "allsides-train")
    vectors = encoder.encode(texts)
    walls, cpus = [], []
    for run in range(1, args.runs + 1):
        with tempfile.TemporaryDirectory() as tmp:
            engine = Engine(Settings(data_dir=Path(tmp)), encoder=encoder)
            wall, cpu = time.perf_counter(), time.process_time()
            for start in range(0, len(articles), CHUNK):
                engine.ingest(articles[start:start + CHUNK], embeddings=vectors[start:start + CHUNK])
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            engine.store.close()
        walls.append(wall * 1000 / len(articles))
        cpus.append(cpu * 1000 / len(articles))
        print(f"run {run}: {walls[-1]:.2f} ms wall, {cpus[-1]:.2f} ms CPU per article", flush=True)
    print(f"median over {len(articles)} articles: {statistics.median(walls):.2f} ms wall, "
          f"{statistics.median(cpus):.2f} ms CPU per article")


if __name__ == "__main__":
    main()

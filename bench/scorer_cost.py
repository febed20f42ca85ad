"""What the pair scorer adds to ingest wall time over the foundation (target: at most 15 %).

    flock /tmp/storyclust-bench.lock .venv/bin/python bench/scorer_cost.py [--data FILE.jsonl] [--limit 400] [--runs 5]

Both engines ingest the same articles, in file order, in batches of the CLI's size, into a fresh
data directory, in the same process (model loaded once), alternated A B A B ...:

- A, storyclust: the real :class:`~storyclust.engine.Engine` (profiles of every article, sentence
  alignment, pair features and the logistic scorer against each candidate and story member);
- B, foundation: the same engine with the scorer taken out: no event profile is built (a one-term
  stub keeps the "has words" check), and a candidate's same-story score is its embedding cosine
  (threshold 0.6, the naive peer's), so exact/near-duplicate detection, FAISS/LSH search, SQLite
  writes with fsync and story completion are all still paid.

Wall time includes the embedding model (encoded afresh in every run: the product pays for it on
every article). Printed: each pair of wall times, the medians and the median of the per-pair
ratios A/B; also the same ratio for the non-model part (wall time minus the encoder's own time in
that run), which is what the scorer costs against the engine's own work. The machine is shared:
read medians and ratios, not single runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from storyclust.article import ArticleError, parse_article  # noqa: E402
from storyclust.cli import CHUNK  # noqa: E402
from storyclust.config import Settings  # noqa: E402
from storyclust.embedding import encoder_for  # noqa: E402
from storyclust.engine import Engine, Prepared  # noqa: E402
from storyclust.features import FEATURES  # noqa: E402
from storyclust.profile import Profile  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "ecbplus-dev" / "articles.jsonl"
_STUB = Profile(frozenset(), frozenset(), frozenset(), frozenset({"-"}), frozenset())


class TimedEncoder:
    """Wraps the encoder and adds up the seconds spent in it."""

    def __init__(self, encoder) -> None:
        self.encoder, self.dim, self.name = encoder, encoder.dim, encoder.name
        self.seconds = 0.0

    def encode(self, texts):
        started = time.perf_counter()
        try:
            return self.encoder.encode(texts)
        finally:
            self.seconds += time.perf_counter() - started


class FoundationEngine(Engine):
    """The engine without the pair scorer: no profiles, cosine decides same-story."""

    COSINE_THRESHOLD = 0.6

    def __init__(self, settings: Settings, encoder=None) -> None:
        super().__init__(settings, encoder)
        self.threshold = self.COSINE_THRESHOLD

    def prepare(self, articles, timings=None, embeddings=None):
        from storyclust import minhash
        from storyclust.language import article_language
        from storyclust.normalize import content_hash, lead_hash
        from storyclust.engine import embed_text

        if not articles:
            return []
        if embeddings is None:
            embeddings = self.encoder.encode([embed_text(a, self.settings.max_seq_length) for a in articles])
        sigs, sizes = minhash.signatures([a.text for a in articles], self.settings.num_perm,
                                         self.settings.shingle_size)
        band_keys = self.lsh.band_keys(sigs)
        return [Prepared(a, article_language(a), content_hash(a.text), lead_hash(a.text), sigs[i],
                         int(sizes[i]), embeddings[i], _STUB, a.published_ts, band_keys[i])
                for i, a in enumerate(articles)]

    def _pair_scores(self, p, candidates, cosine_of):
        scores = np.array([cosine_of[c.rowid] for c in candidates], dtype=float)
        return scores, [[s] + [0.0] * (len(FEATURES) - 1) for s in scores.tolist()]


def load(path: Path, limit: int) -> list:
    articles = []
    for line in path.open(encoding="utf-8"):
        try:
            articles.append(parse_article(json.loads(line)))
        except (json.JSONDecodeError, ArticleError):
            continue
        if len(articles) >= limit:
            break
    return articles


def ingest(engine_cls, articles, encoder) -> tuple[float, float, int]:
    """(wall seconds, encoder seconds, stories) for one fresh ingest of ``articles``."""
    with tempfile.TemporaryDirectory() as tmp:
        engine = engine_cls(Settings(data_dir=Path(tmp)), encoder=encoder)
        encoder.seconds = 0.0
        started = time.perf_counter()
        clusters = set()
        for start in range(0, len(articles), CHUNK):
            clusters.update(d.cluster_id for d in engine.ingest(articles[start:start + CHUNK]))
        wall = time.perf_counter() - started
        engine.store.close()
        return wall, encoder.seconds, len(clusters)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=400)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    s = Settings()
    encoder = TimedEncoder(encoder_for(s))
    articles = load(args.data, args.limit)
    encoder.encode(["warm up"])
    print(f"{len(articles)} articles from {args.data}, {args.runs} alternated runs each")
    ratios, nonmodel, walls = [], [], {"A": [], "B": []}
    for run in range(args.runs):
        a_wall, a_model, a_stories = ingest(Engine, articles, encoder)
        b_wall, b_model, b_stories = ingest(FoundationEngine, articles, encoder)
        walls["A"].append(a_wall)
        walls["B"].append(b_wall)
        ratios.append(a_wall / b_wall)
        nonmodel.append((a_wall - a_model) / max(b_wall - b_model, 1e-9))
        print(f"run {run + 1}: storyclust {a_wall:.1f} s (model {a_model:.1f}, {a_stories} stories), "
              f"foundation {b_wall:.1f} s (model {b_model:.1f}, {b_stories} stories), "
              f"ratio {ratios[-1]:.3f}, non-model ratio {nonmodel[-1]:.2f}", flush=True)
    print(f"median wall: storyclust {statistics.median(walls['A']):.1f} s, "
          f"foundation {statistics.median(walls['B']):.1f} s")
    print(f"median ratio storyclust/foundation: {statistics.median(ratios):.3f} (target <= 1.15); "
          f"non-model part: {statistics.median(nonmodel):.2f}x")


if __name__ == "__main__":
    main()

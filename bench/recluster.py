"""Scale bench of the nightly re-clustering job, and RAM per stored article of the service.

    .venv/bin/python bench/recluster.py [--sizes 100000 300000 1000000] [--repeats 3]
                                        [--workdir /tmp/storyclust-recluster-bench] [--memory]

For each size it builds a store (once; reused while the generation parameters are unchanged),
then, per repeat, copies it and runs ``run_recluster`` on the copy in a fresh process, recording
wall time per stage, peak RSS, B3 F1 against the planted events before and after, and id
stability. ``--memory`` also measures the RSS of an Engine over the store minus an empty Engine.

The stores are synthetic but built from real parts, and no model runs: events are planted with
a topic structure in embedding space (members of one event cos ~0.75, of two events of one topic
~0.45, unrelated ~0), each member's profile is a random 75% of the profile of a real dev article
(../shared/data, read at run time) plus an event-specific name, signatures share 20% of slots
within an event and ~90% with a planted copy (12% of articles are exact or near duplicates).
One event in 500 is a big story (100-300 reports). Articles arrive at ``--rate`` per day, so a larger store spans more days at the same density.
The "online" assignment to repair is the planted events with planted errors: 6% of larger
events split, 3% merged with an earlier event of their topic, 4% of articles left alone.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "service"))

from storyclust.config import PROJECT_ROOT, Settings  # noqa: E402

SHARED = Path(os.environ.get("STORYCLUST_SHARED", PROJECT_ROOT.parent / "shared"))
DIM = 384
GENERATOR_VERSION = "4"  # bump when the generated data changes, so stale stores are rebuilt
KEEP = 0.75              # share of a base profile's items each member keeps
DUPLICATE_SHARE = 0.12


# ---------------------------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------------------------
def base_profiles() -> list[dict]:
    """Profiles (JSON form) of every article of the dev sets: the raw material of members."""
    from storyclust.article import parse_article
    from storyclust.language import article_language
    from storyclust.profile import build_profile

    out = []
    for path in sorted((SHARED / "data").glob("*/articles.jsonl")):
        for line in path.open(encoding="utf-8"):
            if line.strip():
                row = json.loads(line)
                if row.get("text", "").strip():
                    language = article_language(parse_article(row))  # as the engine reads it
                    out.append(build_profile(row.get("title"), row["text"], language).to_json())
    return out


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def event_sizes(n: int, rng: np.random.Generator) -> np.ndarray:
    """Originals per event: 40% singletons, a long tail (mean ~4.5, at most 60), and one
    event in 500 a big story of 100 to 300 reports."""
    sizes = []
    total = 0
    while total < n:
        if rng.random() < 0.002:
            s = int(rng.integers(100, 301))
        else:
            s = 1 if rng.random() < 0.4 else int(min(60, 2 + rng.geometric(0.22)))
        sizes.append(s)
        total += s
    sizes[-1] -= total - n
    return np.array([s for s in sizes if s > 0])


def perturb(profile: dict, tag: str, rng: np.random.Generator) -> dict:
    out = {}
    for key in ("entities", "numbers", "years", "terms", "title_terms"):
        values = profile.get(key, [])
        keep = rng.random(len(values)) < KEEP
        out[key] = [v for v, k in zip(values, keep) if k]
    out["entities"] = sorted(out["entities"] + [tag])
    out["terms"] = sorted(out["terms"] + [tag])
    sentences = profile.get("sentences", [])
    keep = rng.random(len(sentences)) < KEEP
    out["sentences"] = [s for s, k in zip(sentences, keep) if k]
    return out


def generate(data_dir: Path, n: int, rate: float, seed: int = 0) -> None:
    """Write a store of ``n`` articles (originals + duplicates) and its gold events."""
    from storyclust.embedding import default_model_path
    from storyclust.store import TERM_DF_UPTO, Store

    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    settings = Settings()
    bases = base_profiles()
    originals = int(n * (1 - DUPLICATE_SHARE))
    sizes = event_sizes(originals, rng)
    events = len(sizes)
    topics = max(1, events // 25)
    span = n / rate * 86400.0
    t0 = 1.7e9

    topic_vec = unit(rng.standard_normal((topics, DIM)))
    event_topic = rng.integers(0, topics, events)
    event_vec = unit(np.sqrt(0.6) * topic_vec[event_topic] + np.sqrt(0.4) * unit(rng.standard_normal((events, DIM))))
    event_time = np.sort(rng.uniform(0, span, events))
    event_base = rng.integers(0, len(bases), events)
    event_sig = rng.integers(0, 2**32, (events, settings.num_perm), dtype=np.uint64).astype(np.uint32)

    # Originals.
    event_of = np.repeat(np.arange(events), sizes)
    vectors = unit(np.sqrt(0.75) * event_vec[event_of] + np.sqrt(0.25) * unit(rng.standard_normal((originals, DIM))))
    when = event_time[event_of] + np.clip(rng.normal(0, 86400.0, originals), -3 * 86400.0, 3 * 86400.0)
    sigs = event_sig[event_of].copy()
    fresh = rng.random(sigs.shape) < 0.8
    sigs[fresh] = rng.integers(0, 2**32, int(fresh.sum()), dtype=np.uint64).astype(np.uint32)
    # Duplicates: copies of random originals, published up to a day later.
    dups = n - originals
    copied = rng.integers(0, originals, dups)
    near = rng.random(dups) < 0.7
    dup_vec = unit(vectors[copied] + 0.05 * rng.standard_normal((dups, DIM)).astype(np.float32))
    dup_sig = sigs[copied].copy()
    edit = (rng.random(dup_sig.shape) < 0.1) & near[:, None]
    dup_sig[edit] = rng.integers(0, 2**32, int(edit.sum()), dtype=np.uint64).astype(np.uint32)
    dup_when = when[copied] + rng.uniform(600, 86400, dups)

    is_dup = np.r_[np.zeros(originals, bool), np.ones(dups, bool)]
    event_all = np.r_[event_of, event_of[copied]]
    when_all = np.r_[when, dup_when] + t0
    order = np.argsort(when_all, kind="stable")  # rowid order = arrival order
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)
    ids = [f"a{position[i]:08d}" for i in range(n)]

    online = planted_online(event_all, is_dup, order, event_topic, event_time, rng)
    cluster_name: dict[int, str] = {}
    first_seen: dict[int, int] = {}
    for i in order.tolist():
        if not is_dup[i]:
            first_seen.setdefault(int(online[i]), i)
    for c, i in first_seen.items():
        cluster_name[c] = "s-" + hashlib.sha1(ids[i].encode()).hexdigest()[:16]

    # term_df: each base profile's terms, counted once per member that uses it (x KEEP).
    from storyclust.profile import Profile

    usage = Counter(event_base[event_all].tolist())
    df: Counter = Counter()
    for b, count in usage.items():
        for term in Profile.from_json(bases[b]).all_terms():
            df[term] += count
    df = Counter({t: max(1, int(c * KEEP)) for t, c in df.items()})
    for e, count in Counter(event_all.tolist()).items():
        df[f"evt{e}"] = count

    if data_dir.exists():
        shutil.rmtree(data_dir)
    store = Store(data_dir)
    store.bind("model", os.path.basename(os.path.normpath(default_model_path())))
    store.bind("dim", str(DIM))
    store.bind("num_perm", str(settings.num_perm))
    store.bind("shingle_size", str(settings.shingle_size))
    db = store.db
    db.execute("PRAGMA synchronous=OFF")  # a bench store: speed over durability
    db.execute("BEGIN")
    seen_first: set[int] = set()
    profile_json: dict[int, str] = {}  # original -> its stored profile, which its copies share
    batch = []
    created: dict[str, list[float]] = {}
    gold = []
    for i in order.tolist():
        event = int(event_all[i])
        if is_dup[i]:
            d = i - originals
            original = int(copied[d])
            cid = cluster_name[int(online[original])]
            relation, dup_of = ("near_duplicate" if near[d] else "exact_duplicate"), ids[original]
            vec, sig, profile = dup_vec[d], dup_sig[d], profile_json[original]
            content, score = (ids[i] if near[d] else ids[original]), (0.9 if near[d] else 1.0)
        else:
            c = int(online[i])
            cid = cluster_name[c]
            relation = "same_story" if c in seen_first else "new_story"
            seen_first.add(c)
            dup_of = None
            profile = profile_json[i] = json.dumps(perturb(bases[event_base[event]], f"evt{event}", rng))
            vec, sig, content, score = vectors[i], sigs[i], ids[i], 0.7
        ts = float(when_all[i])
        batch.append((int(position[i]) + 1, ids[i], hashlib.md5(ids[i].encode()).hexdigest(), f"title {ids[i]}",
                      f"text {ids[i]}", None, ts, "en", f"source{event % 50}", None,
                      hashlib.sha1(content.encode()).hexdigest(), int(rng.integers(50, 500)),
                      sig.astype(np.uint32).tobytes(), vec.astype(np.float32).tobytes(), profile,
                      cid, relation, dup_of, score, None, ts + 60.0))
        span_of = created.setdefault(cid, [ts + 60.0, ts + 60.0])
        span_of[1] = ts + 60.0
        gold.append((ids[i], f"e{event}"))
        if len(batch) >= 10_000:
            write_rows(db, batch)
            batch = []
    write_rows(db, batch)
    db.executemany("INSERT INTO clusters(cluster_id, created_at, updated_at) VALUES(?, ?, ?)",
                   ((c, a, b) for c, (a, b) in created.items()))
    db.executemany("INSERT INTO term_df(term, df) VALUES(?, ?)", df.items())
    db.execute("UPDATE meta SET value=? WHERE key=?", (str(n), TERM_DF_UPTO))  # every row is counted
    db.execute("COMMIT")
    store.close()
    with open(data_dir / "gold.jsonl", "w") as out:
        for article_id, event in gold:
            out.write(json.dumps({"id": article_id, "event_id": event}) + "\n")
    (data_dir / "bench.json").write_text(json.dumps({
        "version": GENERATOR_VERSION, "articles": n, "rate": rate, "seed": seed, "events": events,
        "days": round(span / 86400, 1), "generate_s": round(time.perf_counter() - started, 1)}))


def write_rows(db, rows: list) -> None:
    db.executemany(
        "INSERT INTO articles(rowid, id, fingerprint, title, text, published_at, published_ts, lang, source, url, "
        "content_hash, shingles, signature, embedding, profile, cluster_id, relation, duplicate_of, score, "
        "evidence, ingested_at) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)


def planted_online(event_all: np.ndarray, is_dup: np.ndarray, order: np.ndarray, event_topic: np.ndarray,
                   event_time: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The online pass to repair: planted events with planted splits, merges and strays.
    Returns a cluster number per article (duplicates take their original's later)."""
    events = len(event_topic)
    online = event_all.copy()
    next_id = events
    members: dict[int, list[int]] = {}
    for i in order.tolist():
        if not is_dup[i]:
            members.setdefault(int(event_all[i]), []).append(i)
    last_of_topic: dict[int, int] = {}
    for e in np.argsort(event_time).tolist():
        group = members.get(e, [])
        topic = int(event_topic[e])
        if len(group) >= 4 and rng.random() < 0.06:        # split: a later third goes apart
            for i in group[len(group) - len(group) // 3:]:
                online[i] = next_id
            next_id += 1
        elif topic in last_of_topic and rng.random() < 0.03:  # merged into the topic's previous event
            for i in group:
                online[i] = online[members[last_of_topic[topic]][0]]
        last_of_topic[topic] = e
    strays = (rng.random(len(online)) < 0.04) & ~is_dup
    online[strays] = next_id + np.arange(int(strays.sum()))
    return online


# ---------------------------------------------------------------------------------------------
# Measurement (each in a fresh process)
# ---------------------------------------------------------------------------------------------
class PeakRSS:
    """Peak resident memory of this process, sampled every 50 ms."""

    def __init__(self) -> None:
        import psutil

        self._process = psutil.Process()
        self.peak = self._process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def __enter__(self) -> "PeakRSS":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)


def measure_job(data_dir: Path) -> dict:
    """Run the job on an engine over the store, score it against the planted events.

    The engine is opened without its FAISS and LSH indexes, which the job never reads (it
    reads the stored vectors itself): at 1M articles they would take ~15 GB and minutes to
    build before the job starts (see ``--memory``)."""
    import psutil

    from storyclust.embedding import encoder_for
    from storyclust.engine import Engine
    from storyclust.evaluation import read_labels, score
    from storyclust.lsh_index import LSHIndex
    from storyclust.recluster import id_stability, run_recluster
    from storyclust.vector_index import VectorIndex

    class JobEngine(Engine):
        def _load_indexes(self, at_start_up: bool = False):
            return VectorIndex(self.encoder.dim), LSHIndex(self.settings.num_perm, self.settings.lsh_threshold)

    process = psutil.Process()
    settings = Settings(data_dir=data_dir)
    encoder = encoder_for(settings)
    rss_encoder = process.memory_info().rss
    started = time.perf_counter()
    engine = JobEngine(settings, encoder=encoder)
    open_s = time.perf_counter() - started
    before = dict(engine.store.reader().execute("SELECT id, cluster_id FROM articles"))
    rss_engine = process.memory_info().rss
    with PeakRSS() as peak:
        started, cpu = time.perf_counter(), time.process_time()
        report = run_recluster(engine)
        job_s, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    gold = read_labels(data_dir / "gold.jsonl", "event_id")
    after = {line["id"]: line["cluster_id"] for line in report.lines}
    common = list(gold)
    summary = report.summary()
    return {
        "articles": len(after), "engine_open_s": round(open_s, 1), "job_s": round(job_s, 1),
        "job_cpu_s": round(cpu_s, 1),
        "stages_s": summary["timings"], "graph": summary["graph"], "counts": summary["counts"],
        "rss_engine_mb": round((rss_engine - rss_encoder) / 2**20), "peak_job_rss_mb": round(peak.peak / 2**20),
        "job_extra_rss_mb": round((peak.peak - rss_engine) / 2**20),
        "b3_f1_online": round(score([gold[i] for i in common], [before[i] for i in common])["b3_f1"], 4),
        "b3_f1_recluster": round(score([gold[i] for i in common], [after[i] for i in common])["b3_f1"], 4),
        "id_stability": id_stability(before, after, report.aliases()),
        "load_avg": os.getloadavg(),
    }


MEMORY_PARTS = ("engine", "term_stats", "faiss", "lsh")


def trim() -> None:
    """Collect garbage and hand freed heap pages back to the OS (glibc ``malloc_trim``), so that
    RSS counts what is held, not the high-water mark of temporary buffers (SQLite rows, NumPy
    chunks) that the allocator kept for reuse."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:  # not glibc: RSS then includes retained free memory
        pass


def measure_memory(data_dir: Path, part: str) -> float:
    """MB of RSS that one in-memory structure over this store adds to a process that has
    loaded the encoder: the whole Engine, or one of its parts built alone (each in its own
    process, so that memory freed by one is not counted against another)."""
    import psutil

    from storyclust.embedding import encoder_for
    from storyclust.engine import Engine
    from storyclust.lsh_index import LSHIndex
    from storyclust.store import Store
    from storyclust.term_stats import TermStats
    from storyclust.vector_index import VectorIndex, span_for_window

    settings = Settings(data_dir=data_dir)
    encoder = encoder_for(settings)
    store = Store(data_dir)
    trim()
    rss = psutil.Process().memory_info().rss
    if part == "engine":
        kept = Engine(settings, encoder=encoder)
    elif part == "term_stats":
        kept = TermStats(*store.term_df())
    else:
        kept = (VectorIndex(encoder.dim, span_for_window(settings.time_window_seconds)) if part == "faiss"
                else LSHIndex(settings.num_perm, settings.lsh_threshold))
        for ids, embeddings, signatures, published in store.iter_vectors(encoder.dim, settings.num_perm):
            if part == "faiss":
                kept.add(ids, embeddings, published)
            else:
                kept.add_many(zip(ids.tolist(), signatures))
    trim()
    grown = psutil.Process().memory_info().rss - rss
    del kept
    return round(grown / 2**20, 1)


def run_child(mode: str, data_dir: Path):
    out = subprocess.run([sys.executable, __file__, "--child", mode, "--data-dir", str(data_dir)],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{mode} on {data_dir} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def ensure_store(workdir: Path, n: int, rate: float) -> Path:
    data_dir = workdir / f"n{n}"
    marker = data_dir / "bench.json"
    if marker.exists():
        info = json.loads(marker.read_text())
        if info.get("version") == GENERATOR_VERSION and info.get("rate") == rate:
            return data_dir
    print(f"generating {n} articles in {data_dir} ...", file=sys.stderr)
    generate(data_dir, n, rate)
    print(f"  {marker.read_text()}", file=sys.stderr)
    return data_dir


def copy_store(source: Path, target: Path) -> None:
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for name in ("storyclust.sqlite3", "gold.jsonl", "bench.json"):
        shutil.copy(source / name, target / name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rate", type=float, default=3000.0, help="articles per day")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/storyclust-recluster-bench"))
    parser.add_argument("--memory", action="store_true", help="also measure the Engine's RSS per stored article")

    parser.add_argument("--child", choices=["job", *MEMORY_PARTS], help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = measure_job(args.data_dir) if args.child == "job" else measure_memory(args.data_dir, args.child)
        print(json.dumps(result))
        return 0

    results = {}
    for n in args.sizes:
        source = ensure_store(args.workdir, n, args.rate)
        runs = []
        for r in range(args.repeats):
            copy_store(source, args.workdir / "run")
            run = run_child("job", args.workdir / "run")
            print(json.dumps({"articles": n, "repeat": r, **run}), file=sys.stderr)
            runs.append(run)
        results[n] = {"info": json.loads((source / "bench.json").read_text())}
        if runs:
            results[n].update({
                "job_s_median": statistics.median(r["job_s"] for r in runs),
                "job_s_all": [r["job_s"] for r in runs],
                "job_cpu_s_median": statistics.median(r["job_cpu_s"] for r in runs),
                "peak_job_rss_mb_median": statistics.median(r["peak_job_rss_mb"] for r in runs),
                "last": runs[-1],
            })
        if args.memory:
            empty = args.workdir / "empty"
            if empty.exists():
                shutil.rmtree(empty)
            full = {part: run_child(part, source) for part in MEMORY_PARTS}
            bare = {part: run_child(part, empty) for part in MEMORY_PARTS}
            results[n]["memory_mb"] = {"store": full, "empty_store": bare}
            results[n]["bytes_per_article"] = {part: round((full[part] - bare[part]) * 2**20 / n) for part in MEMORY_PARTS}
    sizes = sorted(n for n in results if "job_s_median" in results[n])
    for small, large in zip(sizes, sizes[1:]):
        ratio = results[large]["job_s_median"] / results[small]["job_s_median"]
        results[large]["growth_vs_%d" % small] = {"size_x": large / small, "time_x": round(ratio, 2),
                                                  "exponent": round(np.log(ratio) / np.log(large / small), 2)}
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

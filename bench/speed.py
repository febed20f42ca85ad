"""Speed bench: `storyclust cluster` against a naive script doing only the unavoidable work.

    python bench/speed.py [--data FILE.jsonl] [--runs 3] [--limit N] [--keep]

A = `storyclust cluster FILE --output ... --data-dir <fresh dir>` (the real product: validation,
hashing, MinHash/LSH, profiles, pair scorer, SQLite with fsync, FAISS, and the repair of the
run's stories at its end).
B = this file run with `--naive FILE`: the same model (storyclust.embedding.Encoder with the same
settings; one plain model call per chunk unless STORYCLUST_ENCODE_WORKERS is set) encodes the
same texts (storyclust.engine.embed_text of each valid article) in chunks of the same size, and
a flat FAISS index (IndexFlatIP) is searched (k = neighbours) for each article before it is
added; one line per article is written.

Both run as separate processes (interpreter start and model load included in both), alternated
A B A B ..., `--runs` times each. Printed: each wall time and child CPU time, the medians, and the
median ratio A/B (target <= 1.10). The machine is shared: read medians and ratios, not single runs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "allsides-train" / "articles.jsonl"


# --- B: the naive script --------------------------------------------------------------------------
def naive(input_path: str, output_path: str) -> int:
    import faiss

    from storyclust.article import ArticleError, parse_article
    from storyclust.cli import CHUNK
    from storyclust.config import get_settings
    from storyclust.embedding import encoder_for
    from storyclust.engine import embed_text

    settings = get_settings()
    # A plain model call per chunk, as a script would write it; STORYCLUST_ENCODE_WORKERS=N gives
    # it storyclust's split calls too, leaving only the engine's overlap between the two.
    # The model as storyclust loads it, its kept ONNX export included (a start that exported
    # would hold and spend more than the product does).
    encoder = encoder_for(settings, settings.encode_workers or 1)
    index = faiss.IndexFlatIP(encoder.dim)
    k = settings.neighbours
    articles = []
    with open(input_path, "rb") as handle:
        for raw in handle:
            try:
                articles.append(parse_article(json.loads(raw.decode("utf-8")), settings.max_article_bytes))
            except (UnicodeDecodeError, json.JSONDecodeError, ArticleError):
                continue
    with open(output_path, "w", encoding="utf-8") as out:
        for start in range(0, len(articles), CHUNK):
            chunk = articles[start : start + CHUNK]
            vectors = encoder.encode([embed_text(a, settings.max_seq_length) for a in chunk])
            for article, vector in zip(chunk, vectors):
                query = vector.reshape(1, -1)
                if index.ntotal:
                    scores, ids = index.search(query, min(k, index.ntotal))
                    best = (int(ids[0][0]), float(scores[0][0]))
                else:
                    best = (-1, 0.0)
                index.add(query)
                out.write(json.dumps({"id": article.id, "nearest": best[0], "score": round(best[1], 4)}) + "\n")
            out.flush()
    return 0


# --- the bench --------------------------------------------------------------------------------------
def timed(command: list[str], env: dict) -> tuple[float, float, int]:
    """(wall seconds, child CPU seconds, exit status)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    run = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if run.returncode not in (0, 1):  # 1: some malformed lines were skipped (allsides has empty texts)
        sys.stderr.write(run.stderr.decode("utf-8", "replace")[-3000:])
        raise SystemExit(f"failed ({run.returncode}): {' '.join(command)}")
    return wall, cpu, run.returncode


def count_lines(path: Path) -> int:
    with open(path, "rb") as handle:
        return sum(1 for line in handle if line.strip())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--limit", type=int, help="take the first N articles")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--naive", nargs=2, metavar=("INPUT", "OUTPUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.naive:
        return naive(*args.naive)

    work = Path(tempfile.mkdtemp(prefix="storyclust-speed-"))
    source = args.data
    if args.limit:
        source = work / "input.jsonl"
        with open(args.data, "rb") as handle, open(source, "wb") as out:
            for number, line in enumerate(handle):
                if number >= args.limit:
                    break
                out.write(line)
    n = count_lines(source)
    script = Path(sys.executable).with_name("storyclust")
    cli = [str(script)] if script.exists() else [sys.executable, "-m", "storyclust.cli"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("STORYCLUST_DATA_DIR", None)
    print(f"input: {args.data} ({n} lines{f', first {args.limit}' if args.limit else ''})")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")

    times: dict[str, list[tuple[float, float]]] = {"storyclust": [], "naive": []}
    try:
        for run in range(1, args.runs + 1):
            data_dir = work / f"data-{run}"
            out_a, out_b = work / f"storyclust-{run}.jsonl", work / f"naive-{run}.jsonl"
            wall, cpu, status = timed(cli + ["cluster", str(source), "--output", str(out_a),
                                             "--data-dir", str(data_dir)], env)
            times["storyclust"].append((wall, cpu))
            print(f"run {run}  storyclust cluster  {wall:7.2f} s wall  {cpu:7.2f} s cpu  "
                  f"({count_lines(out_a)} answers, exit {status})", flush=True)
            wall, cpu, _ = timed([sys.executable, str(Path(__file__).resolve()), "--naive", str(source), str(out_b)], env)
            times["naive"].append((wall, cpu))
            print(f"run {run}  naive               {wall:7.2f} s wall  {cpu:7.2f} s cpu  "
                  f"({count_lines(out_b)} answers)", flush=True)
            if count_lines(out_a) != count_lines(out_b):
                print("  warning: the two did not answer the same number of articles")
            if not args.keep:
                shutil.rmtree(data_dir, ignore_errors=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    med = {name: (statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs))
           for name, runs in times.items()}
    ratios = [a[0] / b[0] for a, b in zip(times["storyclust"], times["naive"])]
    print(f"median wall: storyclust {med['storyclust'][0]:.2f} s, naive {med['naive'][0]:.2f} s")
    print(f"median cpu:  storyclust {med['storyclust'][1]:.2f} s, naive {med['naive'][1]:.2f} s")
    print(f"ratio storyclust/naive: median of walls {med['storyclust'][0] / med['naive'][0]:.3f}, "
          f"median of pairwise ratios {statistics.median(ratios):.3f}, "
          f"cpu {med['storyclust'][1] / med['naive'][1]:.3f}  (target <= 1.10)")
    print(f"throughput: storyclust {n / med['storyclust'][0]:.1f} articles/s, naive {n / med['naive'][0]:.1f} articles/s")
    print(f"load average {os.getloadavg()[0]:.2f} at end")
    return 0


if __name__ == "__main__":
    sys.exit(main())

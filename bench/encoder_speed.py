"""The embedding model's speed on ONNX Runtime (the default) against torch, on real dev texts.

Both encoders are the product's (``storyclust.embedding.Encoder``, ``runtime="onnx"`` and
``"torch"``), on the same texts as the engine embeds them (title and body, 256 tokens), with
the same threads. Prints, as medians of ``--runs`` runs: documents a second in batches of the
configured size (what `storyclust cluster` and batch posts do), milliseconds for one text alone
(what one API post waits for), the seconds each took to load (the ONNX one exports the model),
and the largest difference between the two runtimes' vectors.

``--memory`` instead starts a fresh process per configuration (torch; ONNX exporting at start,
into an empty cache directory; ONNX loading the graph that start kept) and prints each one's
resident memory after loading and after encoding the texts in calls of 1 to 64, and its start-up
seconds, medians of ``--runs`` starts.

    .venv/bin/python bench/encoder_speed.py [--texts 240] [--runs 3] [--memory]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "service"))

from storyclust.article import parse_article  # noqa: E402
from storyclust.config import PROJECT_ROOT, get_settings  # noqa: E402
from storyclust.embedding import Encoder  # noqa: E402
from storyclust.engine import embed_text  # noqa: E402


def _texts(count: int, max_seq_length: int) -> list[str]:
    path = PROJECT_ROOT.parent / "shared" / "data" / "ecbplus-dev" / "articles.jsonl"
    rows = [json.loads(line) for line in path.open(encoding="utf-8")][:count]
    return [embed_text(parse_article(r), max_seq_length) for r in rows]


def _memory_child(runtime: str, cache_dir: str, count: int) -> None:
    """One start: load the encoder, encode in calls of 1 to 64 texts, print RSS and load time."""
    import psutil

    settings = get_settings()
    texts = _texts(count, settings.max_seq_length)
    process = psutil.Process()
    started = time.perf_counter()
    encoder = Encoder(settings.model_path, settings.max_seq_length, settings.encode_batch_size,
                      settings.torch_threads, runtime=runtime, cache_dir=cache_dir or None)
    load_s = time.perf_counter() - started
    loaded = process.memory_info().rss
    for size in (1, 4, 16, 64):
        for start in range(0, len(texts), size):
            encoder._call(texts[start:start + size])
    print(json.dumps({"runtime": encoder.runtime, "load_s": load_s, "rss_loaded_gb": loaded / 2**30,
                      "rss_gb": process.memory_info().rss / 2**30}))


def memory(count: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as cache:
        configs = [("torch", "torch", ""), ("onnx, exporting", "onnx", cache), ("onnx, kept graph", "onnx", cache)]
        for label, runtime, cache_dir in configs:
            starts = []
            for run in range(runs if label != "onnx, exporting" else 1):  # later starts find the graph
                out = subprocess.run([sys.executable, __file__, "--memory-child", runtime, cache_dir,
                                      "--texts", str(count)], capture_output=True, text=True, check=True)
                starts.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(json.dumps({"config": label, "runtime": starts[0]["runtime"], "starts": len(starts),
                              **{key: round(float(np.median([s[key] for s in starts])), 2)
                                 for key in ("load_s", "rss_loaded_gb", "rss_gb")}}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--texts", type=int, default=240, help="ECB+ dev articles (long: most fill the 256 tokens)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--alone", type=int, default=60, help="texts timed one at a time")
    parser.add_argument("--memory", action="store_true", help="resident memory and start-up, a process per start")
    parser.add_argument("--memory-child", nargs=2, metavar=("RUNTIME", "CACHE_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        return _memory_child(*args.memory_child, args.texts)
    if args.memory:
        return memory(args.texts, args.runs)
    settings = get_settings()
    texts = _texts(args.texts, settings.max_seq_length)
    results, vectors = {}, {}
    for runtime in ("torch", "onnx"):
        started = time.perf_counter()
        encoder = Encoder(settings.model_path, settings.max_seq_length, settings.encode_batch_size,
                          settings.torch_threads, runtime=runtime)
        load_s = time.perf_counter() - started
        assert encoder.runtime == runtime, f"{runtime} requested, {encoder.runtime} loaded (see the log)"
        batch = []
        for _ in range(args.runs):
            started = time.perf_counter()
            vectors[runtime] = encoder.encode(texts)
            batch.append(len(texts) / (time.perf_counter() - started))
        alone = []
        for text in texts[:args.alone]:
            started = time.perf_counter()
            encoder.encode([text])
            alone.append(1000 * (time.perf_counter() - started))
        results[runtime] = {"docs_per_s": round(float(np.median(batch)), 1),
                            "docs_per_s_runs": [round(b, 1) for b in batch],
                            "one_text_ms_median": round(float(np.median(alone)), 1),
                            "one_text_ms_p90": round(float(np.percentile(alone, 90)), 1),
                            "load_s": round(load_s, 1)}
        print(json.dumps({"runtime": runtime, **results[runtime]}), flush=True)
    print(json.dumps({
        "texts": len(texts), "runs": args.runs,
        "batch_speedup_onnx_over_torch": round(results["onnx"]["docs_per_s"] / results["torch"]["docs_per_s"], 2),
        "one_text_speedup_onnx_over_torch": round(results["torch"]["one_text_ms_median"]
                                                  / results["onnx"]["one_text_ms_median"], 2),
        "max_vector_difference": float(np.abs(vectors["onnx"] - vectors["torch"]).max()),
    }))


if __name__ == "__main__":
    main()

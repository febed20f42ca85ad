"""The embedding model's speed on ONNX Runtime (the default) against torch, on real dev texts.

Both encoders are the product's (``storyclust.embedding.Encoder``, ``runtime="onnx"`` and
``"torch"``), on the same texts as the engine embeds them (title and body, 256 tokens), with
the same threads. Prints, as medians of ``--runs`` runs: documents a second in batches of the
configured size (what `storyclust cluster` and batch posts do), milliseconds for one text alone
(what one API post waits for), the seconds each took to load (the ONNX one exports the model),
and the largest difference between the two runtimes' vectors.

    .venv/bin/python bench/encoder_speed.py [--texts 240] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "service"))

from storyclust.article import parse_article  # noqa: E402
from storyclust.config import PROJECT_ROOT, get_settings  # noqa: E402
from storyclust.embedding import Encoder  # noqa: E402
from storyclust.engine import embed_text  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--texts", type=int, default=240, help="ECB+ dev articles (long: most fill the 256 tokens)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--alone", type=int, default=60, help="texts timed one at a time")
    args = parser.parse_args()
    settings = get_settings()
    path = PROJECT_ROOT.parent / "shared" / "data" / "ecbplus-dev" / "articles.jsonl"
    rows = [json.loads(line) for line in path.open(encoding="utf-8")][:args.texts]
    texts = [embed_text(parse_article(r), settings.max_seq_length) for r in rows]
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

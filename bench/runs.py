"""One feed posted as several `storyclust cluster` runs on one data directory, against one run.

    .venv/bin/python bench/runs.py [--stories 400] [--runs 2] [--seed 0] [--workdir DIR]

A newsroom that runs `cluster` on each hour's file, or an evaluation that posts a set in parts,
meets the stories of earlier runs. Each run repairs its own stories at its end
(``recluster.repair_articles``): this bench checks that the stories an earlier run began are
within the reach of the later runs' repairs. It draws ``--stories`` AllSides stories (seeded),
shuffles their articles, and runs the real command line: once over the whole file into one
data directory, and as ``--runs`` consecutive parts into another. B-cubed is read from each
store at the end (every article's current story), and also from the parts' output files
concatenated (each part's lines keep the story ids they had when that part ended).
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from storyclust.evaluation import score  # noqa: E402
from training.corpus import load_set  # noqa: E402

STORYCLUST = [sys.executable, "-m", "storyclust.cli"]


def cluster(path: Path, data_dir: Path, output: Path) -> None:
    subprocess.run([*STORYCLUST, "cluster", str(path), "--data-dir", str(data_dir), "--output", str(output)],
                   check=True, stderr=subprocess.DEVNULL)


def stored(data_dir: Path) -> dict[str, str]:
    with sqlite3.connect(data_dir / "storyclust.sqlite3") as db:
        return dict(db.execute("SELECT id, cluster_id FROM articles"))


def b3(gold: dict[str, str], assignment: dict[str, str]) -> float:
    ids = list(gold)
    return score([gold[i] for i in ids], [assignment[i] for i in ids])["b3_f1"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stories", type=int, default=400)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    rows = load_set("allsides-train")
    rng = random.Random(args.seed)
    chosen = set(rng.sample(sorted({r["event_id"] for r in rows}), args.stories))
    rows = [r for r in rows if r["event_id"] in chosen]
    rng.shuffle(rows)
    gold = {r["id"]: r["event_id"] for r in rows}
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        work = Path(tmp)
        whole = work / "whole.jsonl"
        whole.write_text("".join(json.dumps(r) + "\n" for r in rows))
        cluster(whole, work / "one", work / "one.out")
        size = -(-len(rows) // args.runs)
        outputs = []
        for k in range(args.runs):
            part = work / f"part{k}.jsonl"
            part.write_text("".join(json.dumps(r) + "\n" for r in rows[k * size:(k + 1) * size]))
            outputs.append(work / f"part{k}.out")
            cluster(part, work / "parts", outputs[-1])
        lines = {}
        for output in outputs:
            lines.update((d["id"], d["cluster_id"]) for d in map(json.loads, output.open()))
        print(f"{len(rows)} AllSides articles of {args.stories} stories, shuffled (seed {args.seed}); B3 F1:")
        print(f"  one run: {b3(gold, stored(work / 'one')):.4f}")
        print(f"  {args.runs} runs, the store at the end: {b3(gold, stored(work / 'parts')):.4f}")
        print(f"  {args.runs} runs, their output files concatenated: {b3(gold, lines):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

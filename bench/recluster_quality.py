"""Quality of the nightly re-clustering job against the online pass it repairs, on full dev sets.

    .venv/bin/python bench/recluster_quality.py [--sets ecbplus-dev allsides-train clustmcms-dev]
                                                [--workdir /tmp/storyclust-recluster-quality] [--fresh]
                                                [--held-out-scorer | --out-of-fold]

For each set: the real Engine ingests every article the service accepts (AllSides' title-only
rows are rejected as CONTRACT requires, see ``training.corpus.load_set``) online, in file order,
in batches of 64; B-cubed of that online assignment is recorded; then ``run_recluster`` runs on
the same data directory and B-cubed after it, ``id_stability`` and what the moves did are
recorded. Embeddings come from ``training.corpus``'s cache (the same vectors the model gives;
only the encoding time is saved). The online data directory is kept in ``--workdir`` and
copied for each job run, so a rerun skips the online pass (``--fresh`` redoes it).

In-sample caveat: the shipped pair scorer was trained on these dev sets, so both the online
pass and the job use a scorer that has seen these articles, and neither absolute figure is an
accuracy claim (README's out-of-fold table is). What this bench measures is the comparison:
the job must not do worse than the online pass with the same scorer, and must keep ids.
``--held-out-scorer`` removes the caveat: each set is then ingested and re-clustered with a
scorer trained on the other dev sets only (leaving the whole set out: stricter than the
accuracy table, whose scorers saw the other topics of the set). ``--out-of-fold`` measures as
that table does: the online pass decides each article with the scorer of its fold (5 folds by
topic, ``accuracy.fold_scorers``), and the job scores each candidate pair with the fold scorer of
the pair's first article, which never saw that article's topic nor the pair.

``--corrections N`` then plays an editor: in the N stories that join the most pairs of
different gold events after the job, each gold event but the story's largest is split off
(``POST /corrections``'s split, one correction per event split off), the job runs again, and the
table gets B-cubed after it and how many corrections it kept (no story holding both sides).

Moves are judged against gold: a moved article "gains" when its own B-cubed F1 is higher after
the job than before (the per-article terms that B-cubed averages), and "loses" when lower.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from storyclust import corrections  # noqa: E402
from storyclust.article import parse_article  # noqa: E402
from storyclust.config import Settings  # noqa: E402
from storyclust.engine import Engine, embed_text  # noqa: E402
from storyclust.evaluation import score  # noqa: E402
from storyclust.recluster import EdgeScorer, run_recluster  # noqa: E402
from storyclust.scorer import PairScorer  # noqa: E402
from training.corpus import DEV_SETS, cached_encoder, load_set, prepare_set  # noqa: E402
from training.train_scorer import fit, pair_table  # noqa: E402

from accuracy import fold_edge_scorer, fold_scorers  # noqa: E402

SETS = ("ecbplus-dev", "allsides-train", "clustmcms-dev")
BATCH = 64


def held_out_scorer(name: str, encoder) -> PairScorer:
    """The shipped recipe trained on every dev set but ``name``."""
    return fit([pair_table(prepare_set(n, encoder)) for n in DEV_SETS if n != name], version=f"without-{name}")


class Folds:
    """Out-of-fold scorers of one set: the fold of each article id, a scorer per fold.
    ``sets`` and ``tables``: every dev set's docs and pair table, prepared once for all sets."""

    def __init__(self, name: str, sets: dict, tables: dict) -> None:
        fold, self.scorers = fold_scorers(name, sets, tables, folds=5)
        self.of_id = {d.article.id: k for d, k in zip(sets[name], fold)}
        self.version = f"oof-{name}"


def online_pass(rows: list[dict], data_dir: Path, encoder, scorer: PairScorer | None = None,
                folds: Folds | None = None) -> float:
    """Ingest in file order, as ``storyclust cluster`` would (with ``folds``, each article decided
    by its fold's scorer); seconds taken."""
    if data_dir.exists():
        shutil.rmtree(data_dir)
    started = time.perf_counter()
    engine = Engine(Settings(data_dir=data_dir), encoder=encoder)
    if scorer is not None:
        engine.scorer = scorer
    start = 0
    while start < len(rows):
        end = min(start + BATCH, len(rows))
        if folds is not None:  # a batch of one fold
            k = folds.of_id[rows[start]["id"]]
            end = next((i for i in range(start, end) if folds.of_id[rows[i]["id"]] != k), end)
            engine.scorer = folds.scorers[k]
        engine.ingest([parse_article(r) for r in rows[start:end]])
        start = end
    engine.save_indexes()
    engine.store.close()
    return time.perf_counter() - started


def b3(gold: dict[str, str], assignment: dict[str, str]) -> dict:
    ids = [i for i in gold if i in assignment]
    m = score([gold[i] for i in ids], [assignment[i] for i in ids])
    return {k: round(m[k], 4) for k in ("b3_precision", "b3_recall", "b3_f1", "pred_clusters")}


def judge_moves(gold: dict[str, str], before: dict[str, str], after: dict[str, str], moved: list[dict]) -> dict:
    """Moved articles whose own B-cubed F1 (precision: share of its story in its gold event;
    recall: share of its gold event in its story) went up, down, or stayed."""
    def per_article(assignment: dict[str, str]):
        ids = [i for i in gold if i in assignment]
        both = Counter((assignment[i], gold[i]) for i in ids)
        story, event = Counter(assignment[i] for i in ids), Counter(gold[i] for i in ids)

        def f1(i: str) -> float:
            shared = both[(assignment[i], gold[i])]
            p, r = shared / story[assignment[i]], shared / event[gold[i]]
            return 2 * p * r / (p + r)
        return f1

    was, now = per_article(before), per_article(after)
    gains = losses = 0
    for m in moved:
        if m["id"] in gold:
            delta = now(m["id"]) - was(m["id"])
            gains += delta > 1e-9
            losses += delta < -1e-9
    return {"moved": len(moved), "gains": gains, "losses": losses, "same": len(moved) - gains - losses}


def editor_splits(engine, gold: dict[str, str], stories: int) -> list[corrections.Correction]:
    """What an editor with the gold at hand would do to the ``stories`` stories that join the
    most pairs of different events: split off each event but the largest, its originals."""
    members: dict[str, list] = defaultdict(list)
    for article_id, cluster_id, relation, *_ in engine.store.assignments():
        if article_id in gold:
            members[cluster_id].append((article_id, relation))

    def wrong_pairs(cluster_id: str) -> int:
        sizes = Counter(gold[i] for i, _ in members[cluster_id])
        return (sum(sizes.values()) ** 2 - sum(n * n for n in sizes.values())) // 2

    made = []
    for cluster_id in sorted(members, key=wrong_pairs, reverse=True)[:stories]:
        if not wrong_pairs(cluster_id):
            break
        events = Counter(gold[i] for i, _ in members[cluster_id])
        for event, _ in events.most_common()[1:]:
            ids = [i for i, relation in members[cluster_id] if gold[i] == event and relation not in corrections.COPIES]
            if ids:
                made.append(corrections.split(engine, ids, cluster_id, note=f"bench: {event}"))
    return made


def kept(engine, made: list[corrections.Correction]) -> int:
    """Corrections whose articles moved share no story with those they were set apart from."""
    story = {row[0]: row[1] for row in engine.store.assignments()}
    held = 0
    for c in made:
        apart = {story[i] for i, side in engine.store.reader().execute(
            "SELECT article_id, side FROM correction_members WHERE correction_id=?", (c.correction_id,))
            if side == corrections.APART and i in story}
        held += not ({story[i] for i in c.article_ids if i in story} & apart)
    return held


def run_set(name: str, workdir: Path, fresh: bool, encoder, scorer: PairScorer | None = None,
            folds: Folds | None = None, edits: int = 0) -> dict:
    rows = load_set(name, DEV_SETS.get(name))
    gold = {r["id"]: str(r["event_id"]) for r in rows}
    suffix = f"-{(scorer or folds).version}" if scorer is not None or folds is not None else ""
    online_dir = workdir / f"online-{name}{suffix}"
    marker = online_dir / "online.json"
    online_s = None
    if fresh or not marker.exists() or json.loads(marker.read_text()).get("articles") != len(rows):
        online_s = online_pass(rows, online_dir, encoder, scorer, folds)
        marker.write_text(json.dumps({"articles": len(rows), "online_s": round(online_s, 1)}))
    run_dir = workdir / f"run-{name}{suffix}"
    if run_dir.exists():
        shutil.rmtree(run_dir)
    shutil.copytree(online_dir, run_dir)
    engine = Engine(Settings(data_dir=run_dir), encoder=encoder)
    if scorer is not None:
        engine.scorer = scorer
    before = {row[0]: row[1] for row in engine.store.assignments()}
    started = time.perf_counter()
    edge_scorer = fold_edge_scorer(folds.of_id, folds.scorers) if folds is not None else EdgeScorer
    report = run_recluster(engine, edge_scorer=edge_scorer)
    job_s = time.perf_counter() - started
    after = {line["id"]: line["cluster_id"] for line in report.lines}
    summary = report.summary()
    result = {
        "set": name, "articles": len(rows), "events": len(set(gold.values())),
        "online": b3(gold, before), "recluster": b3(gold, after), "stability": report.stability,
        "moves": judge_moves(gold, before, after, report.moved_articles), "counts": summary["counts"],
        "job_s": round(job_s, 1), "online_s": round(online_s, 1) if online_s else json.loads(marker.read_text())["online_s"],
    }
    if edits:
        made = editor_splits(engine, gold, edits)
        corrected = {row[0]: row[1] for row in engine.store.assignments()}
        again = run_recluster(engine, edge_scorer=edge_scorer)
        result["corrected"] = {"corrections": len(made), "split": b3(gold, corrected),
                               "job": b3(gold, {line["id"]: line["cluster_id"] for line in again.lines}),
                               "kept": kept(engine, made)}
    engine.store.close()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", nargs="+", default=list(SETS))
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/storyclust-recluster-quality"))
    parser.add_argument("--fresh", action="store_true", help="redo the online pass")
    parser.add_argument("--held-out-scorer", action="store_true",
                        help="ingest and re-cluster each set with a scorer trained on the other dev sets only")
    parser.add_argument("--out-of-fold", action="store_true",
                        help="as the accuracy table: each article and each pair scored by a scorer of its fold")
    parser.add_argument("--corrections", type=int, default=0, metavar="N",
                        help="then split the N stories mixing the most events along gold, and run the job again")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    encoder = cached_encoder()
    for name in args.sets:
        rows = load_set(name, DEV_SETS.get(name))
        encoder.preload([embed_text(parse_article(r), Settings().max_seq_length) for r in rows], name)
    if args.held_out_scorer and args.out_of_fold:
        parser.error("--held-out-scorer and --out-of-fold are two different measurements: choose one")
    if args.out_of_fold:
        dev = {n: prepare_set(n, encoder) for n in DEV_SETS}
        tables = {n: pair_table(docs) for n, docs in dev.items()}
    results = [run_set(name, args.workdir, args.fresh, encoder,
                       held_out_scorer(name, encoder) if args.held_out_scorer else None,
                       Folds(name, dev, tables) if args.out_of_fold else None, args.corrections)
               for name in args.sets]
    for r in results:
        print(json.dumps(r), file=sys.stderr)
    print("| set | online B3 P / R / F1 | recluster B3 P / R / F1 | stories online -> job | "
          "continuing stories keeping their id | moved articles (own B3 F1 up / down) | job s |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        o, j, s, m = r["online"], r["recluster"], r["stability"], r["moves"]
        print(f"| {r['set']} ({r['articles']} articles, {r['events']} events) "
              f"| {o['b3_precision']:.3f} / {o['b3_recall']:.3f} / **{o['b3_f1']:.3f}** "
              f"| {j['b3_precision']:.3f} / {j['b3_recall']:.3f} / **{j['b3_f1']:.3f}** "
              f"| {o['pred_clusters']} -> {j['pred_clusters']} "
              f"| {s['kept_id']} / {s['continuing']} ({100 * s['kept_share']:.1f}%) "
              f"| {m['moved']} ({m['gains']} / {m['losses']}) | {r['job_s']} |")
    if args.corrections:
        print("\n| set | after the job B3 F1 | editor's corrections (stories) | split, B3 P / R / F1 "
              "| the job again, B3 P / R / F1 | corrections the job kept |")
        print("|---|---|---|---|---|---|")
        for r in results:
            c = r["corrected"]
            line = " | ".join(f"{x['b3_precision']:.3f} / {x['b3_recall']:.3f} / **{x['b3_f1']:.3f}**"
                              for x in (c["split"], c["job"]))
            print(f"| {r['set']} | {r['recluster']['b3_f1']:.3f} | {c['corrections']} ({args.corrections}) | {line} "
                  f"| {c['kept']} of {c['corrections']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

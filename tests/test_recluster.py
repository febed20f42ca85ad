"""The nightly re-clustering job on real articles: quality against the online pass, stable ids,
merge aliases, crash safety (an exception and a SIGKILL inside the write transaction), articles
ingested while it runs, scope, and the admin endpoints. One online pass over the first 600
AllSides articles (left, centre and right reports of each event) is copied for every test."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import accepted, load_dataset
from fastapi.testclient import TestClient

from storyclust import batch_features, recluster
from storyclust.article import parse_article
from storyclust.config import Settings
from storyclust.engine import Engine
from storyclust.evaluation import score
from storyclust.features import FEATURES, pair_features, sentence_alignment
from storyclust.profile import Profile
from storyclust.recluster import ReclusterConfig, id_stability, run_recluster
from storyclust.scorer import PairScorer
from storyclust.term_stats import TermStats

ROWS = [r for r in load_dataset("allsides-train", limit=600) if accepted(r)]
GOLD = {r["id"]: r["event_id"] for r in ROWS}


@pytest.fixture(scope="module")
def online_dir(tmp_path_factory, encoder) -> Path:
    """A data directory after the online pass, in file order; tests work on copies."""
    data = tmp_path_factory.mktemp("online") / "data"
    engine = Engine(Settings(data_dir=data), encoder=encoder)
    for start in range(0, len(ROWS), 64):
        engine.ingest([parse_article(r) for r in ROWS[start:start + 64]])
    engine.save_indexes()
    engine.store.close()
    return data


@contextlib.contextmanager
def engine_on_copy(online_dir: Path, tmp_path: Path, encoder, name: str = "data", **settings) -> Iterator[Engine]:
    """An engine on a copy of the online pass's data directory (``name`` under ``tmp_path``),
    with these settings; its store is closed on leaving."""
    data = tmp_path / name
    shutil.copytree(online_dir, data)
    engine = Engine(Settings(data_dir=data, **settings), encoder=encoder)
    try:
        yield engine
    finally:
        engine.store.close()


@pytest.fixture
def engine(online_dir, tmp_path, encoder):
    with engine_on_copy(online_dir, tmp_path, encoder) as engine:
        yield engine


def state(engine: Engine) -> tuple:
    """Everything the job may change."""
    db = engine.store.reader()
    return (engine.store.assignments(),
            db.execute("SELECT cluster_id, created_at, updated_at FROM clusters ORDER BY cluster_id").fetchall(),
            db.execute("SELECT alias, cluster_id FROM cluster_aliases ORDER BY alias").fetchall())


def clusters(engine: Engine) -> dict[str, str]:
    return {row[0]: row[1] for row in engine.store.assignments()}


def b3_scores(assignment: dict[str, str]) -> dict:
    ids = [i for i in assignment if i in GOLD]
    return score([GOLD[i] for i in ids], [assignment[i] for i in ids])


def b3(assignment: dict[str, str]) -> float:
    return b3_scores(assignment)["b3_f1"]


def test_improves_or_keeps_quality_and_keeps_ids(engine):
    before = clusters(engine)
    report = run_recluster(engine)
    after = {line["id"]: line["cluster_id"] for line in report.lines}
    assert after == clusters(engine) and len(report.lines) == len(ROWS)
    assert b3(after) >= b3(before)
    stability = id_stability(before, after, report.aliases())
    assert stability == report.stability
    assert stability["kept_share"] == 1.0  # every story holding most of an old one: that id leads to it
    assert stability["majority_kept_share"] >= 0.8  # the rest: the smaller parts of splits
    for line in report.lines:
        assert set(line) == {"id", "cluster_id", "relation", "duplicate_of", "score"}
    # The clusters table lists exactly the live stories.
    live = {c for c, _, _ in state(engine)[1]}
    assert live == set(after.values())
    counts = report.summary()["counts"]
    assert counts["articles"] == len(ROWS) and counts["stories"] == len(set(after.values()))
    assert counts["moved_articles"] == len(report.moved_articles)
    json.dumps(report.summary())


def test_job_merges_at_its_own_threshold(online_dir, tmp_path, encoder):
    """The job's threshold comes from the artifact (lower than the online one: its average counts
    unscored pairs as 0) and the setting overrides it; a higher bar merges fewer stories."""
    def stories_after(name: str, **settings) -> tuple[int, Engine]:
        with engine_on_copy(online_dir, tmp_path, encoder, name, **settings) as engine:
            return len(set(line["cluster_id"] for line in run_recluster(engine).lines)), engine

    default, engine = stories_after("default")
    assert engine.recluster_threshold == engine.scorer.recluster_threshold < engine.threshold
    strict, engine = stories_after("strict", recluster_threshold=0.9)
    assert engine.recluster_threshold == 0.9
    assert strict > default


def test_a_small_pool_gains_recall_at_the_shipped_job_threshold(online_dir, tmp_path, encoder):
    """These 600 AllSides articles (200 stories) are a pool the size of a test split: few
    look-alike stories, so the job's threshold was lowered for them (0.25 -> 0.15,
    docs/accuracy.md: **Sets the size of a test split**). At the shipped one the job joins more of each
    story (recall) and its B3 F1 is higher than at 0.25."""
    def scores_at(name: str, threshold: float | None) -> dict:
        with engine_on_copy(online_dir, tmp_path, encoder, name, recluster_threshold=threshold) as engine:
            return b3_scores({line["id"]: line["cluster_id"] for line in run_recluster(engine).lines})

    assert PairScorer.load().recluster_threshold < 0.25
    shipped, before = scores_at("shipped", None), scores_at("before", 0.25)
    assert shipped["b3_recall"] > before["b3_recall"]
    assert shipped["b3_f1"] > before["b3_f1"]


def test_the_neighbour_margin_raises_the_jobs_quality(online_dir, tmp_path, encoder):
    """The job reads each pair score again with the pair's neighbour margin (the shipped
    artifact's second stage): on these AllSides articles its stories, at the shipped threshold,
    are better than the job's with the pair scores as they are, at 0.3, their best threshold."""
    def b3_after(name: str, plain: bool) -> float:
        with engine_on_copy(online_dir, tmp_path, encoder, name) as engine:
            if plain:
                engine.scorer = dataclasses.replace(engine.scorer, job_weights=(1.0, 0.0), job_bias=0.0)
                engine.recluster_threshold = 0.3
            return b3({line["id"]: line["cluster_id"] for line in run_recluster(engine).lines})

    assert b3_after("margin", plain=False) > b3_after("plain", plain=True) + 0.005


def test_the_margin_stage_reads_only_the_languages_it_was_fitted_on(tmp_path, encoder):
    """The second stage is fitted on English pairs; under the English model, Malay articles'
    neighbours are poor company and the margin misleads (docs/accuracy.md, Other languages). On
    Clust-McMs's Malay reports the job therefore scores every pair as a scorer without the
    stage does, to the last digit of each article's score, unlike a stage read in every
    language."""
    rows = load_dataset("clustmcms-dev", lang="ms")

    def job_lines(name: str, scorer_change: dict) -> dict[str, tuple[str, float]]:
        engine = Engine(Settings(data_dir=tmp_path / name), encoder=encoder)
        try:
            engine.scorer = dataclasses.replace(engine.scorer, **scorer_change)
            engine.ingest([parse_article(r) for r in rows])
            return {line["id"]: (line["cluster_id"], line["score"]) for line in run_recluster(engine).lines}
        finally:
            engine.store.close()

    assert len(rows) >= 30
    english_only = job_lines("english-only", {})
    assert english_only == job_lines("plain", {"job_weights": (1.0, 0.0), "job_bias": 0.0})
    assert english_only != job_lines("every", {"job_languages": None})


def test_pairs_the_stage_does_not_read_keep_the_plain_scores_threshold(tmp_path, encoder):
    """The job's threshold (0.15) is set for second-stage scores; pairs the stage does not read
    keep their plain pair score, which needs 0.3 (``PairScorer.plain_job_score``). On
    Clust-McMs's Malay reports, read at the job's threshold unshifted, the job joins reports of
    different stories that the shift keeps apart."""
    rows = load_dataset("clustmcms-dev", lang="ms")
    gold = [r["event_id"] if r["event_id"] != "dev:166" else r["id"] for r in rows]  # 166: unrelated reports

    def job_b3(name: str, plain_recluster_threshold: float | None) -> dict:
        engine = Engine(Settings(data_dir=tmp_path / name), encoder=encoder)
        try:
            engine.scorer = dataclasses.replace(engine.scorer, plain_recluster_threshold=plain_recluster_threshold)
            engine.ingest([parse_article(r) for r in rows])
            story = {line["id"]: line["cluster_id"] for line in run_recluster(engine).lines}
            return score(gold, [story[r["id"]] for r in rows])
        finally:
            engine.store.close()

    scorer = PairScorer.load()
    assert (scorer.recluster_threshold, scorer.plain_recluster_threshold) == (0.15, 0.3)
    assert scorer.plain_job_score(np.array([0.3]))[0] == pytest.approx(0.15)
    shifted, unshifted = job_b3("shifted", 0.3), job_b3("unshifted", None)
    assert shifted["b3_precision"] > unshifted["b3_precision"]
    assert shifted["b3_f1"] > unshifted["b3_f1"]


def test_a_job_with_nothing_to_re_cluster_reports_nothing(engine, tmp_path, encoder):
    """An empty store, or a span without articles, is an empty report, not an error (the job
    used to fail concatenating no neighbour blocks)."""
    empty = Engine(Settings(data_dir=tmp_path / "empty"), encoder=encoder)
    try:
        counts = run_recluster(empty).summary()["counts"]
    finally:
        empty.store.close()
    assert counts["articles"] == counts["stories"] == counts["moved_articles"] == 0
    before = state(engine)
    report = run_recluster(engine, since="1990-01-01", until="1990-01-02")
    assert report.lines == [] and report.scope["clustered"] == 0 and state(engine) == before


def test_second_run_changes_nothing(engine):
    run_recluster(engine)
    first = state(engine)
    report = run_recluster(engine)
    assert state(engine)[:2] == first[:2] and report.summary()["counts"]["moved_articles"] == 0


def split_a_story(engine: Engine) -> tuple[str, list[tuple[str, str]]]:
    """Re-cluster, then split the largest story by hand as an online pass could have left it:
    its later half moves to a younger story 's-fragment'. Returns the story and the (id,
    relation) of its members, in ingest order."""
    run_recluster(engine)
    db = engine.store.db
    story = db.execute("SELECT cluster_id FROM articles WHERE relation NOT IN ('exact_duplicate','near_duplicate') "
                       "GROUP BY cluster_id HAVING COUNT(*) >= 3 ORDER BY COUNT(*) DESC, cluster_id LIMIT 1").fetchone()[0]
    members = db.execute("SELECT id, relation FROM articles WHERE cluster_id=? ORDER BY rowid", (story,)).fetchall()
    db.execute("INSERT INTO clusters(cluster_id, created_at, updated_at) VALUES('s-fragment', ?, ?)",
               (time.time() + 10, time.time() + 10))
    db.executemany("UPDATE articles SET cluster_id='s-fragment' WHERE id=?", [(i,) for i, _ in members[len(members) // 2:]])
    return story, members


def test_merge_keeps_the_older_id_and_the_alias_resolves(engine):
    """The job joins the parts again under the older id; the younger id resolves to it."""
    story, members = split_a_story(engine)
    report = run_recluster(engine)
    assert {"kept": story, "absorbed": ["s-fragment"]} in report.merges
    assert engine.store.resolve_cluster("s-fragment") == story
    assert not engine.store.cluster_exists("s-fragment")
    assert all(clusters(engine)[i] == story for i, _ in members)


def test_exception_before_commit_leaves_the_previous_clustering(engine):
    before = state(engine)

    def crash() -> None:
        raise RuntimeError("power cut")

    with pytest.raises(RuntimeError, match="power cut"):
        run_recluster(engine, before_commit=crash)
    assert state(engine) == before
    report = run_recluster(engine)  # a rerun succeeds
    assert clusters(engine) == {line["id"]: line["cluster_id"] for line in report.lines}


KILLED_JOB = """
import os, signal, sys
from pathlib import Path
from storyclust.config import Settings
from storyclust.engine import Engine
from storyclust.recluster import run_recluster

class NoModel:  # the job never embeds; the store only checks the model's name and size
    name, dim = sys.argv[2], int(sys.argv[3])
    def encode(self, texts):
        raise AssertionError("the job must not embed")

engine = Engine(Settings(data_dir=Path(sys.argv[1])), encoder=NoModel())
run_recluster(engine, before_commit=lambda: os.kill(os.getpid(), signal.SIGKILL))
"""


def test_sigkill_inside_the_write_leaves_the_previous_clustering(engine, encoder):
    before = state(engine)
    child = subprocess.run([sys.executable, "-c", KILLED_JOB, str(engine.settings.data_dir), encoder.name,
                            str(encoder.dim)], capture_output=True, text=True, timeout=300)
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    # A fresh connection sees the last committed state: the online pass.
    fresh = Engine(engine.settings, encoder=encoder)
    try:
        assert state(fresh) == before
        counts = run_recluster(fresh).summary()["counts"]  # and the job still has its work to do
        assert counts["merges"] + counts["moved_articles"] > 0
    finally:
        fresh.store.close()


def test_articles_ingested_during_the_job_keep_their_decision_and_follow_renames(engine):
    """Ingest while the job computes (after its snapshot): a copy of an article of a story
    about to be merged away, and an unrelated article."""
    story, members = split_a_story(engine)
    later = members[len(members) // 2:]
    original = next(i for i, relation in later if relation in ("new_story", "same_story"))
    copy = dict(next(r for r in ROWS if r["id"] == original), id="copy-during-job", title="(wire)")
    unrelated = {"id": "unrelated-during-job", "text": "The city council approved a new budget for the "
                 "municipal library on Tuesday, adding reading rooms and longer opening hours."}
    decisions = {}

    class IngestFirst(recluster.EdgeScorer):  # runs after the snapshot, before the write
        def __init__(self, *args, **kwargs):
            for d in engine.ingest([parse_article(copy), parse_article(unrelated)]):
                decisions[d.id] = d
            super().__init__(*args, **kwargs)

    report = run_recluster(engine, edge_scorer=IngestFirst)
    after = clusters(engine)
    assert decisions["copy-during-job"].relation in ("exact_duplicate", "near_duplicate")
    assert decisions["copy-during-job"].cluster_id == "s-fragment"
    assert after["copy-during-job"] == after[decisions["copy-during-job"].duplicate_of] == story
    assert after["unrelated-during-job"] == decisions["unrelated-during-job"].cluster_id
    assert "copy-during-job" not in {line["id"] for line in report.lines}  # not in the snapshot
    assert report.reconciled["ingested_during_job"] == 2


def test_scope_leaves_other_articles_alone(engine):
    """AllSides is undated: date the first half of the articles in 2019 and the rest in 2020,
    then re-cluster 2020 only."""
    db = engine.store.db
    rowids = [r[0] for r in db.execute("SELECT rowid FROM articles ORDER BY rowid")]
    half = rowids[len(rowids) // 2]
    db.execute("UPDATE articles SET published_ts = CASE WHEN rowid < ? THEN ? ELSE ? END",
               (half, recluster.parse_bound("2019-06-01"), recluster.parse_bound("2020-06-01")))
    outside = db.execute("SELECT id, cluster_id FROM articles WHERE rowid < ?", (half,)).fetchall()
    report = run_recluster(engine, since="2020-01-01", until="2020-12-31")
    assert {line["id"] for line in report.lines} == {r[0] for r in db.execute(
        "SELECT id FROM articles WHERE rowid >= ?", (half,))}
    renamed = report.aliases()
    after = clusters(engine)
    for article_id, cluster_id in outside:
        assert after[article_id] == renamed.get(cluster_id, cluster_id)
    with pytest.raises(ValueError, match="ISO 8601"):
        run_recluster(engine, since="last tuesday")


def test_repair_re_clusters_the_times_of_the_given_articles(engine):
    """What `storyclust cluster` runs at its end: the job over the run's articles' times, from
    the earliest to the latest of each group of times no more than the time window apart, both
    ends included. AllSides is undated: each online story is dated as a whole, a third of them
    in 2019 and the rest on 1, 3, 11 or 20 June 2020; a run holding one article of 1, 3 and 20
    June re-clusters all of 1-3 June and of 20 June, neither 2019 nor 11 June (more than a week
    from both, so no story it meets is of that day)."""
    db = engine.store.db
    stories = [r[0] for r in db.execute("SELECT cluster_id FROM articles GROUP BY cluster_id ORDER BY MIN(rowid)")]
    days = [recluster.parse_bound(d) for d in ("2019-06-01", "2020-06-01", "2020-06-03", "2020-06-11", "2020-06-20")]
    db.executemany("UPDATE articles SET published_ts=? WHERE cluster_id=?",
                   [(days[0] if i < len(stories) // 3 else days[1 + i % 4], c) for i, c in enumerate(stories)])
    ts = dict(db.execute("SELECT id, published_ts FROM articles"))
    run = [next(i for i, t in ts.items() if t == day) for day in (days[1], days[2], days[4])]
    before = clusters(engine)
    report = recluster.repair_articles(engine, run + ["never-stored"])
    assert {line["id"] for line in report.lines} == {i for i, t in ts.items() if t in (days[1], days[2], days[4])}
    after = clusters(engine)
    for article_id, t in ts.items():
        if t in (days[0], days[3]):
            assert after[article_id] == report.aliases().get(before[article_id], before[article_id])
    assert recluster.repair_articles(engine, ["never-stored"]) is None


def test_repair_reaches_the_stories_an_earlier_run_began(tmp_path, encoder):
    """Two `cluster` runs on one data directory, each repaired at its end: 300 AllSides articles
    in a shuffled order, posted as two runs of 150. The second run's repair takes in the
    stories its articles meet among the first run's, so that the reports the online pass split
    from them rejoin them, and ends near the nightly job over everything. With the run's own
    times alone (its undated articles' arrival), the first run's stories were out of its
    reach: B3 F1 0.822 online, 0.849 after that repair, 0.893 after this one, 0.902 after the
    nightly job (0.899 and 0.908 before the lone-article rule)."""
    rows = ROWS[:300]
    random.Random(0).shuffle(rows)
    ids = [r["id"] for r in rows]
    half = len(rows) // 2
    engine = Engine(Settings(data_dir=tmp_path / "runs"), encoder=encoder)
    try:
        for run in (rows[:half], rows[half:]):
            for start in range(0, len(run), 64):
                engine.ingest([parse_article(r) for r in run[start:start + 64]])
            if run is rows[:half]:
                recluster.repair_articles(engine, ids[:half])
        engine.save_indexes()
        shutil.copytree(tmp_path / "runs", tmp_path / "everything")
        online = b3(clusters(engine))
        report = recluster.repair_articles(engine, ids[half:])
        assert {line["id"] for line in report.lines} > set(ids[half:])  # first-run articles taken in
        repaired = b3(clusters(engine))
    finally:
        engine.store.close()
    with engine_on_copy(tmp_path / "everything", tmp_path, encoder, name="job") as whole:
        run_recluster(whole)
        nightly = b3(clusters(whole))
    assert repaired > online + 0.05
    assert repaired > nightly - 0.015


def test_vectorised_features_equal_the_online_ones(engine):
    db = engine.store.reader()
    rows = db.execute("SELECT profile, published_ts, embedding FROM articles ORDER BY rowid").fetchall()
    stats = TermStats(*engine.store.term_df())
    records = [json.loads(r[0]) for r in rows]
    profiles = [Profile.from_json(r) for r in records]
    ts = np.array([np.nan if r[1] is None else r[1] for r in rows])
    vectors = np.stack([np.frombuffer(r[2], dtype=np.float32) for r in rows])
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, len(rows), 300), rng.integers(0, len(rows), 300)
    cos = np.einsum("ij,ij->i", vectors[a], vectors[b]).astype(np.float64)
    bulk = batch_features.feature_rows(batch_features.ProfileTable(records, dict(stats.df), stats.docs), a, b, cos, ts)
    expected = []
    for i, j, c in zip(a.tolist(), b.tolist(), cos.tolist()):
        when = [None if np.isnan(ts[x]) else float(ts[x]) for x in (i, j)]
        aligned = float(sentence_alignment(profiles[i], [profiles[j]], stats)[0])
        expected.append(pair_features(profiles[i], when[0], c, profiles[j], when[1], stats, aligned))
    np.testing.assert_allclose(bulk, np.array(expected), rtol=1e-9, atol=1e-12, err_msg=str(FEATURES))


def test_admin_endpoints_run_a_job_in_the_background(online_dir, tmp_path, encoder):
    from storyclust.api.app import create_app

    data = tmp_path / "data"
    shutil.copytree(online_dir, data)
    settings = Settings(data_dir=data, api_key="secret", read_api_key=None)
    engine = Engine(settings, encoder=encoder)
    story, _ = split_a_story(engine)
    engine.store.close()
    with TestClient(create_app(settings, encoder=encoder)) as client:
        assert client.post("/admin/recluster").status_code == 401
        key = {"X-API-Key": "secret"}
        bad = client.post("/admin/recluster", json={"since": "yesterday"}, headers=key)
        assert bad.status_code == 422 and "since" in bad.json()["detail"]
        started = client.post("/admin/recluster", json={}, headers=key)
        assert started.status_code == 202 and started.json()["state"] in ("queued", "running", "done")
        location = started.headers["Location"]
        deadline = time.time() + 120
        while (job := client.get(location, headers=key).json())["state"] in ("queued", "running"):
            assert time.time() < deadline
            time.sleep(0.2)
        assert job["state"] == "done", job
        assert job["summary"]["counts"]["articles"] == len(ROWS) and job["seconds"] > 0
        assert {"kept": story, "absorbed": ["s-fragment"]} in job["summary"]["merges"]
        merged = client.get("/clusters/s-fragment")
        assert merged.status_code == 200 and merged.json()["cluster_id"] == story
        assert client.get("/admin/recluster/nope", headers=key).status_code == 404
        assert [j["job_id"] for j in client.get("/admin/recluster", headers=key).json()] == [job["job_id"]]


def test_concurrent_job_is_refused(engine):
    with recluster._JOB_LOCK:
        with pytest.raises(RuntimeError, match="already running"):
            run_recluster(engine)


def test_job_refuses_a_stale_snapshot(engine, monkeypatch):
    """Another process committed a re-clustering since the snapshot: write nothing."""
    before = state(engine)
    take = recluster._take_snapshot

    def snapshot_then_other_job(*args):
        snap = take(*args)
        engine.store.set_meta("recluster_generation", "41")
        return snap

    monkeypatch.setattr(recluster, "_take_snapshot", snapshot_then_other_job)
    with pytest.raises(RuntimeError, match="run it again"):
        run_recluster(engine, config=ReclusterConfig(stale_retries=0))
    assert state(engine) == before



def test_look_alike_events_joined_by_a_permissive_threshold_are_split(tmp_path, encoder):
    """ECB+ topics 29 and 12: the Colts clinching a playoff berth in two seasons (beating the
    Jaguars 31-24, and the Chiefs 20-13), and the Indian navy's pirate captures of 2008 and 2011.
    At a job threshold of 0.1 (set here, whatever the artifact ships), plain average linkage
    puts both Colts seasons in one story; undoing merges of groups much tighter inside than across
    keeps every event apart, without cutting any event more than plain linkage does. (Under the
    scorer fitted since date-stamp titles are read as no headline, plain linkage keeps them apart
    at the shipped 0.15 already; at 0.1 it still merges them.)"""
    rows = [r for r in load_dataset("ecbplus-dev") if r["event_id"].split("_")[0] in ("12", "29")]
    engine = Engine(Settings(data_dir=tmp_path / "data", recluster_threshold=0.1), encoder=encoder)
    engine.ingest([parse_article(r) for r in rows])

    undone = []

    def events_per_story(split_ratio: float) -> list[dict[str, int]]:
        report = run_recluster(engine, config=ReclusterConfig(split_ratio=split_ratio))
        undone.append(report.graph["undone_merges"])
        story = {line["id"]: line["cluster_id"] for line in report.lines}
        events: dict[str, Counter] = defaultdict(Counter)
        for r in rows:
            events[story[r["id"]]][r["event_id"]] += 1
        return sorted(events.values(), key=lambda c: -c.total())

    try:
        plain, split = events_per_story(0.0), events_per_story(0.44)
    finally:
        engine.store.close()
    assert undone[0] == 0 < undone[1]  # the report says how often the split acted
    assert {"29_ecb", "29_ecbplus"} in [set(events) for events in plain]  # both seasons in one story
    assert all(len(events) == 1 for events in split)
    largest = {e: max(c[e] for c in split) for e in ("12_ecb", "12_ecbplus", "29_ecb", "29_ecbplus")}
    assert largest == {e: max(c[e] for c in plain) for e in largest}


def _toy_snapshot(fixed: list[int]) -> recluster._Snapshot:
    """Eight articles in old stories A (oldest: rows 0-2), B (3-4) and C (youngest: 5-7)."""
    n = 8
    return recluster._Snapshot(
        max_rowid=n, generation=None, rowid=np.arange(1, n + 1), ids=[f"x{i}" for i in range(n)],
        old=np.array([0, 0, 0, 1, 1, 2, 2, 2]), old_ids=["A", "B", "C"],
        created={"A": 1.0, "B": 2.0, "C": 3.0}, fixed=np.array(fixed), node_of_row=np.arange(n),
        node_row=np.arange(n), ts=np.full(n, np.nan), lang=np.full(n, -1), vectors=np.zeros((n, 4), np.float32),
        signatures=np.zeros((n, 4), np.uint32))


def test_id_rules_merge_keeps_the_older_split_keeps_the_larger_part():
    labels = np.array([0, 0, 0, 0, 0, 1, 1, 2])  # A and B merged; C split 2 + 1
    no_edges = np.zeros(0, dtype=np.int64)
    plan = recluster._plan(_toy_snapshot([0, 0, 0]), labels, no_edges, no_edges, np.zeros(0))
    assert plan.kept == {0: "A", 1: "C"} and plan.renamed == {"B": "A"}
    assert plan.merges == [{"kept": "A", "absorbed": ["B"]}]
    assert plan.moved.tolist() == [False] * 7 + [True]  # B's articles are renamed, not moved
    assert [old for old, _ in plan.splits] == ["C"]


def test_a_story_mostly_outside_the_scope_is_not_merged_away():
    """B has five more articles outside the scope: its two re-clustered articles join A, and B
    stays (no alias) for the rest."""
    labels = np.array([0, 0, 0, 0, 0, 1, 1, 1])
    no_edges = np.zeros(0, dtype=np.int64)
    plan = recluster._plan(_toy_snapshot([0, 5, 0]), labels, no_edges, no_edges, np.zeros(0))
    assert plan.renamed == {} and plan.merges == []
    assert plan.moved.tolist() == [False, False, False, True, True, False, False, False]
    assert plan.left == {"B"}

"""The seeds are the product's promise in miniature: same topic is not same story."""

import json
from itertools import combinations

import pytest

from storyclust.article import parse_article
from storyclust.cli import main
from storyclust.recluster import run_recluster
from storyclust.seeds import load_gold, load_raw_seeds, load_seeds


def test_seed_loader_reads_the_date_marker():
    seeds = {s["id"]: s for s in load_seeds()}
    assert len(seeds) == 5
    assert seeds["000_3efcbe499afa60fc"]["published_at"] == "2025-04-11"
    assert seeds["000_3efcbe499afa60fc"]["text"].startswith("TEHRAN")
    assert seeds["003_2d67b2c15674fbfb"]["published_at"] is None


def test_default_settings_group_the_seeds_like_gold(engine):
    decisions = engine.ingest([parse_article(s) for s in load_seeds()])
    gold = load_gold()
    cluster = {d.id: d.cluster_id for d in decisions}
    wrong = [
        (a, b) for a, b in combinations(sorted(gold), 2)
        if (gold[a] == gold[b]) != (cluster[a] == cluster[b])
    ]
    assert wrong == [], f"pairs decided wrongly: {wrong}"
    assert cluster["002_8f7a0015df3d69a9"] == cluster["003_2d67b2c15674fbfb"]


def _wrong_pairs(cluster: dict[str, str]) -> list[tuple[str, str]]:
    gold = load_gold()
    return [(a, b) for a, b in combinations(sorted(gold), 2) if (gold[a] == gold[b]) != (cluster[a] == cluster[b])]


@pytest.mark.parametrize("order", [[0, 1, 2, 3, 4], [2, 1, 3, 0, 4]])
def test_cluster_command_groups_the_seeds_like_gold_after_its_repair(tmp_path, order):
    """`storyclust cluster` answers after repairing the run's stories (CONTRACT: "its story
    cluster at the end of the run"). Its average linkage is looser than the online bar, and used
    to carry 001 (Pezeshkian receives Iraq's foreign minister in Tehran) into 002-003 (his
    meeting with Iraq's president in Turkmenistan) on its one close pair with 002: a lone
    article must link with most of a story's members (``ReclusterConfig.lone_majority``).
    In the second order the online pass joins 001 to 002, which arrived first; the repair
    undoes that too."""
    seeds = load_seeds()
    source, out = tmp_path / "seeds.jsonl", tmp_path / "out.jsonl"
    source.write_text("".join(json.dumps(seeds[i]) + "\n" for i in order), encoding="utf-8")
    assert main(["cluster", str(source), "--output", str(out), "--data-dir", str(tmp_path / "data")]) == 0
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [line["id"] for line in lines] == [seeds[i]["id"] for i in order]
    assert _wrong_pairs({line["id"]: line["cluster_id"] for line in lines}) == []


def test_the_seeds_posted_as_their_raw_files_hold_too(tmp_path):
    """A caller that posts each seed file's text as it is, its "date 2025-04-11" marker in the
    body and no published_at: the opening date dates the article (``dateline.py``). Undated,
    000 (a phone call, April) and 004 (Zarif in Baghdad, February) both read a year 2025 and
    a Tehran dateline, and the repair joined them."""
    source, out = tmp_path / "seeds.jsonl", tmp_path / "out.jsonl"
    raw = load_raw_seeds()
    source.write_text("".join(json.dumps(r) + "\n" for r in raw), encoding="utf-8")
    assert main(["cluster", str(source), "--output", str(out), "--data-dir", str(tmp_path / "data")]) == 0
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert _wrong_pairs({line["id"]: line["cluster_id"] for line in lines}) == []


def test_the_nightly_job_keeps_the_seeds_like_gold(engine):
    engine.ingest([parse_article(s) for s in load_seeds()])
    report = run_recluster(engine)
    assert _wrong_pairs({line["id"]: line["cluster_id"] for line in report.lines}) == []
    assert report.summary()["graph"]["lone_set_apart"] >= 1

"""The seeds are the product's promise in miniature: same topic is not same story."""

from itertools import combinations

from storyclust.article import parse_article
from storyclust.seeds import load_gold, load_seeds


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

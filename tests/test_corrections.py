"""Editors' corrections on real look-alike events of ECB+: made at once through the API, kept by
every later re-clustering (while in force), refused whole with a message naming the field."""

from __future__ import annotations

from collections import Counter, defaultdict
from functools import partial

import numpy as np
import pytest

from conftest import load_dataset, reformat
from storyclust import corrections
from storyclust.linkage import average_linkage
from storyclust.recluster import EdgeScorer, ReclusterConfig, StaleSnapshot, run_recluster


def _topic(number: str) -> list[dict]:
    return [r for r in load_dataset("ecbplus-dev") if r["event_id"].split("_")[0] == number]


def _stories(engine, gold: dict[str, str]) -> dict[str, Counter]:
    """Story id -> how many of its articles each gold event has."""
    stories: dict[str, Counter] = defaultdict(Counter)
    for article_id, cluster_id, *_ in engine.store.assignments():
        stories[cluster_id][gold[article_id]] += 1
    return stories


def _mixed(stories: dict[str, Counter]) -> list[str]:
    return [c for c, events in stories.items() if len(events) > 1]


def _originals(client, story: str) -> list[str]:
    """A story's members that copy no other, as the API lists them."""
    return [m["id"] for m in client.get(f"/clusters/{story}").json()["members"]
            if m["relation"] not in corrections.COPIES]


@pytest.fixture
def teixeira(make_client):
    """ECB+ topic 10, the Angels' and the Red Sox's offers to Mark Teixeira (a week apart, one
    cast), posted and re-clustered: the job joins the two offers (docs/accuracy.md)."""
    client = make_client(repair_idle_seconds=0)
    rows = _topic("10")
    assert client.post("/articles", json={"articles": rows}).status_code == 200
    engine = client.app.state.engine
    run_recluster(engine)
    return client, engine, {r["id"]: r["event_id"] for r in rows}


def test_a_split_of_look_alike_events_holds_through_the_job_until_withdrawn(teixeira):
    client, engine, gold = teixeira
    (story,) = _mixed(_stories(engine, gold))  # the premise: one story holds both offers
    angels = [i for i in _originals(client, story) if gold[i] == "10_ecb"]

    answer = client.post("/corrections", json={"action": "split", "article_ids": angels, "cluster_id": story,
                                               "note": "two offers"})
    assert answer.status_code == 201, answer.text
    made = answer.json()
    assert made["article_ids"] == angels and made["apart_from"] == sum(gold[i] == "10_ecbplus" for i in
                                                                       _originals(client, story))
    assert client.get(f"/corrections/{made['correction_id']}").json() == made
    assert 'storyclust_corrections_total{action="split"} 1.0' in client.get("/metrics").text
    assert _mixed(_stories(engine, gold)) == []  # at once
    assert {m["id"] for m in client.get(f"/clusters/{made['cluster_id']}").json()["members"]} >= set(angels)

    report = run_recluster(engine)
    assert _mixed(_stories(engine, gold)) == [] and report.graph["corrected_pairs"] > 0
    for cluster_id, event in ((story, "10_ecbplus"), (made["cluster_id"], "10_ecb")):  # both ids lead on
        members = client.get(f"/clusters/{cluster_id}").json()["members"]
        assert {gold[m["id"]] for m in members} == {event}

    assert client.delete(f"/corrections/{made['correction_id']}").status_code == 204
    assert client.get(f"/corrections/{made['correction_id']}").status_code == 404
    run_recluster(engine)
    assert _mixed(_stories(engine, gold)), "withdrawn, the job joins the two offers again"


def test_a_move_is_kept_and_the_emptied_story_leads_to_the_one_joined(make_client):
    client = make_client(repair_idle_seconds=0)
    rows = _topic("5")  # the 76ers firing Maurice Cheeks, and hiring him years earlier
    assert client.post("/articles", json={"articles": rows}).status_code == 200
    engine = client.app.state.engine
    run_recluster(engine)
    gold = {r["id"]: r["event_id"] for r in rows}
    stories = _stories(engine, gold)
    hiring = [c for c, events in stories.items() if set(events) == {"5_ecbplus"}]
    largest = max(hiring, key=lambda c: sum(stories[c].values()))
    strays = [c for c in hiring if c != largest and sum(stories[c].values()) == 1]
    assert len(strays) >= 2  # the premise: reports of the hiring the job leaves alone
    moved = [_originals(client, c)[0] for c in strays]

    answer = client.post("/corrections", json={"action": "move", "article_ids": moved, "cluster_id": largest})
    assert answer.status_code == 201, answer.text
    assert answer.json()["placed_with"] == len(_originals(client, largest)) - len(moved)
    assert client.get(f"/clusters/{strays[0]}").json()["cluster_id"] == largest  # the emptied id resolves

    run_recluster(engine)
    assert {engine.store.get(i).cluster_id for i in moved} == {largest}
    relations = Counter(m["relation"] for m in client.get(f"/clusters/{largest}").json()["members"])
    assert relations["new_story"] == 1  # one article starts the story, the moved ones report it


def test_a_dated_job_takes_in_the_other_side_of_a_correction(make_client):
    client = make_client(repair_idle_seconds=0)
    rows = [dict(r, published_at=f"2024-05-{1 + i:02d}") for i, r in enumerate(_topic("5")[:6])]
    assert client.post("/articles", json={"articles": rows}).status_code == 200
    engine = client.app.state.engine
    first, last = rows[0]["id"], rows[-1]["id"]
    target = engine.store.get(last).cluster_id
    if engine.store.get(first).cluster_id == target:
        target = client.post("/corrections", json={"action": "split", "article_ids": [last]}).json()["cluster_id"]
    assert client.post("/corrections", json={"action": "move", "article_ids": [first],
                                              "cluster_id": target}).status_code == 201
    report = run_recluster(engine, since="2024-05-01", until="2024-05-01")  # the first article's day only
    assert report.scope["articles"] >= 2  # its partners came with it
    assert engine.store.get(first).cluster_id == engine.store.get(last).cluster_id


def test_a_job_overtaken_by_a_correction_runs_again_and_keeps_it(teixeira):
    client, engine, gold = teixeira
    (story,) = _mixed(_stories(engine, gold))
    angels = [i for i in _originals(client, story) if gold[i] == "10_ecb"]
    snapshots: list = []

    def correcting_scorer(*args):  # the correction lands while the first attempt scores
        snapshots.append(args[1])
        if len(snapshots) == 1:
            corrections.split(engine, angels)
        return EdgeScorer(*args)

    report = run_recluster(engine, edge_scorer=correcting_scorer)
    assert len(snapshots) == 2 and report.graph["corrected_pairs"] > 0  # the second read the correction
    assert _mixed(_stories(engine, gold)) == []

    one = next(ids[0] for ids in map(partial(_originals, client), _stories(engine, gold)) if len(ids) >= 2)
    before = {a[0]: a[1] for a in engine.store.assignments()}

    def splitting_scorer(*args):
        corrections.split(engine, [one])
        return EdgeScorer(*args)

    with pytest.raises(StaleSnapshot):  # without retries the write is refused: only the correction moved anything
        run_recluster(engine, config=ReclusterConfig(stale_retries=0), edge_scorer=splitting_scorer)
    after = {a[0]: a[1] for a in engine.store.assignments()}
    assert {i for i in before if before[i] != after[i]} == {one}


@pytest.mark.parametrize("body, status, message", [
    ({"action": "split", "article_ids": ["no-such"]}, 404, "article_ids: no article 'no-such'"),
    ({"action": "move", "article_ids": ["10_1ecb"], "cluster_id": "no-such"}, 404, "cluster_id: no story 'no-such'"),
    ({"action": "split", "article_ids": ["10_1ecb"], "cluster_id": "elsewhere"}, 409, "cluster_id: the articles are in"),
    ({"action": "split", "article_ids": []}, 422, "article_ids: List should have at least 1 item"),
    ({"action": "move", "article_ids": ["10_1ecb"]}, 422, "cluster_id: Field required"),
    ({"action": "merge", "article_ids": ["10_1ecb"]}, 422, "action: Input tag 'merge' found"),
    ({"article_ids": ["10_1ecb"]}, 422, "action: Field required"),
    ({"action": "split", "article_ids": "10_1ecb"}, 422, "article_ids: Input should be a valid list"),
])
def test_bad_corrections_name_the_field_and_change_nothing(teixeira, body, status, message):
    client, engine, _ = teixeira
    before = engine.store.assignments()
    answer = client.post("/corrections", json=body)
    assert answer.status_code == status and answer.json()["detail"].startswith(message), answer.text
    assert engine.store.assignments() == before
    assert client.get("/corrections").json() == {"corrections": [], "next_before": None}


def test_a_split_of_a_whole_story_or_of_several_or_of_a_lone_copy_is_a_conflict(teixeira):
    client, engine, gold = teixeira
    (story,) = _mixed(_stories(engine, gold))
    whole = _originals(client, story)
    other = next(c for c in _stories(engine, gold) if c != story)
    copy = {"id": "copy", "text": reformat(engine.store.get(whole[0]).text)}
    assert client.post("/articles", json=copy).json()["duplicate_of"] == whole[0]
    for ids, message in [(whole, "article_ids: that is every original of story"),
                         ([whole[0], _originals(client, other)[0]], "article_ids: the articles are in 2 stories"),
                         (["copy"], "article_ids: 'copy' is a copy (exact_duplicate) of")]:
        answer = client.post("/corrections", json={"action": "split", "article_ids": ids})
        assert answer.status_code == 409 and answer.json()["detail"].startswith(message), answer.text
    made = client.post("/corrections", json={"action": "split", "article_ids": [whole[0], "copy"]}).json()
    assert made["article_ids"] == [whole[0]] and engine.store.get("copy").cluster_id == made["cluster_id"]


def test_unknown_or_out_of_range_correction_ids_get_404_or_422(make_client):
    client = make_client(repair_idle_seconds=0)
    assert client.get("/corrections/7").status_code == 404
    assert client.delete("/corrections/7").json()["detail"] == "correction_id: no correction 7"
    for bad in ("0", "x", str(2**70)):
        answer = client.get(f"/corrections/{bad}")
        assert answer.status_code == 422 and answer.json()["detail"].startswith("correction_id: "), answer.text
    assert client.get("/corrections", params={"before": 2**70}).status_code == 422


def test_apart_pairs_keep_two_tight_groups_apart_in_dense_and_sparse_linkage():
    """Two groups of three whose pairs across all score 0.8: one correction pair apart is enough."""
    i, j = np.triu_indices(6, 1)
    score = np.where((i < 3) == (j < 3), 0.9, 0.8)
    assert len(set(average_linkage(6, i, j, score, 0.15).tolist())) == 1
    corrected = score.copy()
    corrected[(i == 0) & (j == 5)] = corrections.APART_SCORE
    for dense_limit in (1000, 1):  # SciPy on the dense matrix; the heap over edges
        labels = average_linkage(6, i, j, corrected, 0.15, dense_limit=dense_limit)
        assert labels.tolist() == [0, 0, 0, 1, 1, 1], dense_limit


def test_retention_forgets_a_correction_once_its_moved_articles_expire(make_client):
    client = make_client(repair_idle_seconds=0)
    rows = [dict(r, published_at=f"2024-05-{1 + i:02d}") for i, r in enumerate(_topic("5")[:6])]
    assert client.post("/articles", json={"articles": rows}).status_code == 200
    engine = client.app.state.engine
    moved, partner = rows[1]["id"], rows[-1]["id"]  # the second day's report, decided with the last day's
    story = engine.store.get(partner).cluster_id
    answer = client.post("/corrections", json={"action": "split", "article_ids": [moved]}
                         if engine.store.get(moved).cluster_id == story else
                         {"action": "move", "article_ids": [moved], "cluster_id": story})
    assert answer.status_code == 201, answer.text
    made = answer.json()
    assert client.post("/admin/expire", json={"before": "2024-05-02"}).json()["articles"] == 1
    assert client.get(f"/corrections/{made['correction_id']}").status_code == 200, "its moved article is stored"
    assert client.post("/admin/expire", json={"before": "2024-05-03"}).json()["articles"] == 1
    assert client.get(f"/corrections/{made['correction_id']}").status_code == 404
    assert engine.store.cluster_exists(story)

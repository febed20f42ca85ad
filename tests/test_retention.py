"""Retention (`storyclust expire`, `POST /admin/expire`): what is older than a date goes, as
DELETE removes one article, and everything else stays as it was: the other articles, their
stories and ids, the indexes and the term counts."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections import Counter, defaultdict

import pytest
from conftest import accepted, load_dataset
from test_cli import storyclust

from storyclust.article import parse_article, parse_published
from storyclust.engine import Engine
from storyclust.retention import expire
from storyclust.store import Store

LATE = dt.timedelta(days=3)


@pytest.fixture(scope="module")
def dated() -> tuple[list[dict], str]:
    """Twenty AllSides stories of three dated reports (April and May 2021) and one undated
    report, in date order; and a cutoff date after the first ten stories' reports, but two of
    these stories had a follow-up three days later, after the cutoff."""
    rows = [r for r in load_dataset("allsides-train") if r.get("published_at") and accepted(r)]
    by_story: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_story[row["event_id"]].append(row)
    stories = sorted((s for s in by_story.values() if len(s) == 3), key=lambda s: min(r["published_at"] for r in s))[:20]
    last_old = max(parse_published(r["published_at"]) for s in stories[:10] for r in s)
    cutoff = (last_old.astimezone(dt.timezone.utc) + dt.timedelta(days=1)).date().isoformat()
    for story in stories[8:10]:
        story[-1] = {**story[-1], "published_at": (parse_published(story[-1]["published_at"]) + LATE).isoformat()}
    undated = next(r for r in load_dataset("allsides-train", limit=50) if not r.get("published_at") and accepted(r))
    feed = sorted((r for s in stories for r in s), key=lambda r: parse_published(r["published_at"])) + [undated]
    return feed, cutoff


def placed(engine: Engine) -> dict[str, tuple[str, float]]:
    """Each stored article's story and place in time (publication, or arrival when undated)."""
    rows = engine.store.db.execute("SELECT id, cluster_id, COALESCE(published_ts, ingested_at) FROM articles")
    return {i: (c, t) for i, c, t in rows}


def test_expire_removes_what_is_older_and_leaves_the_rest_as_it_was(engine, dated):
    dated, cutoff = dated  # a bare date: the start of that day, UTC
    engine.ingest([parse_article(r) for r in dated])
    before = placed(engine)
    cutoff_ts = dt.datetime.fromisoformat(cutoff).replace(tzinfo=dt.timezone.utc).timestamp()
    old = {i for i, (_, t) in before.items() if t < cutoff_ts}
    members: dict[str, set[str]] = defaultdict(set)
    for i, (story, _) in before.items():
        members[story].add(i)
    emptied = {s for s, ids in members.items() if ids <= old}
    shortened = {s for s, ids in members.items() if ids & old and not ids <= old}
    assert 10 < len(old) < len(dated) - 10 and emptied and shortened, "the cutoff splits the feed and two stories"
    updated_at = dict(engine.store.db.execute("SELECT cluster_id, updated_at FROM clusters"))

    plan = expire(engine, cutoff, dry_run=True)
    assert placed(engine) == before, "a dry run removes nothing"
    report = expire(engine, cutoff)
    assert (plan.articles, plan.stories_removed, plan.stories_kept) == (len(old), len(emptied), len(shortened))
    assert (report.articles, report.stories_removed, report.stories_kept) == (len(old), len(emptied), len(shortened))

    after = placed(engine)
    assert after == {i: v for i, v in before.items() if i not in old}, "the rest keep their stories and times"
    assert all(engine.store.get(i) is None for i in old)
    assert not any(engine.store.cluster_exists(s) for s in emptied)
    for story in shortened:  # kept under its id, with its other members, and not made recent
        assert engine.store.cluster_size(story) == len(members[story] - old)
        assert engine.store.db.execute("SELECT updated_at FROM clusters WHERE cluster_id=?",
                                       (story,)).fetchone()[0] == updated_at[story]

    assert engine.indexes_match_store() and sorted(engine.vectors.ids().tolist()) == sorted(engine.store.rowids().tolist())
    recount: Counter = Counter()
    for profile in engine.store.profiles(engine.store.rowids().tolist()).values():
        recount.update(profile.all_terms())
    assert {t: c for t, c in engine.stats.df.items() if c} == {t: c for t, c in recount.items() if not t.startswith("=")}
    assert engine.stats.docs == len(after)
    assert expire(engine, cutoff).articles == 0, "expiring again removes nothing"

    # A restart opens the store as the expiry left it, and a late report still finds its story.
    engine.store.close()
    reopened = Engine(engine.settings, encoder=engine.encoder)
    try:
        assert reopened.indexes_match_store() and reopened.store.count() == len(after)
        late = next(r for r in dated if r["id"] in after and before[r["id"]][0] in shortened)
        repost = reopened.ingest([parse_article({**late, "id": "repost", "title": None})])[0]
        assert repost.cluster_id == before[late["id"]][0]
    finally:
        reopened.store.close()


def test_a_copy_whose_original_expires_takes_its_place(engine, dated):
    original = dated[0][0]
    copy = {"id": "wire-copy", "source": "Wire", "title": f"{original['title']} (wire)",
            "text": f"NEW YORK (Wire) - {original['text']}",
            "published_at": (parse_published(original["published_at"]) + LATE).isoformat()}
    first, second = engine.ingest([parse_article(original), parse_article(copy)])
    assert (second.relation, second.duplicate_of) == ("near_duplicate", original["id"])

    report = expire(engine, original["published_at"][:10] + "T23:59:59Z")
    assert (report.articles, report.stories_removed, report.stories_kept) == (1, 0, 1)
    heir = engine.store.get("wire-copy")
    assert (heir.relation, heir.duplicate_of, heir.cluster_id) == ("new_story", None, first.cluster_id)


@pytest.mark.parametrize("before", ["yesterday", "2021-13-01", "", "0001-01-01T00:00+01:00"])
def test_a_cutoff_that_is_not_a_date_is_refused_naming_the_field(engine, before):
    with pytest.raises(ValueError, match="^before: "):
        expire(engine, before)


def test_the_api_expires_and_refuses_bad_input_naming_the_field(make_client, dated):
    dated = dated[0]
    client = make_client(api_key="secret")
    key = {"X-API-Key": "secret"}
    assert client.post("/articles", json={"articles": dated[:6]}, headers=key).status_code == 200
    cutoff = dated[3]["published_at"]
    assert client.post("/admin/expire", json={"before": cutoff}).status_code == 401

    for body, problem in (({}, "before: "), ({"before": "soon"}, "before: 'soon' is not an ISO 8601"),
                          ({"before": 20210501}, "before: "), ({"before": cutoff, "dry_run": "maybe"}, "dry_run: "),
                          ({"before": cutoff, "dry_run": 0}, "dry_run: ")):
        response = client.post("/admin/expire", json=body, headers=key)
        assert response.status_code == 422 and response.json()["detail"].startswith(problem), (body, response.json())

    expected = sum(parse_published(r["published_at"]) < parse_published(cutoff) for r in dated[:6])
    dry = client.post("/admin/expire", json={"before": cutoff, "dry_run": True}, headers=key).json()
    assert dry["articles"] == expected and dry["dry_run"] is True
    done = client.post("/admin/expire", json={"before": cutoff}, headers=key).json()
    assert done["articles"] == expected and done["stories_removed"] + done["stories_kept"] >= 1
    assert all(client.get(f"/articles/{r['id']}", headers=key).status_code == 404 for r in dated[:expected])
    assert client.get(f"/articles/{dated[5]['id']}", headers=key).status_code == 200
    assert client.get("/healthz").status_code == 200, "the indexes still match the store"


def test_the_command_line_expires_and_refuses_a_cutoff_that_is_not_a_date(engine, dated, tmp_path):
    dated, cutoff = dated
    engine.ingest([parse_article(r) for r in dated[:12]])
    old = sum(parse_published(r["published_at"]) < parse_published(cutoff + "T00:00:00Z") for r in dated[:12])
    engine.store.close()
    data_dir = engine.settings.data_dir

    refused = storyclust("expire", "--before", "last week", "--data-dir", data_dir, cwd=tmp_path)
    assert refused.returncode == 2 and b"before: 'last week' is not an ISO 8601" in refused.stderr
    done = storyclust("expire", "--before", cutoff, "--data-dir", data_dir, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["articles"] == old > 0 and summary["dry_run"] is False
    store = Store(data_dir)
    try:
        assert store.count() == 12 - old
    finally:
        store.close()


def test_a_retention_period_expires_on_its_own_in_the_service(make_client, dated):
    """STORYCLUST_RETENTION_DAYS: the service looks every `retention_check_seconds`."""
    dated, cutoff = dated
    days = (dt.datetime.now(dt.timezone.utc) - parse_published(cutoff + "T00:00:00Z")).total_seconds() / 86400
    client = make_client(retention_days=days, retention_check_seconds=0.2)
    feed = dated[:12] + dated[-1:]  # the undated one: placed by its arrival, now
    assert client.post("/articles", json={"articles": feed}).status_code == 200
    old = [r["id"] for r in feed if r.get("published_at") and parse_published(r["published_at"]) < parse_published(cutoff + "T00:00:00Z")]
    assert 0 < len(old) < len(feed)
    deadline = time.monotonic() + 30
    while client.get(f"/articles/{old[-1]}").status_code != 404 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(client.get(f"/articles/{i}").status_code == 404 for i in old)
    assert all(client.get(f"/articles/{r['id']}").status_code == 200 for r in feed if r["id"] not in old)
    assert f"storyclust_expired_articles_total {float(len(old))}" in client.get("/metrics").text
    assert client.get("/healthz").status_code == 200


def test_an_expiry_stops_between_batches_when_asked(engine, dated):
    """A service shutting down does not wait for a long expiry: the batch in progress finishes."""
    dated, cutoff = dated
    engine.ingest([parse_article(r) for r in dated])
    stop = threading.Event()
    report = expire(engine, cutoff, batch=5, progress=lambda _: stop.set(), stop=stop)
    assert report.articles == 5 and engine.indexes_match_store()
    assert expire(engine, cutoff).articles > 0, "the rest goes at the next expiry"


def test_a_batch_that_fails_part_way_removes_nothing(engine, dated, monkeypatch):
    """One transaction a batch: a failure on its third article leaves all five, and the
    in-memory indexes and term counts as the store has them."""
    dated, cutoff = dated
    engine.ingest([parse_article(r) for r in dated[:8]])
    before, docs, df = placed(engine), engine.stats.docs, {t: c for t, c in engine.stats.df.items() if c}
    real, calls = engine.store.delete, []

    def failing(article_id, touch=True):
        calls.append(article_id)
        if len(calls) == 3:
            raise RuntimeError("disk full")
        return real(article_id, touch=touch)

    monkeypatch.setattr(engine.store, "delete", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        engine.delete_many([r["id"] for r in dated[:5]], placed_before=parse_published(cutoff + "T00:00:00Z").timestamp())
    monkeypatch.undo()
    assert len(calls) == 3 and placed(engine) == before
    assert engine.indexes_match_store() and sorted(engine.vectors.ids().tolist()) == sorted(engine.store.rowids().tolist())
    assert engine.stats.docs == docs and {t: c for t, c in engine.stats.df.items() if c} == df

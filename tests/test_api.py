"""The REST API in-process (FastAPI TestClient) on the seeds and real dev articles: every
endpoint, every kind of bad input, the API keys. The model is the session's one encoder."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator

import numpy as np
import pytest
from conftest import load_dataset
from fastapi.testclient import TestClient

from storyclust.api.app import create_app
from storyclust.api.schemas import NEW_STORY, syndicated_copy
from storyclust.config import Settings
from storyclust.engine import RELATIONS
from storyclust.seeds import load_seeds

SEEDS = load_seeds()
S002 = SEEDS[2]["id"]


def wire_copy(row: dict, new_id: str, source: str = "Wire", published_at: str | None = None) -> dict:
    """A truncated agency copy: new id, source, dateline; the first three quarters of the body."""
    body = row["text"][: len(row["text"]) * 3 // 4]
    return {"id": new_id, "title": f"{row.get('title') or ''} (wire)", "source": source,
            "text": f"NEW YORK (Wire) - {body}", "published_at": published_at or row.get("published_at")}


@pytest.fixture(scope="module")
def wcl() -> dict[str, dict]:
    return {r["id"]: r for r in load_dataset("newswcl50")}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory, encoder) -> Iterator[tuple[TestClient, dict[str, dict]]]:
    """One app with the five seeds stored (read-only tests share it), and their answers by id."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("seeded"), api_key=None, read_api_key=None)
    with TestClient(create_app(settings, encoder=encoder)) as client:
        response = client.post("/articles", json={"articles": SEEDS})
        assert response.status_code == 200, response.text
        yield client, {r["id"]: r for r in response.json()["results"]}


# --- POST /articles --------------------------------------------------------------------------

def test_batch_answers_each_article_in_order_with_matches_and_evidence(seeded):
    client, answers = seeded
    assert list(answers) == [s["id"] for s in SEEDS]
    for seed in SEEDS:
        answer = answers[seed["id"]]
        assert answer["relation"] in RELATIONS and answer["stored"] is True
        assert answer["cluster_id"] and isinstance(answer["score"], float)
        assert answer["evidence"], "every decision carries the signals behind it"
        stored = client.get(f"/articles/{seed['id']}").json()
        assert stored["text"] == seed["text"] and stored["cluster_id"] == answer["cluster_id"]
        assert stored["published_at"] == seed["published_at"]
    stories: set[str] = set()
    for seed in SEEDS:  # a new story opens a new cluster; any other relation joins an earlier one
        answer = answers[seed["id"]]
        assert (answer["cluster_id"] in stories) == (answer["relation"] != "new_story")
        stories.add(answer["cluster_id"])
    first, later = answers[SEEDS[0]["id"]], answers[SEEDS[4]["id"]]
    assert first["relation"] == "new_story" and first["matches"] == []
    assert later["matches"] and {"id", "cluster_id", "score"} <= set(later["matches"][0])
    assert {m["id"] for m in later["matches"]} <= {s["id"] for s in SEEDS[:4]}


def test_an_undated_article_is_shown_dated_by_the_date_its_body_opens_with(make_client):
    """ECB+ copies pasted from web pages open with their date and carry no published_at: the
    article keeps published_at as sent (null) and shows the time it is compared and windowed
    by; the story's first and last published times count it."""
    rows = {r["id"]: r for r in load_dataset("ecbplus-dev")}
    client = make_client()
    undated, dated = rows["9_3ecbplus"], {**rows["9_4ecbplus"], "published_at": "2009-04-28T15:30:00-04:00"}
    assert not undated.get("published_at") and undated["text"].startswith("April 27, 2009")
    answers = client.post("/articles", json={"articles": [undated, dated]}).json()["results"]
    stored = client.get("/articles/9_3ecbplus").json()
    assert stored["published_at"] is None and stored["published_time"] == "2009-04-27T00:00:00Z"
    assert client.get("/articles/9_4ecbplus").json()["published_time"] == "2009-04-28T19:30:00Z"
    story = client.get(f"/clusters/{answers[0]['cluster_id']}").json()
    assert story["first_published"] == "2009-04-27T00:00:00Z"
    member = next(m for m in story["members"] if m["id"] == "9_3ecbplus")
    assert member["published_at"] is None and member["published_time"] == "2009-04-27T00:00:00Z"


def test_wire_copy_joins_the_story_of_the_article_it_copies(make_client, wcl):
    client = make_client()
    original = wcl["0_L"]
    assert client.post("/articles", json=original).json()["relation"] == "new_story"
    copy = wire_copy(original, "wire-0_L", published_at="2018-04-18T06:00:00Z")
    answer = client.post("/articles", json=copy).json()
    assert answer["relation"] == "near_duplicate" and answer["duplicate_of"] == "0_L"
    assert answer["evidence"]["containment"] >= 0.8
    exact = client.post("/articles", json={**original, "id": "0_L-again"}).json()
    assert exact["relation"] == "exact_duplicate" and exact["duplicate_of"] == "0_L" and exact["score"] == 1.0
    assert answer["cluster_id"] == exact["cluster_id"]

    story = client.get(f"/clusters/{answer['cluster_id']}").json()
    assert story["size"] == 3
    assert [(m["id"], m["relation"]) for m in story["members"]] == [
        ("0_L", "new_story"), ("wire-0_L", "near_duplicate"), ("0_L-again", "exact_duplicate")]
    assert story["representative"]["id"] == "0_L"
    assert story["sources"] == ["Wire", "www.nytimes.com"]
    assert story["first_published"].startswith("2018-04-17T00:00:00")
    assert story["last_published"].startswith("2018-04-18T06:00:00")


def test_same_id_same_content_is_idempotent_and_changed_content_is_an_update(make_client, wcl):
    client = make_client()
    article = wcl["1_R"]
    posted = client.post("/articles", json=article)
    first = posted.json()
    repeated = client.post("/articles", json=article)
    again = repeated.json()
    assert first["stored"] is True and again["stored"] is False
    # Server-Timing splits model time from the rest; a repeat is answered from the store.
    timing = dict(entry.strip().split(";dur=") for entry in posted.headers["server-timing"].split(","))
    assert float(timing["model"]) > 0 and float(timing["engine"]) > 0
    assert repeated.headers["server-timing"].startswith("model;dur=0.0,")
    assert (again["cluster_id"], again["relation"]) == (first["cluster_id"], first["relation"])
    assert client.get("/healthz").json()["articles"] == 1

    other = client.post("/articles", json=wcl["2_L"]).json()
    updated = client.post("/articles", json={**article, "text": wcl["2_L"]["text"]}).json()
    assert updated["stored"] is True
    assert updated["relation"] == "exact_duplicate" and updated["duplicate_of"] == "2_L"
    assert updated["cluster_id"] == other["cluster_id"]
    assert client.get(f"/articles/{article['id']}").json()["text"] == wcl["2_L"]["text"]
    assert client.get(f"/clusters/{first['cluster_id']}").status_code == 404, "the emptied story is gone"
    assert client.get("/healthz").json()["articles"] == 2


def test_unknown_fields_are_ignored(make_client, wcl):
    client = make_client()
    row = wcl["3_L"]
    assert "event_id" in row
    response = client.post("/articles", json={**row, "some_new_field": [1, 2]})
    assert response.status_code == 200 and response.json()["id"] == "3_L"


# --- DELETE /articles, GET /clusters ----------------------------------------------------------

def test_delete_rechooses_the_representative_and_removes_an_emptied_story(make_client, wcl):
    client = make_client()
    cluster_id = client.post("/articles", json=wcl["0_R"]).json()["cluster_id"]
    client.post("/articles", json=wire_copy(wcl["0_R"], "wire-0_R"))
    assert client.get(f"/clusters/{cluster_id}").json()["representative"]["id"] == "0_R"

    assert client.delete("/articles/0_R").status_code == 204
    assert client.get("/articles/0_R").status_code == 404
    story = client.get(f"/clusters/{cluster_id}").json()
    assert story["size"] == 1 and story["representative"]["id"] == "wire-0_R"
    heir = client.get("/articles/wire-0_R").json()  # the copy takes the original's place, score too
    assert (heir["relation"], heir["duplicate_of"], heir["score"]) == ("new_story", None, 0.0)
    assert client.get("/healthz").status_code == 200, "indexes still match the store"

    assert client.delete("/articles/wire-0_R").status_code == 204
    assert client.get(f"/clusters/{cluster_id}").status_code == 404
    assert client.get("/clusters").json()["clusters"] == []
    assert client.delete("/articles/wire-0_R").status_code == 404


def test_clusters_are_listed_recent_first_and_paged(seeded):
    client, answers = seeded
    stories = {a["cluster_id"] for a in answers.values()}
    seen, cursor = [], None
    for _ in range(len(stories)):
        page = client.get("/clusters", params={"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
        assert len(page["clusters"]) <= 2
        seen += [c["cluster_id"] for c in page["clusters"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(stories) and len(seen) == len(stories)
    updated = [c["updated_at"] for c in client.get("/clusters", params={"limit": 50}).json()["clusters"]]
    assert updated == sorted(updated, reverse=True)
    assert client.get("/clusters", params={"since": "2999-01-01"}).json() == {"clusters": [], "next_cursor": None}
    since_2000 = client.get("/clusters", params={"since": "2000-01-01T00:00:00+02:00"}).json()
    assert len(since_2000["clusters"]) == len(stories)


# --- POST /dedup ------------------------------------------------------------------------------

def test_dedup_drops_a_syndicated_copy_in_favour_of_the_stored_original(seeded):
    client, _ = seeded
    copy = syndicated_copy(SEEDS[2])
    repeat = {**NEW_STORY, "id": "feed-repeat"}
    feed = [copy, NEW_STORY, repeat]
    result = client.post("/dedup", json={"articles": feed, "store": False}).json()
    assert result["kept"] == [NEW_STORY["id"]] and result["stored"] is False
    items = {i["id"]: i for i in result["items"]}
    assert (items[copy["id"]]["stands_for"], items[copy["id"]]["stands_for_stored"]) == (S002, True)
    assert items[copy["id"]]["relation"] == "near_duplicate"
    repeated = items["feed-repeat"]
    assert (repeated["stands_for"], repeated["stands_for_stored"]) == (NEW_STORY["id"], False)
    assert repeated["relation"] == "exact_duplicate"
    for article in feed:  # compared, not stored
        assert client.get(f"/articles/{article['id']}").status_code == 404
    assert client.get("/healthz").json()["articles"] == len(SEEDS)


def test_dedup_per_story_and_stored(make_client, wcl):
    client = make_client()
    client.post("/articles", json=wcl["0_L"])
    feed = [wire_copy(wcl["0_L"], "wire-0_L"), wcl["4_L"], wire_copy(wcl["4_L"], "wire-4_L")]
    result = client.post("/dedup", json={"articles": feed, "level": "story", "store": True}).json()
    assert result["kept"] == ["4_L"]
    items = {i["id"]: i for i in result["items"]}
    assert (items["wire-0_L"]["stands_for"], items["wire-0_L"]["stands_for_stored"]) == ("0_L", True)
    assert (items["wire-4_L"]["stands_for"], items["wire-4_L"]["stands_for_stored"]) == ("4_L", False)
    for article in feed:
        stored = client.get(f"/articles/{article['id']}").json()
        assert stored["cluster_id"] == items[article["id"]]["cluster_id"]
    again = client.post("/dedup", json={"articles": feed, "level": "story", "store": True}).json()
    assert again["kept"] == result["kept"], "re-posting a stored feed answers the same"


def test_a_bare_list_is_a_batch(make_client, wcl):
    """A JSON list posted to /articles is answered as `{"articles": [...]}` is."""
    client = make_client()
    answer = client.post("/articles", json=[wcl["0_L"], wire_copy(wcl["0_L"], "wire-0_L")])
    assert answer.status_code == 200
    results = answer.json()["results"]
    assert [r["id"] for r in results] == ["0_L", "wire-0_L"]
    assert (results[1]["relation"], results[1]["duplicate_of"]) == ("near_duplicate", "0_L")


def test_dedup_takes_a_bare_feed_and_its_options_in_the_query(make_client, wcl):
    """`POST /dedup?level=story&store=true` with the feed as a JSON list does what the same
    options in the body do, never silently the defaults; the query's options override the body's."""
    client = make_client()
    client.post("/articles", json=wcl["0_L"])
    feed = [wire_copy(wcl["0_L"], "wire-0_L"), wcl["4_L"], wire_copy(wcl["4_L"], "wire-4_L")]
    compared = client.post("/dedup", json=feed)
    assert compared.status_code == 200
    assert (compared.json()["level"], compared.json()["stored"]) == ("near_duplicate", False)
    assert compared.json()["kept"] == ["4_L"]
    assert client.get("/articles/4_L").status_code == 404
    stored = client.post("/dedup", params={"level": "story", "store": "true"}, json=feed).json()
    assert (stored["level"], stored["stored"]) == ("story", True)
    assert client.get("/articles/4_L").json()["cluster_id"] == stored["items"][1]["cluster_id"]
    overridden = client.post("/dedup", params={"store": "false"},
                             json={"articles": [*feed, {**wcl["7_L"], "id": "late"}], "store": True})
    assert overridden.json()["stored"] is False and client.get("/articles/late").status_code == 404
    for params, field in (({"level": "event"}, "level"), ({"store": "maybe"}, "store")):
        bad = client.post("/dedup", params=params, json=feed)
        assert bad.status_code == 422 and bad.json()["detail"].startswith(f"{field}: "), bad.text
    empty = client.post("/dedup", json=[])
    assert empty.status_code == 422 and empty.json()["detail"].startswith("articles: ")


# --- health, metrics, docs --------------------------------------------------------------------

def test_healthz_is_ready_only_while_the_indexes_match_the_store(seeded):
    client, _ = seeded
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["status"] == "ok" and health.json()["indexes"] == "match"
    assert health.json()["articles"] == len(SEEDS) and health.json()["model_runtime"] == "onnx"
    assert health.json()["stories"] == len({a["cluster_id"] for a in seeded[1].values()})
    engine = client.app.state.engine
    rowid = engine.store.get(S002).rowid
    vector = engine.store.embeddings([rowid], engine.encoder.dim)[rowid]
    engine.vectors.remove([rowid])
    try:
        broken = client.get("/healthz")
        assert broken.status_code == 503 and broken.json()["indexes"] == "mismatch"
    finally:
        engine.vectors.add(np.array([rowid]), vector.reshape(1, -1))
    assert client.get("/healthz").status_code == 200


def test_reads_do_not_wait_for_the_writer(seeded, monkeypatch):
    client, answers = seeded
    monkeypatch.setattr("storyclust.api.health.LOCK_WAIT_S", 0.05)
    with client.app.state.engine.lock:  # as a long batch holds it while it decides
        assert client.get(f"/articles/{S002}").status_code == 200
        assert client.get(f"/clusters/{answers[S002]['cluster_id']}").status_code == 200
        assert client.get("/clusters").status_code == 200
        busy = client.get("/healthz")
        assert busy.status_code == 200 and busy.json()["indexes"] == "busy"


def test_metrics_count_ingests_by_relation_latency_and_store_size(make_client, wcl):
    client = make_client()
    client.post("/articles", json={"articles": [wcl["0_L"], wire_copy(wcl["0_L"], "w")]})
    client.get("/articles/0_L")
    text = client.get("/metrics").text
    assert 'storyclust_ingested_articles_total{relation="new_story"} 1.0' in text
    assert 'storyclust_ingested_articles_total{relation="near_duplicate"} 1.0' in text
    timed = 'storyclust_http_request_duration_seconds_count{method="POST",route="/articles",status="200"} 1.0'
    assert timed in text
    assert 'route="/articles/{article_id:path}",status="200"' in text
    assert "storyclust_stored_articles 2.0" in text and "storyclust_stories 1.0" in text


def test_openapi_documents_every_endpoint_with_seed_examples(seeded):
    client, _ = seeded
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert {"/articles", "/articles/{article_id}", "/clusters", "/clusters/{cluster_id}", "/dedup",
            "/healthz", "/metrics"} <= set(spec["paths"])
    examples = spec["paths"]["/articles"]["post"]["requestBody"]["content"]["application/json"]["examples"]
    assert [a["id"] for a in examples["batch"]["value"]["articles"]] == [s["id"] for s in SEEDS]
    assert examples["one article"]["value"]["text"] == SEEDS[2]["text"]
    dedup = spec["paths"]["/dedup"]["post"]["requestBody"]["content"]["application/json"]["examples"]
    assert dedup["compare a feed"]["value"]["articles"][0]["id"] == f"wire-{S002}"
    for path in ("/articles", "/dedup"):  # the bare list each also takes is documented
        body = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert {"type": "array", "minItems": 1, "items": {"$ref": "#/components/schemas/Article"},
                "description": "The articles alone, as a JSON list."} in body["oneOf"], path


# --- bad input: 4xx naming the field, nothing half-written -------------------------------------

BAD_ARTICLES = [
    ({"id": "a"}, "text: Field required"),
    ({"id": "a", "text": "  <p>&nbsp;</p> "}, "text: must contain text"),
    ({"id": "a", "text": 42}, "text: Input should be a valid string"),
    ({"id": ["a"], "text": "words"}, "id: Input should be a valid string"),
    ({"id": "a", "text": "words", "published_at": "last Tuesday"}, "published_at: 'last Tuesday' is not an ISO 8601"),
    ({"id": "a", "text": "words", "published_at": "9999-12-31T23:59:59-12:00"},
     "published_at: '9999-12-31T23:59:59-12:00' is out of the supported date range"),
    ({"id": "a", "text": "words", "lang": "english!"}, "lang: must be an ISO 639-1 code"),
    ({"id": "a", "text": "lone \ud800 surrogate"}, "text: contains invalid Unicode"),
    ({"id": " ", "text": "words"}, "id: must not be blank"),
    (["not", "an", "object"], "articles[0]: Input should be a valid dictionary"),  # a bare batch
    (42, "body: Input should be a valid dictionary"),
    ({"articles": []}, "articles: List should have at least 1 item"),
    ({"articles": "none"}, "articles: Input should be a valid list"),
]


@pytest.mark.parametrize(("body", "message"), BAD_ARTICLES)
def test_a_bad_article_is_a_422_naming_the_field(seeded, body, message):
    client, _ = seeded
    raw = json.dumps(body)  # ASCII with escapes: a lone surrogate travels as \ud800
    response = client.post("/articles", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"].startswith(message), response.json()


def test_a_batch_with_one_bad_article_is_rejected_whole(make_client, wcl):
    client = make_client()
    batch = [wcl["0_L"], wcl["1_L"], {"id": "bad", "text": "<br/>"}, wcl["2_L"]]
    response = client.post("/articles", json={"articles": batch})
    assert response.status_code == 422
    message = "must contain text (it is empty after removing markup and whitespace)"
    assert response.json()["detail"] == f"articles[2].text: {message}"
    assert response.json()["errors"] == [{"field": "articles[2].text", "message": message}]
    assert client.get("/articles/0_L").status_code == 404
    assert client.get("/healthz").json()["articles"] == 0
    dedup = client.post("/dedup", json={"articles": batch, "level": "everything"})
    assert dedup.status_code == 422
    assert {e["field"] for e in dedup.json()["errors"]} == {"articles[2].text", "level"}


def test_bodies_that_are_not_json_get_a_400_saying_why(seeded):
    client, _ = seeded
    json_type = {"content-type": "application/json"}
    broken = client.post("/articles", content=b'{"id": "a",\n "text": "words"', headers=json_type)
    assert broken.status_code == 400 and broken.json()["detail"].startswith("body: not valid JSON (Expecting")
    assert "line 2" in broken.json()["detail"]
    latin1 = client.post("/articles", content='{"id": "a", "text": "café"}'.encode("latin-1"), headers=json_type)
    assert latin1.status_code == 400 and latin1.json()["detail"].startswith("body: not valid UTF-8")
    plain = client.post("/articles", content=b'{"id": "a", "text": "words"}', headers={"content-type": "text/plain"})
    assert plain.status_code == 422 and "Content-Type: application/json" in plain.json()["detail"]
    assert client.post("/dedup", content=b"", headers=json_type).json()["detail"] == "body: Field required"
    deep = client.post("/articles", content=b"[" * 100_000 + b"]" * 100_000, headers=json_type)
    assert deep.status_code == 400 and deep.json()["detail"].startswith("body: could not be read as JSON")


def test_sizes_over_the_limits_get_a_413_naming_what_is_too_large(make_client, wcl):
    row = wcl["1_M"]  # 6.7 KB of text
    client = make_client(max_article_bytes=5000, max_request_bytes=20_000, max_batch=2)
    one = client.post("/articles", json=row)
    assert one.status_code == 413 and one.json()["detail"].startswith("text: 6")
    batch = client.post("/articles", json={"articles": [wcl["0_RR"], row]})
    assert batch.status_code == 413 and batch.json()["detail"].startswith("articles[1].text: ")
    many = client.post("/dedup", json={"articles": [wcl["0_RR"], wcl["1_RR"], wcl["2_RR"]]})
    assert many.status_code == 413
    assert many.json()["detail"] == "articles: 3 articles, more than the limit of 2 per request"
    declared = client.post("/articles", json={"articles": [wcl["0_L"], wcl["1_L"], wcl["2_L"]]})
    assert declared.status_code == 413 and declared.json()["detail"].startswith("body: larger than the limit")

    def chunks() -> Iterator[bytes]:  # chunked: no Content-Length to refuse up front
        yield b'{"id": "big", "text": "'
        for _ in range(30):
            yield b"words " * 200
        yield b'"}'

    streamed = client.post("/articles", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413 and streamed.json()["detail"].startswith("body: larger than the limit")
    assert client.get("/healthz").json()["articles"] == 0


def test_unknown_ids_and_bad_parameters_are_4xx(seeded):
    client, _ = seeded
    assert client.get("/articles/no-such-id").json() == {"detail": "article_id: no article 'no-such-id'"}
    assert client.delete("/articles/no-such-id").status_code == 404
    assert client.get("/clusters/s-none").status_code == 404
    assert client.get("/articles/with/slashes").status_code == 404
    cases = {"since=yesterday": "since: 'yesterday' is not an ISO 8601", "since=0001-01-01T00:00+01:00": "since: ",
             "limit=0": "limit: Input should be greater",
             "limit=ten": "limit: Input should be a valid integer", "cursor=xyz": "cursor: not a cursor"}
    for query, message in cases.items():
        response = client.get(f"/clusters?{query}")
        assert response.status_code == 422 and response.json()["detail"].startswith(message), query


def test_a_locked_store_is_a_503_to_retry_not_a_crash(make_client, wcl, monkeypatch):
    client = make_client()

    def locked(*args, **kwargs):
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(client.app.state.engine, "ingest", locked)
    response = client.post("/articles", json=wcl["0_RR"])
    assert response.status_code == 503 and response.headers["retry-after"] == "5"
    assert "database is locked" in response.json()["detail"]


# --- API keys -----------------------------------------------------------------------------------

def test_api_keys_guard_writes_and_optionally_reads(make_client, wcl):
    client = make_client(api_key="write-secret", read_api_key="read-secret")
    write, read = {"X-API-Key": "write-secret"}, {"X-API-Key": "read-secret"}
    article = wcl["0_RR"]
    assert client.post("/articles", json=article).status_code == 401
    wrong = client.post("/articles", json=article, headers=read)
    assert wrong.status_code == 401 and wrong.json()["detail"].startswith("X-API-Key: not a valid key")
    assert client.post("/articles", json=article, headers=write).status_code == 200
    assert client.get("/articles/0_RR").json() == {"detail": "X-API-Key: header missing"}
    assert client.get("/articles/0_RR", headers=read).status_code == 200
    assert client.get("/clusters", headers=write).status_code == 200, "the write key reads too"
    feed = {"articles": [wire_copy(article, "w")]}
    assert client.post("/dedup", json=feed, headers=read).status_code == 200
    assert client.post("/dedup", json={**feed, "store": True}, headers=read).status_code == 401
    assert client.delete("/articles/0_RR", headers=read).status_code == 401
    assert client.get("/healthz").status_code == 200 and client.get("/metrics").status_code == 200

    open_reads = make_client(api_key="write-secret")
    assert open_reads.get("/clusters").status_code == 200
    assert open_reads.post("/dedup", json=feed).status_code == 200
    assert open_reads.post("/articles", json=article).status_code == 401

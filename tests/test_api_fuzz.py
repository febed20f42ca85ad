"""Bad input in random combinations (seeded, so a failure replays): the explicit cases in
test_api.py each break one field; a feed breaks several at once, and in bodies of every shape.
Whatever comes in, the API answers 2xx, 404 for what does not exist, or a 4xx whose message names
a field, and an article is stored exactly when its answer said so."""

from __future__ import annotations

import random
from typing import Any
from urllib.parse import quote

from fastapi.testclient import TestClient

from storyclust.seeds import load_seeds

SEEDS = load_seeds()
FIELDS = ("id", "text", "title", "published_at", "lang", "source", "url", "event_id")
ODD_VALUES = (None, "", " ", 0, -1, 1.5, True, [], {}, ["x"], {"a": 1}, "\u202e", "\x00\x01",
              "2024-13-45", "2024-02-30T25:00:00Z", "not a date", "9999-12-31T23:59:59-12:00",
              "0000-01-01", "2024-01-01T00:00:00+25:00", "2024", "en-GB", "EN", "zz", "<b>x</b>",
              "\U0001f642" * 50, 10**30, "x" * 300_000)
RAW_BODIES = (b"\xff\xfe{", b'{"id": "r", "text": "\xc3\x28"}', b"", b"null", b"[]", b"[1, 2]",
              b'{"articles": null}', b"{" * 5000)
REQUESTS = 300


def _article(rng: random.Random) -> dict:
    """A seed under a new id with one to three fields dropped or set to an odd value."""
    article = dict(rng.choice(SEEDS), id=f"fuzz-{rng.randrange(10**9)}")
    for _ in range(rng.randrange(1, 4)):
        field = rng.choice(FIELDS)
        if rng.random() < 0.2:
            article.pop(field, None)
        else:
            article[field] = rng.choice(ODD_VALUES)
    return article


def _request(client: TestClient, rng: random.Random) -> tuple[Any, list[dict]]:
    """One random request; returns (response, the articles it posted for storing)."""
    kind = rng.random()
    if kind < 0.4:
        article = _article(rng)
        return client.post("/articles", json=article), [article]
    if kind < 0.55:
        batch = [_article(rng) for _ in range(rng.randrange(0, 4))]
        return client.post("/articles", json={"articles": batch}), batch
    if kind < 0.65:
        headers = {"content-type": rng.choice(["application/json", "text/plain"])}
        return client.post("/articles", content=rng.choice(RAW_BODIES), headers=headers), []
    if kind < 0.8:
        body: object = {"articles": [_article(rng) for _ in range(rng.randrange(0, 4))],
                        "level": rng.choice(["story", "copy", "everything", 1, None]),
                        "store": rng.choice([False, "no", 0, "maybe", 2])}  # never stores
        if rng.random() < 0.1:
            body = rng.choice(ODD_VALUES)
        return client.post("/dedup", json=body), []
    if kind < 0.9:
        params = {"since": rng.choice(ODD_VALUES[:20]), "limit": rng.choice(ODD_VALUES[:20])}
        return client.get("/clusters", params=params), []
    if kind < 0.94:  # an editor's correction of articles that are not stored, or of no shape at all
        body = {"action": rng.choice(["split", "move", "merge", None, 1]),
                "article_ids": rng.choice([[], ["nope"], "nope", [1], [None], ["x" * 600], [SEEDS[0]["id"]] * 2]),
                "cluster_id": rng.choice(ODD_VALUES[:12]), "note": rng.choice(ODD_VALUES)}
        return client.post("/corrections", json=body if rng.random() < 0.9 else rng.choice(ODD_VALUES)), []
    path = rng.choice(["/articles/", "/clusters/", "/corrections/"]) + rng.choice(["nope", "%00", "x" * 5000, "%ff", "-1"])
    return (client.delete(path) if rng.random() < 0.3 and path.startswith("/articles") else client.get(path)), []


def test_random_bad_input_gets_2xx_or_a_4xx_naming_a_field_and_nothing_half_written(make_client):
    client = make_client()
    rng = random.Random(0)
    stored: set[str] = set()
    refused: set[str] = set()
    statuses: dict[int, int] = {}
    for _ in range(REQUESTS):
        response, posted = _request(client, rng)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        assert response.status_code < 500, response.text[:300]
        if 400 <= response.status_code < 500 and response.status_code != 404:
            detail = response.json()["detail"]
            assert isinstance(detail, str) and ": " in detail, detail  # "field: problem"
        ids = {a["id"] for a in posted if isinstance(a.get("id"), str)}
        if response.status_code == 200 and posted:
            stored |= ids
        elif posted:
            refused |= ids
    assert statuses.get(200, 0) >= 30 and statuses.get(422, 0) >= 100, statuses  # both paths exercised
    for article_id in stored:
        assert client.get(f"/articles/{quote(article_id, safe='')}").status_code == 200, article_id
    for article_id in {i for i in refused - stored if len(i) <= 512}:  # longer ones fail as ids
        assert client.get(f"/articles/{quote(article_id, safe='')}").status_code == 404, article_id
    assert client.get("/healthz").json()["articles"] == len(stored)

"""The API against its own OpenAPI document. A property-based fuzzer (schemathesis) posts what
the document allows, on a store holding the seeds: no answer may be a 5xx, every answer must be
one the document lists, with the body it describes, and a request the document allows must not
be refused. Then what the document says about keys and methods, with and without keys set."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as fuzzing

from storyclust.api.app import create_app
from storyclust.article import Article, parse_published
from storyclust.config import Settings
from storyclust.normalize import clean
from storyclust.seeds import load_seeds


# The document as the service serves it without keys (create_app starts no engine).
DOCUMENT = schemathesis.openapi.from_dict(
    create_app(Settings(data_dir=Path("unused"), api_key=None, read_api_key=None)).openapi())
OPERATIONS = {op.label: op for op in (result.ok() for result in DOCUMENT.get_all_operations())}
SENT = ("method", "url", "headers", "params", "cookies", "json", "content", "data", "files")


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory, encoder) -> Iterator[TestClient]:
    """One service with the seeds stored, which every fuzzed request goes to."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("fuzzed") / "data", fsync=False,
                        api_key=None, read_api_key=None)
    with TestClient(create_app(settings, encoder=encoder)) as client:
        assert client.post("/articles", json={"articles": load_seeds()}).status_code == 200
        yield client


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_every_answer_is_one_the_document_describes(fuzzed: TestClient, operation: str) -> None:
    """No 5xx; each status and body as documented; what the document allows is accepted."""
    @given(case=OPERATIONS[operation].as_strategy())
    @fuzzing(max_examples=25, deadline=None, derandomize=True, database=None,
             suppress_health_check=list(HealthCheck))
    def answer(case) -> None:
        sent = case.as_transport_kwargs(base_url=str(fuzzed.base_url))
        case.validate_response(fuzzed.request(**{k: v for k, v in sent.items() if k in SENT and v != {}}))

    answer()


def openapi(make_client, **keys) -> dict:
    return make_client(**keys).get("/openapi.json").json()


def security(document: dict, method: str, path: str) -> list[dict]:
    return document["paths"][path][method]["security"]


def test_a_key_is_optional_in_the_document_exactly_when_the_service_needs_none(make_client) -> None:
    """Clients and fuzzers read a listed security scheme as required."""
    open_api = openapi(make_client)
    assert security(open_api, "post", "/articles") == [{}, {"WriteKey": []}]
    assert security(open_api, "get", "/clusters") == [{}, {"ReadKey": []}]
    write_only = openapi(make_client, api_key="secret")
    assert security(write_only, "post", "/articles") == [{"WriteKey": []}]
    assert security(write_only, "delete", "/articles/{article_id}") == [{"WriteKey": []}]
    assert security(write_only, "get", "/clusters") == [{}, {"ReadKey": []}]
    both = openapi(make_client, api_key="secret", read_api_key="reader")
    assert security(both, "get", "/clusters") == [{"ReadKey": []}]
    assert "400" in open_api["paths"]["/articles"]["post"]["responses"]


def test_a_method_not_allowed_lists_every_method_of_the_path(make_client) -> None:
    """GET and DELETE /articles/{id} are two routes; Starlette's 405 named only the first's."""
    client = make_client()
    response = client.put("/articles/x", json={})
    assert response.status_code == 405 and response.headers["allow"] == "DELETE, GET"
    assert client.patch("/clusters").headers["allow"] == "GET"


@pytest.mark.parametrize("value", ["a", " x ", "<b>x</b>", "\x1c\xa0", " \u200b\ufeff ", "\u00ad", "\x01", "é"])
def test_the_documented_id_and_text_patterns_are_the_validators_rules(value: str) -> None:
    """The patterns are JavaScript's regex dialect; Python's ``re`` reads these the same way."""
    properties = Article.model_json_schema()["properties"]
    assert bool(re.search(properties["text"]["pattern"], value)) == bool(clean(value))
    assert bool(re.search(properties["id"]["pattern"], value)) == bool(value.strip())


@pytest.mark.parametrize("value", ["2025-04-15t09:30:00z", "2016-12-31T23:59:60Z", "2025-04-15 09:30:00+02:00"])
def test_rfc3339_datetimes_are_dates(value: str) -> None:
    """RFC 3339 allows a lower-case "t" and "z" and a leap second; ``fromisoformat`` does not."""
    assert parse_published(value).year in (2016, 2025)

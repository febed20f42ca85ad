"""Input validation (CONTRACT "Article"): every problem is named by field; unknown fields are
ignored; the fingerprint decides what counts as "the same id and the same content"."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import load_dataset

from storyclust.article import ArticleError, parse_article, parse_published


@pytest.fixture(scope="module")
def row() -> dict:
    return load_dataset("ecbplus-dev", limit=1)[0]


def test_every_dev_article_is_valid_and_event_id_is_ignored():
    for name in ("ecbplus-dev", "clustmcms-dev", "newswcl50"):
        for r in load_dataset(name):
            article = parse_article(r, max_text_bytes=1_000_000)
            assert article.id == r["id"] and article.text == r["text"]
            assert not hasattr(article, "event_id")


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"text": None}, "text", "valid string"),
        ({"text": 123}, "text", "valid string"),
        ({"text": ""}, "text", "must contain text"),
        ({"text": " <p>&nbsp;</p> \u200b\n"}, "text", "must contain text"),
        ({"text": "bad \ud800 surrogate"}, "text", "lone surrogate"),
        ({"text": "nul \x00 byte"}, "text", "NUL"),
        ({"id": 42}, "id", "valid string"),
        ({"id": "   "}, "id", "blank"),
        ({"id": ""}, "id", "at least 1"),
        ({"id": "x" * 513}, "id", "at most 512"),
        ({"title": ["a"]}, "title", "valid string"),
        ({"published_at": "2024-02-30"}, "published_at", "ISO 8601"),
        ({"published_at": "yesterday"}, "published_at", "ISO 8601"),
        ({"published_at": 20240105}, "published_at", "valid string"),
        ({"lang": "english"}, "lang", "ISO 639-1"),
        ({"lang": "e1"}, "lang", "ISO 639-1"),
    ],
)
def test_bad_field_is_named(row, change, field, message):
    with pytest.raises(ArticleError) as error:
        parse_article({**row, **change})
    assert str(error.value).startswith(f"{field}:")
    assert message in str(error.value)


def test_missing_text_and_non_objects(row):
    data = dict(row)
    del data["text"]
    with pytest.raises(ArticleError, match=r"^text: Field required"):
        parse_article(data)
    for value in ([row], "text", 5, None):
        with pytest.raises(ArticleError, match=r"^article: expected a JSON object"):
            parse_article(value)


def test_size_limit_is_in_utf8_bytes(row):
    text = "\u00e9" * 500  # 1000 bytes in UTF-8
    assert parse_article({**row, "text": text}, max_text_bytes=1000).text == text
    with pytest.raises(ArticleError, match=r"^text: larger than the limit of 999 bytes"):
        parse_article({**row, "text": text}, max_text_bytes=999)


@pytest.mark.parametrize(
    ("value", "iso_utc"),
    [
        ("2013-05-03", "2013-05-03T00:00:00+00:00"),
        ("2013-05-03T10:30:00", "2013-05-03T10:30:00+00:00"),
        ("2013-05-03T10:30:00Z", "2013-05-03T10:30:00+00:00"),
        ("2013-05-03T10:30:00+02:00", "2013-05-03T08:30:00+00:00"),
        ("2013-05-03T10:30:00.123-05:00", "2013-05-03T15:30:00.123000+00:00"),
        ("  2013-05-03 10:30 ", "2013-05-03T10:30:00+00:00"),
    ],
)
def test_dates_with_and_without_offset(value, iso_utc):
    assert parse_published(value).isoformat() == iso_utc
    article = parse_article({"id": "a", "text": "x", "published_at": value})
    assert article.published_ts == dt.datetime.fromisoformat(iso_utc).timestamp()


def test_blank_optional_fields_are_absent(row):
    article = parse_article({**row, "published_at": "  ", "lang": ""})
    assert article.published_at is None and article.published_ts is None and article.lang is None


def test_lang_is_normalised_to_its_base_code(row):
    assert parse_article({**row, "lang": "EN_us"}).lang == "en"
    assert parse_article({**row, "lang": "zh-Hans"}).lang == "zh"


def test_a_language_named_any_standard_way_gets_one_code(row):
    """Feeds name languages by ISO 639-2/3 codes (NewsML's "eng"), deprecated ones (Java's "iw"
    for Hebrew) or individual languages ("cmn"); the detector answers in ISO 639-1. Articles of
    one language must meet, so each is read as its one code; "und" (undetermined) as absent."""
    named = {"eng": "en", "ENG": "en", "en-GB": "en", "ger": "de", "deu": "de", "fre": "fr",
             "iw": "he", "in": "id", "cmn": "zh", "zho": "zh", "zsm": "ms", "msa": "ms", "ms": "ms"}
    assert {code: parse_article({**row, "lang": code}).lang for code in named} == named
    assert parse_article({**row, "lang": "und"}).lang is None
    assert parse_article({**row, "lang": "zz"}).lang is None  # no such language: detected as if absent
    with pytest.raises(ArticleError, match="lang"):
        parse_article({**row, "lang": "ÄÄ"})


def test_fingerprint_same_content_same_print(row):
    a = parse_article(row)
    assert parse_article({**row, "event_id": "other", "unknown": {"x": 1}}).fingerprint() == a.fingerprint()
    assert parse_article({**row, "lang": "EN"}).fingerprint() == parse_article({**row, "lang": "en"}).fingerprint()
    for change in ({"text": row["text"] + "!"}, {"title": "Another headline"},
                   {"published_at": "2013-05-04"}, {"source": "example.com"}, {"url": "https://x.example/a"}):
        assert parse_article({**row, **change}).fingerprint() != a.fingerprint(), change

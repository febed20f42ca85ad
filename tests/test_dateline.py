"""An undated article is dated by the date its body opens with (``dateline.py``)."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import load_dataset

from storyclust.article import parse_article
from storyclust.dateline import dateline_date, is_date_stamp
from storyclust.profile import build_profile, headline


def _day(ts: float | None) -> str | None:
    return None if ts is None else dt.datetime.fromtimestamp(ts, dt.timezone.utc).date().isoformat()


def test_undated_ecbplus_reports_are_dated_by_their_opening_date():
    """ECB+ copies pasted from web pages open with their date in several forms and carry no
    published_at; a date further into the body is an event's, not the report's."""
    rows = {r["id"]: r for r in load_dataset("ecbplus-dev")}
    expected = {"1_2ecbplus": "2013-05-02",    # "May 2, 2013, 1: 12 PM"
                "3_11ecbplus": "2010-01-12",   # "12 January 2010 @ 09: 29 pm"
                "10_17ecbplus": "2008-12-16",  # "DECEMBER 16, 2008"
                "25_3ecbplus": "2011-01-05",   # "Jan 05, 2011"
                "14_1ecbplus": "2013-07-21",   # "21 July 2013 Last updated at 11: 11 GMT"
                "12_1ecbplus": "2011-11-11",   # "Updated: November 11, 2011 20: 09 IST"
                "20_10ecbplus": "2005-11-27",  # "27 NOVEMBER, 2005"
                "27_10ecbplus": "2013-09-18"}  # "September 18th, 2013, 05: 31 GMT"
    for article_id, day in expected.items():
        assert not rows[article_id].get("published_at")
        assert _day(parse_article(rows[article_id]).published_ts) == day, article_id
    dated = sum(parse_article(r).published_ts is not None for r in rows.values() if not r.get("published_at"))
    assert dated == 23  # the copies that open with their date (each checked by eye), not every body naming one


def test_published_at_wins_over_the_opening_date_and_stays_as_sent():
    text = "May 2, 2013\nLawyer: the actress checks into rehab."
    article = parse_article({"id": "a", "text": text, "published_at": "2013-05-03T08:00:00Z"})
    assert _day(article.published_ts) == "2013-05-03"
    undated = parse_article({"id": "b", "text": text})
    assert undated.published_at is None and _day(undated.published_ts) == "2013-05-02"


@pytest.mark.parametrize("text, day", [
    (" date 2025-04-11 TEHRAN - In a phone call on Friday", "2025-04-11"),
    ("Published: 2024-03-01T10:00Z\nThe ministry said", "2024-03-01"),
    ("<p>Jan. 5, 2011</p><p>Saints place Pierre Thomas on injured reserve</p>", "2011-01-05"),
    ("30 June 2011 \u2013 The United Nations independent expert", "2011-06-30"),
    ("September 18th, 2013, 05: 31 GMT Microsoft", "2013-09-18"),
    ("2nd March 2012 - The council", "2012-03-02"),
    ("March 1stly, 2012", None),
    ("\uff12\uff10\uff11\uff13\u5e745\u67082\u65e5\u7535 \u8bb0\u8005", "2013-05-02"),   # full-width digits
    ("\u636e2013\u5e745\u67082\u65e5", None),
    ("On May 2, 2013 the actress checked into rehab.", None),   # a date inside the text
    ("2024-13-01 figures", None),                                # not a date
    ("May 32, 2013 was", None),
    ("1200 people, 1999", None),
    ("Mayor 2, 2013 candidates", None),
])
def test_the_opening_date_forms(text, day):
    assert _day(parse_article({"id": "x", "text": text}).published_ts) == day
    if day is None:
        assert dateline_date(text) is None


def test_a_title_that_is_only_a_date_stamp_is_not_read_as_the_headline():
    """ECB+ gives the first line of a scraped page as the title, for 50 of its reports a date
    stamp. Read as a headline its figures made a headline-figure conflict with every other
    report of the event ("12 January 2010 @ 09: 29 pm": 12, 09, 29); the profile reads the next
    line, the real headline, instead. No headline of the other dev sets is taken for a stamp."""
    ecb = {r["id"]: r for r in load_dataset("ecbplus-dev")}
    stamps = [r for r in ecb.values() if is_date_stamp(r.get("title") or "")]
    assert len(stamps) >= 45
    for article_id in ("3_11ecbplus", "5_5ecbplus", "1_2ecbplus", "27_10ecbplus", "20_10ecbplus"):
        assert is_date_stamp(ecb[article_id]["title"]), ecb[article_id]["title"]
    row = ecb["3_11ecbplus"]
    assert headline(row["title"], row["text"]) == "FALLOUT CONTINUES AFTER BRAZEN ESCAPE"
    profile = build_profile(row["title"], row["text"], "en")
    assert profile.headline_numbers == frozenset() and "escape" in profile.title_terms
    for name in ("allsides-train", "clustmcms-dev", "newswcl50"):
        titles = [r["title"] for r in load_dataset(name) if r.get("title")]
        assert len(titles) > 40 and not [t for t in titles if is_date_stamp(t)], name
    assert not is_date_stamp("May Day rally draws 5,000") and not is_date_stamp("Iran and Iraq sign 5 deals")
    assert headline("Iran and Iraq sign 5 deals", "Iran and Iraq sign 5 deals\nBaghdad -") == "Iran and Iraq sign 5 deals"

"""Sentence alignment on real ECB+ articles: the vectorised version equals the definition
written out pair by pair, and it separates same-event pairs from same-topic pairs."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from conftest import load_dataset

from storyclust import alignment, batch_features, term_stats
from storyclust.alignment import sentence_alignment
from storyclust.profile import Profile, build_profile, sentence_buckets
from storyclust.term_stats import (BOILERPLATE_SENTENCE_MAX_DOCS, BOILERPLATE_SENTENCE_SHARE, BOILERPLATE_SHARE,
                                   TermStats, common_limit)

ROWS = [r for r in load_dataset("ecbplus-dev", limit=300) if r.get("text")]


@pytest.fixture(scope="module")
def corpus() -> tuple[list[Profile], TermStats]:
    profiles = [build_profile(r.get("title"), r["text"]) for r in ROWS]
    stats = TermStats()
    for p in profiles:
        stats.add(p.all_terms())
    return profiles, stats


def by_definition(mine: Profile, other: Profile, stats: TermStats) -> float:
    """Mean of the three best (IDF-weighted Jaccard) scores of each sentence with its best match;
    a stem in more than a fifth of the articles weighs 0, a boilerplate sentence and the closing
    sentence of an article of three or more match nothing."""
    if not mine.sentences or not other.sentences:
        return 0.0

    def idf(stem: int) -> float:
        return 0.0 if stats.df[f"~{stem}"] > common_limit(stats.docs, BOILERPLATE_SHARE) else stats.idf(f"~{stem}")

    def boilerplate(s: tuple[int, ...]) -> bool:
        return bool(stats.boilerplate_sentences(sentence_buckets(np.array(s, dtype=np.int64), np.array([len(s)])))[0])

    def closing(sentences: tuple, k: int) -> bool:
        return len(sentences) >= 3 and k == len(sentences) - 1

    def similarity(s: tuple[int, ...], t: tuple[int, ...]) -> float:
        if boilerplate(s) or boilerplate(t):
            return 0.0
        weight = lambda stems: sum(map(idf, stems))  # noqa: E731
        shared = weight(set(s) & set(t))
        union = weight(s) + weight(t) - shared
        return shared / union if union > 0 else 0.0

    table = [[0.0 if closing(mine.sentences, i) or closing(other.sentences, j) else similarity(s, t)
              for j, t in enumerate(other.sentences)] for i, s in enumerate(mine.sentences)]
    best = [max(row) for row in table] + [max(column) for column in zip(*table)]
    return float(np.mean(sorted(best, reverse=True)[:3]))


def test_equals_the_definition(corpus):
    profiles, stats = corpus
    rng = random.Random(7)
    for _ in range(30):
        mine = rng.choice(profiles)
        others = rng.sample(profiles, 12) + [Profile(*(frozenset(),) * 5)]  # one without sentences
        got = sentence_alignment(mine, others, stats)
        assert got[-1] == 0.0
        assert np.allclose(got, [by_definition(mine, o, stats) for o in others], atol=1e-12)


def test_an_article_aligns_fully_with_itself_and_not_with_an_empty_one(corpus):
    profiles, stats = corpus
    with_sentences = next(p for p in profiles if len(p.sentences) >= 3)
    assert sentence_alignment(with_sentences, [with_sentences], stats)[0] == pytest.approx(1.0)
    assert sentence_alignment(Profile(*(frozenset(),) * 5), [with_sentences], stats).tolist() == [0.0]


def test_same_event_pairs_align_better_than_same_topic_pairs(corpus):
    """ECB+ topics hold two look-alike events: pairs of one event must align better."""
    profiles, stats = corpus
    topic = [r["id"].split("_")[0] for r in ROWS]  # ECB+ ids are <topic>_<document>
    same, other = [], []
    for i, r in enumerate(ROWS):
        for j in range(i + 1, len(ROWS)):
            if ROWS[j]["event_id"] == r["event_id"]:
                same.append((i, j))
            elif topic[j] == topic[i]:
                other.append((i, j))
    rng = random.Random(3)
    same, other = rng.sample(same, min(300, len(same))), rng.sample(other, min(300, len(other)))
    score = lambda pairs: np.mean([sentence_alignment(profiles[i], [profiles[j]], stats)[0] for i, j in pairs])  # noqa: E731
    assert score(same) > 1.5 * score(other)


def with_a_footer(profiles: list[Profile], footer: str, every: int) -> tuple[list[Profile], TermStats, list[int]]:
    """The corpus with ``footer`` as the last line of every ``every``-th article: its profiles,
    their term statistics and the articles carrying it."""
    footed = [build_profile(r.get("title"), f"{r['text']}\n{footer}") if i % every == 0 else profiles[i]
              for i, r in enumerate(ROWS)]
    footed_stats = TermStats()
    for p in footed:
        footed_stats.add(p.all_terms())
    return footed, footed_stats, list(range(0, len(ROWS), every))


def job_alignment(profiles: list[Profile], stats: TermStats, mine: int, others: list[int]) -> np.ndarray:
    """The nightly job's vectorised alignment (``ProfileTable.alignment``) of ``mine`` with each
    of ``others``, over ``profiles`` as the store."""
    table = batch_features.ProfileTable([p.to_json() for p in profiles], dict(stats.df), stats.docs,
                                        sentence_df=stats.sentence_df)
    return table.alignment(np.full(len(others), mine), np.array(others))


def test_a_boilerplate_sentence_in_a_fifth_of_the_feed_aligns_nothing(corpus, monkeypatch):
    """Two copies of one agency footer are identical sentences, whose IDF-weighted Jaccard is 1.0
    however common their words: with the footer on a third of the articles, the alignment of any
    two of them is what it was without it (before: two of the three best pairs, >= 0.67)."""
    profiles, stats = corpus
    monkeypatch.setattr(alignment, "CLOSING_MIN_SENTENCES", math.inf)  # the count rules alone
    footer = ("Copyright 2024 The Associated Press. All rights reserved. This material may not be "
              "published, broadcast, rewritten or redistributed without permission.")
    footed, footed_stats, carrying = with_a_footer(profiles, footer, 3)
    mine, others = carrying[0], carrying[1:]
    plain = sentence_alignment(profiles[mine], [profiles[i] for i in others], stats)
    with_footer = sentence_alignment(footed[mine], [footed[i] for i in others], footed_stats)
    assert plain.mean() < 0.3
    np.testing.assert_allclose(with_footer, plain, atol=0.05)


def test_a_sentence_in_a_tenth_of_the_feed_aligns_nothing(corpus, monkeypatch):
    """An agency footer on the agency's share of a feed (here a tenth: under the fifth at which
    its words are boilerplate) is still the same sentence everywhere: once it recurs in a
    twentieth of the store (and 20 articles) it aligns with nothing, online and in the nightly
    job's vectorised form (before: 1.0 between any two articles carrying it)."""
    profiles, stats = corpus
    monkeypatch.setattr(alignment, "CLOSING_MIN_SENTENCES", math.inf)  # the count rules alone
    footer = ("This material may not be published, broadcast, rewritten or redistributed without "
              "permission of the agency.")
    footed, footed_stats, carrying = with_a_footer(profiles, footer, 10)
    assert len(carrying) > 20 and len(carrying) < common_limit(len(ROWS), BOILERPLATE_SHARE)
    mine, others = carrying[0], carrying[1:]
    plain = sentence_alignment(profiles[mine], [profiles[i] for i in others], stats)
    with_footer = sentence_alignment(footed[mine], [footed[i] for i in others], footed_stats)
    assert plain.mean() < 0.3
    np.testing.assert_allclose(with_footer, plain, atol=0.05)
    assert np.allclose(with_footer, [by_definition(footed[mine], footed[i], footed_stats) for i in others], atol=1e-12)
    np.testing.assert_allclose(job_alignment(footed, footed_stats, mine, others), with_footer, atol=1e-12)


def test_a_site_chrome_sentence_in_over_a_hundred_articles_aligns_nothing(monkeypatch):
    """One outlet's chrome (a paywall notice) on its share of a store of many outlets stays under
    a twentieth however many of its pages are stored: past ``BOILERPLATE_SENTENCE_MAX_DOCS``
    articles it aligns with nothing, whatever the store's size (with the share alone, it raised
    the alignment of any two of that outlet's reports, of whatever story, by more than 0.3)."""
    monkeypatch.setattr(alignment, "CLOSING_MIN_SENTENCES", math.inf)  # the count rules alone
    rows = [r for r in load_dataset("allsides-train", limit=3000) if r.get("text")]
    chrome = "You have reached your limit of free articles this month, subscribe to the Herald for full access."
    carrying = list(range(0, len(rows), 25))
    carries = set(carrying)
    assert BOILERPLATE_SENTENCE_MAX_DOCS < len(carrying) < BOILERPLATE_SENTENCE_SHARE * len(rows)
    plain = [build_profile(r.get("title"), r["text"]) for r in rows]
    chromed = [build_profile(r.get("title"), f"{r['text']}\n{chrome}") if i in carries else plain[i]
               for i, r in enumerate(rows)]

    def aligned(profiles: list[Profile]) -> np.ndarray:
        stats = TermStats()
        for p in profiles:
            stats.add(p.all_terms())
        return sentence_alignment(profiles[carrying[0]], [profiles[i] for i in carrying[1:]], stats)

    np.testing.assert_allclose(aligned(chromed), aligned(plain), atol=0.05)
    monkeypatch.setattr(term_stats, "BOILERPLATE_SENTENCE_MAX_DOCS", math.inf)  # the share alone
    assert aligned(chromed).mean() > aligned(plain).mean() + 0.3


def test_a_closing_line_of_site_chrome_aligns_nothing(corpus, monkeypatch):
    """One site's chrome on a handful of its pages is under every count of the boilerplate rules,
    and two copies of a sentence align at 1.0: as each page's closing sentence it aligns with
    nothing, online, by the definition and in the nightly job's vectorised form (without the
    closing rule, two of those pages of different stories align at 0.6 or more)."""
    profiles, stats = corpus
    chrome = ("Registered users can read up to three reports a month for free and sign up for the "
              "Herald Morning newsletter to get the top headlines in their inbox.")
    chromed, chromed_stats, carrying = with_a_footer(profiles, chrome, 60)
    pages = [i for i in carrying if len(profiles[i].sentences) >= 3]
    assert len({ROWS[i]["event_id"] for i in pages}) == len(pages) >= 4  # different stories
    mine, others = pages[0], pages[1:]
    plain = sentence_alignment(profiles[mine], [profiles[i] for i in others], stats)
    with_chrome = sentence_alignment(chromed[mine], [chromed[i] for i in others], chromed_stats)
    assert plain.max() < 0.3
    np.testing.assert_allclose(with_chrome, plain, atol=0.05)
    assert np.allclose(with_chrome, [by_definition(chromed[mine], chromed[i], chromed_stats) for i in others],
                       atol=1e-12)
    np.testing.assert_allclose(job_alignment(chromed, chromed_stats, mine, others), with_chrome, atol=1e-12)
    monkeypatch.setattr(alignment, "CLOSING_MIN_SENTENCES", math.inf)
    assert sentence_alignment(chromed[mine], [chromed[i] for i in others], chromed_stats).min() >= 0.6

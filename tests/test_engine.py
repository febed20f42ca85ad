"""Engine.ingest on real dev articles: the four relations, duplicate links and clusters, languages
and scripts, very long texts, and texts without words."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from conftest import load_dataset

from storyclust.article import parse_article
from storyclust.engine import RELATIONS, embed_text
from storyclust.normalize import content_hash

COPIES = ("exact_duplicate", "near_duplicate")


@pytest.fixture(scope="module")
def ecb() -> dict[str, dict]:
    return {r["id"]: r for r in load_dataset("ecbplus-dev")}


@pytest.fixture(scope="module")
def mcms() -> list[dict]:
    return load_dataset("clustmcms-dev")


def ingest(engine, rows):
    return engine.ingest([parse_article(r) for r in rows])


def assert_well_formed(engine, decisions):
    """Every decision: one known relation, duplicate_of exactly for copies, copies in the
    cluster of the article they copy, and the store agrees with the answer."""
    for d in decisions:
        assert d.relation in RELATIONS
        line = d.line()
        assert set(line) == {"id", "cluster_id", "relation", "duplicate_of", "score"}
        assert line["cluster_id"] and isinstance(line["score"], float)
        stored = engine.store.get(d.id)
        assert (stored.cluster_id, stored.relation, stored.duplicate_of) == (d.cluster_id, d.relation, d.duplicate_of)
        if d.relation in COPIES:
            original = engine.store.get(d.duplicate_of)
            assert original is not None and original.id != d.id
            assert original.cluster_id == d.cluster_id
        else:
            assert d.duplicate_of is None


# --- the four relations -----------------------------------------------------------------------
def test_each_relation_on_real_articles(engine, ecb):
    first, wire, other_topic = ecb["29_5ecbplus"], ecb["29_9ecbplus"], ecb["1_10ecb"]
    story = [r for r in ecb.values() if r["event_id"] == "1_ecbplus"][:6]
    exact = {**first, "id": "exact-copy-of-29_5", "title": "Another headline",
             "text": "<p>" + first["text"].replace("\n", "</p>\n<p>").upper() + "</p>"}
    decisions = ingest(engine, [first, other_topic, exact, wire, *story])
    assert_well_formed(engine, decisions)
    by_id = {d.id: d for d in decisions}

    assert by_id["29_5ecbplus"].relation == "new_story"
    assert by_id["1_10ecb"].relation == "new_story"
    assert by_id["1_10ecb"].cluster_id != by_id["29_5ecbplus"].cluster_id

    assert by_id["exact-copy-of-29_5"].relation == "exact_duplicate"
    assert by_id["exact-copy-of-29_5"].duplicate_of == "29_5ecbplus"
    assert by_id["exact-copy-of-29_5"].score == 1.0

    # 29_9ecbplus is the same wire story as 29_5ecbplus, republished with small differences.
    assert content_hash(wire["text"]) != content_hash(first["text"])
    assert by_id["29_9ecbplus"].relation == "near_duplicate"
    assert by_id["29_9ecbplus"].duplicate_of in {"29_5ecbplus", "exact-copy-of-29_5"}
    assert by_id["29_9ecbplus"].cluster_id == by_id["29_5ecbplus"].cluster_id
    assert {"jaccard", "containment"} <= set(by_id["29_9ecbplus"].evidence)

    # Other outlets' reports of one event: at least one joins, and only a story of its own event.
    same = [by_id[r["id"]] for r in story if by_id[r["id"]].relation == "same_story"]
    assert same, [by_id[r["id"]].line() for r in story]
    event_of_cluster = {by_id[r["id"]].cluster_id: r["event_id"] for r in [first, other_topic, *story]
                        if by_id[r["id"]].relation == "new_story"}
    for d in same:
        assert event_of_cluster[d.cluster_id] == "1_ecbplus"
        assert d.score >= engine.threshold and d.matches
    assert by_id[story[0]["id"]].relation == "new_story"
    assert all(by_id[r["id"]].score < engine.threshold for r in story if by_id[r["id"]].relation == "new_story")


def test_copy_inside_one_batch_and_repeat_in_one_batch(engine, ecb):
    a = ecb["3_1ecb"]
    decisions = ingest(engine, [a, {**a, "id": "copy"}, a])
    assert [d.relation for d in decisions] == ["new_story", "exact_duplicate", "new_story"]
    assert decisions[1].duplicate_of == "3_1ecb" and decisions[1].cluster_id == decisions[0].cluster_id
    assert decisions[2].line() == decisions[0].line() and decisions[2].stored is False
    assert engine.store.count() == 2


def test_dry_run_decides_but_keeps_nothing(engine, ecb):
    a, b = ecb["3_1ecb"], ecb["3_2ecb"]
    ingest(engine, [a])
    dry = engine.ingest([parse_article({**a, "id": "copy"}), parse_article(b)], dry_run=True)
    assert [d.relation for d in dry][0] == "exact_duplicate"
    assert engine.store.count() == 1 and engine.indexes_match_store()
    wet = ingest(engine, [{**a, "id": "copy"}, b])
    assert [d.line() for d in wet] == [d.line() for d in dry]


def test_vectors_encoded_ahead_give_the_same_answers(engine, ecb, settings, encoder):
    """`storyclust cluster` has the next batches encoded in the model's workers
    (Engine.embed_later) while this one is decided: the answers must be those of the plain
    path, repeats in the batch included."""
    from storyclust.engine import Engine

    rows = [r for r in ecb.values() if r["id"].split("_")[0] in ("1", "3")][:14]
    ahead = Engine(settings.model_copy(update={"data_dir": settings.data_dir.parent / "ahead"}), encoder=encoder)
    try:
        plain = [ingest(engine, rows[:6]), ingest(engine, rows[3:])]
        batches = [[parse_article(r) for r in rows[:6]], [parse_article(r) for r in rows[3:]]]
        queued = [ahead.embed_later(batch) for batch in batches]  # both queued before either is decided
        early = [ahead.ingest(batch, embeddings=vectors.result()) for batch, vectors in zip(batches, queued)]
        assert [[d.line() for d in b] for b in early] == [[d.line() for d in b] for b in plain]
        assert sum(d.stored is False for d in early[1]) == 3  # rows 3-5 came again
        assert ahead.store.count() == engine.store.count() == len(rows)
        assert np.array_equal(ahead.store.embeddings([1], encoder.dim)[1], engine.store.embeddings([1], encoder.dim)[1])
    finally:
        ahead.store.close()


def test_time_window_separates_reports_far_apart(engine, ecb, settings, encoder):
    from storyclust.engine import Engine

    a, b = ecb["3_3ecb"], ecb["3_6ecb"]
    background = [r for r in ecb.values() if r["id"].split("_")[0] in ("5", "8", "12")][::12]
    far_engine = Engine(settings.model_copy(update={"data_dir": settings.data_dir.parent / "far"}), encoder=encoder)
    try:
        for eng, dates in ((engine, ("2008-04-01", "2008-04-03T12:00:00+01:00")),
                           (far_engine, ("2008-04-01", "2008-06-01T12:00:00+01:00"))):
            ingest(eng, background)
            pair = ingest(eng, [{**a, "published_at": dates[0]}, {**b, "published_at": dates[1]}])
            if eng is engine:
                assert pair[1].relation == "same_story" and pair[1].cluster_id == pair[0].cluster_id
            else:
                assert pair[1].cluster_id != pair[0].cluster_id
    finally:
        far_engine.store.close()


def test_one_sentence_brief_is_not_a_copy_of_a_long_article(engine, ecb):
    """26_5ecbplus is one sentence (11 shingles); 26_9ecbplus is a long article (1197 shingles)
    that contains ~2 of them. With MinHash, 2 of 128 slots agree (J ~0.016), and the containment
    estimated from that, J(|A|+|B|)/(1+J)/|A|, is ~1.0: the brief was called a near-duplicate
    although only 18% of it is in the long article."""
    long_article, brief = ecb["26_9ecbplus"], ecb["26_5ecbplus"]
    from storyclust.minhash import shingles

    a, b = shingles(brief["text"], 3), shingles(long_article["text"], 3)
    assert len(a & b) / len(a) < 0.3  # truly not contained
    decisions = ingest(engine, [long_article, brief])
    assert decisions[1].relation != "near_duplicate", decisions[1].evidence


def test_texts_without_words_are_not_copies_of_each_other(engine):
    decisions = ingest(engine, [{"id": "e1", "text": "\U0001F600\U0001F600\U0001F600"},
                                {"id": "e2", "text": "\U0001F389 \U0001F389"},
                                {"id": "p1", "text": "!!! ???"},
                                {"id": "e3", "text": "<b>\U0001F600\U0001F600\U0001F600</b>"}])
    assert_well_formed(engine, decisions)
    assert [d.relation for d in decisions[:3]] == ["new_story"] * 3
    assert decisions[3].relation == "exact_duplicate" and decisions[3].duplicate_of == "e1"


# --- languages and scripts ----------------------------------------------------------------------
def test_languages_and_scripts_ingest_and_get_a_language(engine, mcms):
    zh = [r for r in mcms if r["lang"] == "zh"][:2]
    ms = [r for r in mcms if r["lang"] == "ms"][:2]
    made = [
        ("ar", "\u0642\u0627\u0644 \u0627\u0644\u0631\u0626\u064a\u0633 \u064a\u0648\u0645 \u0627\u0644\u0627\u062b\u0646\u064a\u0646 \u0625\u0646 \u0627\u0644\u0645\u062d\u0627\u062f\u062b\u0627\u062a \u0645\u0639 \u0627\u0644\u062c\u0627\u0646\u0628 \u0627\u0644\u0622\u062e\u0631 \u0633\u062a\u0633\u062a\u0645\u0631 \u0627\u0644\u0623\u0633\u0628\u0648\u0639 \u0627\u0644\u0645\u0642\u0628\u0644 \u0641\u064a \u0627\u0644\u0639\u0627\u0635\u0645\u0629."),
        ("ru", "\u041f\u0440\u0435\u0437\u0438\u0434\u0435\u043d\u0442 \u0437\u0430\u044f\u0432\u0438\u043b \u0432 \u043f\u043e\u043d\u0435\u0434\u0435\u043b\u044c\u043d\u0438\u043a, \u0447\u0442\u043e \u043f\u0435\u0440\u0435\u0433\u043e\u0432\u043e\u0440\u044b \u0441 \u0441\u043e\u0441\u0435\u0434\u044f\u043c\u0438 \u043f\u0440\u043e\u0434\u043e\u043b\u0436\u0430\u0442\u0441\u044f \u043d\u0430 \u0441\u043b\u0435\u0434\u0443\u044e\u0449\u0435\u0439 \u043d\u0435\u0434\u0435\u043b\u0435 \u0432 \u041c\u043e\u0441\u043a\u0432\u0435."),
        ("en", "Fans celebrated in the streets \U0001F389\U0001F389 after the team won the national cup final on Sunday night \U0001F3C6, the city said."),
        ("zh", "Apple \u516c\u53f8\u5468\u4e8c\u5728\u5317\u4eac\u53d1\u5e03\u4e86\u65b0\u6b3e iPhone 15 \u624b\u673a\uff0c\u552e\u4ef7 5999 \u5143\uff0c\u5c06\u4e8e\u4e0b\u5468\u4e94\u5728\u4e2d\u56fd\u5e02\u573a\u4e0a\u5e02\u3002"),
    ]
    rows = ([{k: v for k, v in r.items() if k != "lang"} for r in zh + ms]
            + [{"id": f"made-{lang}", "text": text} for lang, text in made])
    expected = [r["lang"] for r in zh + ms] + [lang for lang, _ in made]
    decisions = ingest(engine, rows)
    assert_well_formed(engine, decisions)
    detected = [engine.store.get(r["id"]).lang for r in rows]
    assert all(detected), detected
    for got, want in zip(detected, expected):
        assert got == want or {got, want} == {"ms", "id"}, (detected, expected)
    # A given lang is kept as given (normalised), not re-detected.
    ingest(engine, [{"id": "given", "text": made[1][1], "lang": "RU"}])
    assert engine.store.get("given").lang == "ru"


def test_languages_do_not_mix_in_one_story(engine, mcms):
    """clustmcms events are reported in English, Chinese and Malay; with the English-only model
    an article joins only stories in its own language."""
    by_event: dict[str, dict[str, list[dict]]] = {}
    for r in mcms:
        by_event.setdefault(r["event_id"], {}).setdefault(r["lang"], []).append(r)
    events = [e for e, langs in by_event.items() if {"en", "zh", "ms"} <= set(langs)][:2]
    assert events
    rows = [r for e in events for lang in ("en", "zh", "ms") for r in by_event[e][lang][:2]]
    decisions = ingest(engine, [{k: v for k, v in r.items() if k != "lang"} for r in rows])
    assert_well_formed(engine, decisions)
    lang_of_cluster: dict[str, set[str]] = {}
    for d in decisions:
        lang_of_cluster.setdefault(d.cluster_id, set()).add(engine.store.get(d.id).lang)
        for match in d.matches:
            assert engine.store.get(match["id"]).lang == engine.store.get(d.id).lang
    assert all(len(langs) == 1 for langs in lang_of_cluster.values()), lang_of_cluster
    assert {lang for langs in lang_of_cluster.values() for lang in langs} >= {"en", "zh"}
    # Weekdays are read in English only: elsewhere the evidence says unknown (null, not NaN).
    for d in decisions:
        json.dumps(d.evidence, allow_nan=False)
    unread = [d.evidence["best_pair"]["weekdays_conflict"] for d in decisions
              if engine.store.get(d.id).lang != "en" and "best_pair" in d.evidence]
    assert unread and all(v is None for v in unread)


def test_one_language_named_two_ways_is_one_language(engine):
    """Two reports of one meeting (seeds 002 and 003), one posted as "en" and one as ISO 639-2
    "eng", meet: with the English-only model, a language named two ways would keep them apart."""
    from storyclust.seeds import load_seeds

    first, second = [s for s in load_seeds() if s["id"].startswith(("002", "003"))]
    decisions = ingest(engine, [{**first, "lang": "en"}, {**second, "lang": "eng"}])
    assert engine.store.get(second["id"]).lang == "en"
    assert decisions[1].relation == "same_story" and decisions[1].cluster_id == decisions[0].cluster_id


# --- size ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def huge(ecb) -> str:
    """Real text just under the 1 MB limit."""
    parts, size = [], 0
    for r in ecb.values():
        parts.append(r["text"])
        size += len(r["text"].encode("utf-8")) + 2
        if size > 990_000:
            break
    text = "\n\n".join(parts)
    return text[: text.rfind(" ", 0, 990_000)]


def test_very_long_text_is_hashed_whole_and_embedded_by_its_lead(engine, huge, ecb):
    assert 980_000 < len(huge.encode("utf-8")) < engine.settings.max_article_bytes
    head = huge[:100_000]
    tail_changed = huge[:-200] + " The final paragraph was rewritten by the editor after publication."
    other_tail = head + " " + ecb["1_10ecb"]["text"]
    rows = [{"id": "huge", "title": "Digest", "text": huge},
            {"id": "huge-edited-end", "title": "Digest", "text": tail_changed},
            {"id": "huge-other-tail", "title": "Digest", "text": other_tail},
            {"id": "huge-copy", "title": "Digest copy", "text": "<div>" + huge.upper() + "</div>"}]
    articles = [parse_article(r, max_text_bytes=engine.settings.max_article_bytes) for r in rows]
    started = time.perf_counter()
    decisions = engine.ingest(articles)
    elapsed = time.perf_counter() - started
    assert elapsed < 60, f"4 articles of ~1 MB took {elapsed:.1f} s"
    assert_well_formed(engine, decisions)
    relation = {d.id: d.relation for d in decisions}
    # Identical in the first 100 KB (and far beyond) but not equal: not exact duplicates.
    assert relation["huge-edited-end"] != "exact_duplicate"
    assert relation["huge-other-tail"] != "exact_duplicate"
    assert relation["huge-edited-end"] == "near_duplicate"
    assert relation["huge-copy"] == "exact_duplicate" and decisions[3].duplicate_of == "huge"
    stored = engine.store.get("huge")
    assert stored.text == huge and stored.content_hash == content_hash(huge)
    assert len({engine.store.get(r["id"]).content_hash for r in rows[:3]}) == 3
    # The model reads the lead only.
    limit = engine.settings.max_seq_length * 8
    assert len(embed_text(articles[0], engine.settings.max_seq_length)) <= limit
    vectors = engine.store.embeddings([engine.store.get(r["id"]).rowid for r in rows[:3]], engine.encoder.dim)
    v = list(vectors.values())
    assert np.allclose(v[0], v[1], atol=1e-5) and np.allclose(v[0], v[2], atol=1e-5)


def test_model_reads_the_body_behind_a_long_markup_preamble(ecb):
    """A scraped page may open with kilobytes of <style>/<script>; the text the model reads is cut
    before the markup is removed, so it read CSS instead of the article."""
    body = ecb["1_10ecb"]
    preamble = "<style>" + ".story p { margin: 0 auto; color: #333; }\n" * 150 + "</style>"
    plain = parse_article(body)
    marked = parse_article({**body, "text": preamble + body["text"]})
    assert embed_text(marked, 256) == embed_text(plain, 256)


def test_importing_the_engine_leaves_the_model_its_threads():
    """FAISS and torch share one OpenMP runtime: a global ``faiss.omp_set_num_threads(1)`` at
    import (to keep single-vector searches cheap) also leaves the model one thread, whatever the
    machine's cores; and ``torch_threads`` then turns FAISS threading back on."""
    import subprocess
    import sys

    code = ("import torch; before = torch.get_num_threads(); import storyclust.engine; "
            "print(before, torch.get_num_threads())")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    before, after = run.stdout.split()[-2:]
    assert after == before, f"torch threads {before} -> {after} after importing storyclust.engine"


def test_a_feed_dated_on_one_day_decides_as_an_undated_one(engine, ecb, settings, encoder):
    """Dates may only keep reports apart. Almost every candidate pair of a live feed is a
    same-day pair, so any bonus for closeness would act as a lower threshold there (a scorer
    that had one merged nearly all of a one-day feed: bench/accuracy.py's one-day rows)."""
    from storyclust.engine import Engine

    rows = [r for r in ecb.values() if r["id"].split("_")[0] in ("1", "3", "4")][::2]
    dated = Engine(settings.model_copy(update={"data_dir": settings.data_dir.parent / "dated"}), encoder=encoder)
    try:
        undated_answers = ingest(engine, [{**r, "published_at": None} for r in rows])
        dated_answers = ingest(dated, [{**r, "published_at": "2024-05-01T08:00:00+00:00"} for r in rows])
    finally:
        dated.store.close()
    assert len({d.cluster_id for d in undated_answers}) > 1
    assert [d.relation for d in dated_answers] == [d.relation for d in undated_answers]
    assert [d.score for d in dated_answers] == pytest.approx([d.score for d in undated_answers], abs=1e-9)


def test_past_instalments_of_a_recurring_story_do_not_crowd_out_this_weeks_reports(ecb, settings, encoder):
    """ECB+ topic 27: Microsoft's emergency Internet Explorer patches of December 2008 and of
    September 2013, seventeen and eleven reports told in the same words. Each 2013 report is
    closer to several 2008 reports than to other 2013 ones, so with one index over the whole
    store its nearest neighbours were 2008 reports that the time window then discarded: most
    2013 reports were compared with no other 2013 report and the eleven split into 7 stories (5
    neighbours; with 30 the same happens once a feed holds more than 30 past instalments).
    Searching only the partitions of the window, each is compared with the earlier 2013 reports."""
    from storyclust.engine import Engine

    past = [{**r, "published_at": "2008-12-17"} for r in ecb.values() if r["event_id"] == "27_ecb"]
    week = [{**r, "published_at": "2013-09-18"} for r in ecb.values() if r["event_id"] == "27_ecbplus"]
    neighbours = 5
    engine = Engine(settings.model_copy(update={"neighbours": neighbours}), encoder=encoder)
    try:
        old = {d.cluster_id for d in ingest(engine, past)}
        answers = ingest(engine, week)
    finally:
        engine.store.close()
    assert len(past) > neighbours and not old & {d.cluster_id for d in answers}
    this_week = {r["id"] for r in week}
    for earlier, answer in enumerate(answers):
        assert len(answer.matches) == min(earlier, neighbours)
        assert {m["id"] for m in answer.matches} <= this_week
    assert len({d.cluster_id for d in answers}) < len(week) / 2


def test_members_outside_the_time_window_count_zero_in_a_story(engine, ecb):
    """A story dated two months earlier cannot take a new report through its one undated
    member: its dated member is compared as 0 (the window says never one story), not by a pair
    score only lowered by the day gap."""
    a, b, c = ecb["3_3ecb"], ecb["3_6ecb"], ecb["3_1ecb"]
    assert a["event_id"] == b["event_id"] == c["event_id"]
    background = [r for r in ecb.values() if r["id"].split("_")[0] in ("5", "8", "12")][::12]
    ingest(engine, background)
    first, undated = ingest(engine, [{**a, "published_at": "2008-04-01"}, {**b, "published_at": None}])
    assert undated.cluster_id == first.cluster_id
    late = ingest(engine, [{**c, "published_at": "2008-06-01"}])[0]
    story = next(s for s in late.evidence["stories"] if s["cluster_id"] == first.cluster_id)
    assert story["compared"] == 2 and story["max"] >= engine.threshold
    assert story["score"] == pytest.approx(story["max"] / 2, abs=1e-4)  # the undated member's score and 0


def test_story_score_is_the_mean_of_its_best_members(engine, ecb, settings, encoder):
    """A story's score averages its best ``story_members_averaged`` member scores: with 1 it is
    the best pair's score; by default (4 of up to 8 compared) it stays at or below that, and is
    below it for a story whose compared members disagree."""
    from storyclust.engine import Engine

    rows = [r for r in ecb.values() if r["id"].split("_")[0] == "1"][:24]
    best_only = Engine(settings.model_copy(update={"data_dir": settings.data_dir.parent / "best",
                                                    "story_members_averaged": 1}), encoder=encoder)
    try:
        default = [s for d in ingest(engine, rows) for s in d.evidence.get("stories", [])]
        single = [s for d in ingest(best_only, rows) for s in d.evidence.get("stories", [])]
    finally:
        best_only.store.close()
    assert single and all(s["score"] == s["max"] for s in single)
    assert all(s["score"] <= s["max"] for s in default)
    large = [s for s in default if s["compared"] > 4]
    assert large and any(s["score"] < s["max"] for s in large)

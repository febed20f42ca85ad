"""Boilerplate shingles: word n-grams made only of words that much of the store carries.

An agency footer or copyright line ("Copyright 2024 The Associated Press. All rights reserved.
This material may not be published, broadcast, rewritten or redistributed ...") is the same in
every article that carries it. Beside a short body it is a large share of the shingles, so two
briefs of different stories looked like copies: with that footer on 30% of allsides-train
(median body 69 words), 254 articles became near-duplicates of another story's article. A copy is
therefore verified on the shingles that hold at least one telling word: a content term or number
carried by at most ``BOILERPLATE_SHARE`` of the stored articles, or never counted (rare, or past
the profile's first 600 words). Real copies share their telling shingles too, so they still pass.
Before that, a text loses its boilerplate lines: a line whose sentences (those long enough to
count, see :meth:`TermStats.boilerplate_sentences`) all recur in a twentieth of the store. The
footer on 15% of a feed stays under the fifth in every word, and only its long sentence counts
("All rights reserved." is too short to tell), so it is dropped by the line.
"""

from __future__ import annotations

import math

from . import minhash
from .profile import content_term, iter_sentences, sentence_buckets_of
from .term_stats import BOILERPLATE_SHARE, TermStats, common_limit


def without_boilerplate_lines(text: str, stats: TermStats) -> str:
    """``text`` less its lines whose counted sentences are all boilerplate in the store."""
    if not stats.has_boilerplate_sentences():
        return text
    kept = []
    for line in text.splitlines():
        sentences = list(iter_sentences(line))
        if sentences and stats.boilerplate_sentences(sentence_buckets_of(sentences)).all():
            continue
        kept.append(line)
    return "\n".join(kept)


def copy_check_shingles(text: str, shingle_size: int, stats: TermStats) -> set[bytes]:
    """The shingles a copy is verified on: those of ``text`` less its boilerplate lines, that
    hold a telling word."""
    return telling_shingles(minhash.shingles(without_boilerplate_lines(text, stats), shingle_size), stats)


def telling_shingles(shingle_set: set[bytes], stats: TermStats) -> set[bytes]:
    """The shingles holding a word not carried by more than ``BOILERPLATE_SHARE`` of the store
    (all of them while rarity is not yet known, see :func:`common_limit`)."""
    limit = common_limit(stats.docs, BOILERPLATE_SHARE)
    if limit == math.inf:
        return shingle_set
    telling: dict[str, bool] = {}

    def is_telling(word: str) -> bool:
        known = telling.get(word)
        if known is None:
            key = "#" + word.replace(",", "") if word[:1].isdigit() else content_term(word)
            known = telling[word] = bool(key) and stats.df.get(key, 0) <= limit
        return known

    return {s for s in shingle_set if any(map(is_telling, s.decode("utf-8").split(" ")))}

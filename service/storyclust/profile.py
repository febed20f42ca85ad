"""The event profile of an article: who and where (entities), how many and when (numbers), and
what happened (content terms). These are what tell the same story from the same topic: two
reports of one meeting share rare names, places, figures and dates that another meeting of the
same people does not.

Entities are found by capitalisation (a language-neutral cue that covers people, places and
organisations in cased scripts); a rare shared name then weighs more than a common one through
the corpus IDF (see :mod:`storyclust.term_stats`). Scripts without case contribute content terms
(single characters or words) instead.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import chain
from typing import Any

import numpy as np
import regex

from .dateline import is_date_stamp
from .normalize import clean, clean_uncached

# Words written capitalised that name no one: sentence starters, titles, weekdays, months.
_CAPITALISED_NOISE = frozenset(
    """a an the this that these those it its he she they we i you his her their our my in on at
    of for to from by with and or but as if when while after before during since until about
    over under into across between among against through without within there here what which
    who whom whose why how where also however meanwhile according mr mrs ms dr sir president
    minister prime secretary officials official said says monday tuesday wednesday thursday
    friday saturday sunday january february march april may june july august september october
    november december today yesterday tomorrow new one two three first last more most many some
    all any no not so than then thus yet still just only even both each other such""".split()
)
_STOP = _CAPITALISED_NOISE | frozenset(
    """is are was were be been being has have had do does did will would can could should might
    must shall may not no yes very much up down out off again further once than too own same
    said say says told tell according year years week weeks day days time times people
    percent per cent would could also like just get got make made news report reported""".split()
)
_TOKEN = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}]|[\p{L}\p{M}][\p{L}\p{M}\p{N}'’.-]*[\p{L}\p{M}\p{N}]|[\p{L}\p{M}]|\p{N}[\p{N}.,:]*")
_NUMBER = regex.compile(r"^\p{N}[\p{N}.,:]*$")
_PROFILE_WORDS = 600  # words of the body read for the profile: the lead carries the event
# The longest body line read as the headline where the title is only a date stamp (headline): a
# headline or a one-sentence lead, not a paragraph.
HEADLINE_WORDS = 30


_YEAR = regex.compile(r"^(19|20)\d\d$")
_FIELDS = ("entities", "numbers", "years", "terms", "title_terms")
# Weekdays named in the profile's reading, for the "different days" evidence (features): two
# reports of one event name the day it happened on, two events of one topic mostly different
# days. Read in the languages whose names these are; elsewhere (and in profiles stored before
# weekdays were read) they are unknown, None, not an empty set: naming no day is itself
# evidence (no conflict), knowing nothing is none.
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WEEKDAY_LANGUAGES = frozenset({"en"})
UNKNOWN_WEEKDAYS = -1  # the weekday_mask of unknown weekdays
# Figures in the headline, for the "different figures" evidence (features): reports of one
# event headline its figure (a toll, a sum, a score), and the other report names it somewhere;
# a recurring statistic's other weeks (jobless claims, case counts) headline other figures.
# Kept as mantissas (``number_mantissa``) so that "719,000", "719K" and "719 thousand" meet, and
# of two digits or more ("2 girls" tells little). Digits read alike in every language, so they
# are read in all: `storyclust cluster` on all of Clust-McMs gives the same stories with them read
# in English only (2026-11-30), and a conflict is rare (3% of pairs), so unlike weekdays (35%) the
# English-fitted "no conflict" level barely moves other languages' scores.
_HEADLINE_NUMBER_DIGITS = 2
_WEEKDAY_BITS = {day: 1 << i for i, day in enumerate(WEEKDAYS)}
# Sentences for quote/sentence alignment: two reports of one meeting paraphrase the same quotes,
# so their best-matching sentences share rare words even when the articles overall do not.
_SENTENCE_SPLIT = regex.compile(r"(?<=[.!?。！？\u201d\"])\s+|\n+")
_SENTENCE_MIN_TERMS = 4
_SENTENCES_KEPT = 48
_ALIGN_WORDS = 1500  # quotes often come late: read further than the profile's lead
_STEM = 6  # word prefix kept: "neighbour"/"neighbours", "strengthen"/"strengthening" meet
STEM_BUCKETS = 1 << 20  # stems are hashed (crc32, stable across processes) to ints
# Whole sentences (the multiset of their stems) are hashed to this many buckets, so that the
# store can count in how many articles a sentence recurs (term_stats: boilerplate sentences)
# in a fixed array; collisions only ever add to a count, and the counts that matter are in the
# hundreds (a twentieth of the store), far above what collisions add (~5 at 1M articles).
SENTENCE_BUCKETS = 1 << 22
_MIX, _SPREAD = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9)


def sentence_buckets(stems: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The bucket of each sentence (``lengths[i]`` consecutive ``stems``), from the multiset of
    its stems; -1 for a sentence of fewer than two stems (too short to tell boilerplate)."""
    out = np.full(len(lengths), -1, dtype=np.int64)
    keyed = np.flatnonzero(lengths >= 2)
    if not len(keyed):
        return out
    with np.errstate(over="ignore"):
        mixed = (stems.astype(np.uint64) + np.uint64(1)) * _MIX
        mixed ^= mixed >> np.uint64(31)
        running = np.concatenate(([np.uint64(0)], np.cumsum(mixed, dtype=np.uint64)))  # wraps mod 2^64
        starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))[keyed]
        sums = running[starts + lengths[keyed]] - running[starts]
        out[keyed] = ((sums * _SPREAD) >> np.uint64(64 - 22)).astype(np.int64)
    return out


def sentence_buckets_of(sentences: Sequence[tuple[int, ...]]) -> np.ndarray:
    """:func:`sentence_buckets` of sentences given as tuples of stems (a profile's)."""
    lengths = np.fromiter(map(len, sentences), dtype=np.int64, count=len(sentences))
    stems = np.fromiter(chain.from_iterable(sentences), dtype=np.int64, count=int(lengths.sum()))
    return sentence_buckets(stems, lengths)


# What :meth:`Profile.all_terms` counts, versioned: 1 words, numbers, years and sentence stems;
# 2 also whole sentences ("=<bucket>", for boilerplate sentences). A store whose term counts were
# made under another version recounts them from its stored profiles when opened (store.py).
COUNTED_TERMS_VERSION = 2


@dataclass(frozen=True)
class Profile:
    entities: frozenset[str]
    numbers: frozenset[str]
    years: frozenset[str]
    terms: frozenset[str]
    title_terms: frozenset[str]
    sentences: tuple[tuple[int, ...], ...] = ()  # hashed stems of each sentence
    weekdays: frozenset[str] | None = None  # of WEEKDAYS; None where not read
    headline_numbers: frozenset[str] | None = None  # mantissas of the title's figures; None: not read

    def to_json(self) -> dict:
        data: dict = {k: sorted(getattr(self, k)) for k in _FIELDS}
        data["sentences"] = [list(s) for s in self.sentences]
        data["weekdays"] = None if self.weekdays is None else sorted(self.weekdays)
        data["headline_numbers"] = None if self.headline_numbers is None else sorted(self.headline_numbers)
        return data

    @classmethod
    def from_json(cls, data: dict) -> "Profile":
        headline = data.get("headline_numbers")
        return cls(*(frozenset(data.get(k, ())) for k in _FIELDS),
                   tuple(tuple(s) for s in data.get("sentences", ())), _weekdays_of(data.get("weekdays")),
                   None if headline is None else frozenset(headline))

    @cached_property
    def number_mantissas(self) -> frozenset[str]:
        """``number_mantissa`` of every number read (title and body, years apart): where a
        headline figure of another report is looked for."""
        return frozenset(filter(None, map(number_mantissa, self.numbers)))

    @cached_property
    def weekday_mask(self) -> int:
        """:func:`weekday_mask` of the weekdays."""
        return weekday_mask(self.weekdays)

    @cached_property
    def memo(self) -> dict:
        """Derived data of this (immutable) profile that other modules compute once and keep
        with it, e.g. its terms' slots in :class:`TermStats`: a stored article is compared
        with many new ones while its profile sits in the engine's cache."""
        return {}

    def all_terms(self) -> frozenset[str]:
        """Every key counted in the corpus document frequencies."""
        terms = self.memo.get("all_terms")
        if terms is None:
            words, stems, _, sentences, _ = self.counted_terms
            terms = self.memo["all_terms"] = frozenset(words + stems + sentences)
        return terms

    @cached_property
    def counted_terms(self) -> tuple[tuple[str, ...], tuple[str, ...], np.ndarray, tuple[str, ...], np.ndarray]:
        """:meth:`all_terms` split into (words, sentence-stem keys ``"~<bucket>"``, their
        buckets, whole-sentence keys ``"=<bucket>"``, their buckets), for :class:`TermStats`,
        which keeps stems and sentences in arrays by bucket."""
        buckets = sorted({b for sentence in self.sentences for b in sentence})
        whole = np.unique(self.sentence_buckets[self.sentence_buckets >= 0])
        words = self.entities | self.terms | self.title_terms | {"#" + n for n in self.numbers | self.years}
        return (tuple(words), tuple(f"~{b}" for b in buckets), np.array(buckets, dtype=np.int64),
                tuple(f"={b}" for b in whole.tolist()), whole)

    @cached_property
    def sentence_buckets(self) -> np.ndarray:
        """:func:`sentence_buckets` of each sentence."""
        return sentence_buckets_of(self.sentences)

    @cached_property
    def sentence_stems(self) -> tuple[np.ndarray, np.ndarray]:
        """(stems, the sentence each belongs to) of all sentences, flattened for alignment."""
        lengths = np.fromiter(map(len, self.sentences), dtype=np.int64, count=len(self.sentences))
        stems = np.fromiter(chain.from_iterable(self.sentences), dtype=np.int64, count=int(lengths.sum()))
        return stems, np.repeat(np.arange(len(self.sentences)), lengths)


def _tokens(text: str, limit: int | None = None) -> list[str]:
    """The first ``limit`` tokens (all if None) of the cleaned text, reading no more of a long
    text than needed: tokens hold no space, so the tokens before a space are the same in the
    prefix that ends there as in the whole text."""
    text = clean(text)
    if limit is not None:
        end = limit * 8  # ~5 characters a word in most scripts: usually one pass
        while end < len(text):
            space = text.find(" ", end)
            if space < 0:
                break
            tokens = _TOKEN.findall(text, 0, space)
            if len(tokens) >= limit:
                return tokens[:limit]
            end *= 2
    tokens = _TOKEN.findall(text)
    return tokens if limit is None else tokens[:limit]


_MEMO_KEPT = 1 << 16


class _Memo(dict):
    """``function(key)`` by key, computed once and kept. Most tokens of a new article were seen
    before, and the per-token tests below cost several string operations, for tokens read ~5
    times an article (profile, title, each sentence); a hit here is a plain dict lookup, with no
    Python call. Cleared when it reaches ``_MEMO_KEPT`` entries: bounded, and always correct,
    since every ``function`` here is pure."""

    def __init__(self, function: Callable[[str], Any]) -> None:
        super().__init__()
        self.function = function

    def __missing__(self, key: str) -> Any:
        if len(self) >= _MEMO_KEPT:
            self.clear()
        value = self[key] = self.function(key)
        return value


def content_term(token: str) -> str:
    """The token's content term, "" for none."""
    low = token.casefold().strip(".'’-")
    if low and low not in _STOP and not _NUMBER.match(low) and (len(low) > 2 or not low.isascii()):
        return low
    return ""


_TERMS = _Memo(content_term)


def _content_terms(tokens: list[str]) -> set[str]:
    out = set(map(_TERMS.__getitem__, tokens))
    out.discard("")
    return out


def _number(token: str) -> str | None:
    digits = token.rstrip(".,:")
    if not digits or not digits[0].isdigit():
        return None
    return digits.replace(",", "")


def _digits(number: str) -> str:
    """The digits of a number as :func:`_number` gives it (commas already gone), without "." and ":"."""
    return number.replace(".", "").replace(":", "")


def number_mantissa(number: str) -> str:
    """The digits of a number without separators and outer zeros: "719,000" (read as "719000"),
    "719" (of "719K") and "0.719" all give "719"; "3.2" (million) and "3200000" give "32". Two
    different figures rarely share one; "" for zero."""
    return _digits(number).strip("0")


def _headline_numbers(head: list[str]) -> frozenset[str]:
    """Mantissas of the figures in the title's tokens: numbers of ``_HEADLINE_NUMBER_DIGITS`` or
    more digits that are not years."""
    out = set()
    for number in filter(None, map(_number, head)):
        if len(_digits(number)) >= _HEADLINE_NUMBER_DIGITS and not _YEAR.match(number):
            out.add(number_mantissa(number))
    out.discard("")
    return frozenset(out)


def _sentences(text: str) -> tuple[tuple[int, ...], ...]:
    """Hashed stems of the first sentences (of :func:`clean_lines`, split at sentence ends and
    line breaks)."""
    return tuple(iter_sentences(text))


def iter_sentences(text: str) -> Iterator[tuple[int, ...]]:
    """The hashed stems of each sentence a profile keeps, in order. Lines are cleaned one at a
    time and only until enough is read: a sentence never spans a line break, so this equals
    splitting the whole cleaned text."""
    kept = words = 0
    lines = text.splitlines()
    # A one-line body is the body, whose clean() the cache holds; other lines are not cached.
    clean_line = clean if len(lines) == 1 else clean_uncached
    for line in lines:
        for sentence in _SENTENCE_SPLIT.split(clean_line(line)):
            tokens = _TOKEN.findall(sentence)  # already clean
            words += len(tokens)
            stems = {_STEMS[t] for t in _content_terms(tokens)}
            if len(stems) >= _SENTENCE_MIN_TERMS:
                yield tuple(sorted(stems))
                kept += 1
            if kept >= _SENTENCES_KEPT or words >= _ALIGN_WORDS:
                return


def _stem_bucket(term: str) -> int:
    return zlib.crc32(term[:_STEM].encode("utf-8")) % STEM_BUCKETS


_STEMS = _Memo(_stem_bucket)


def _weekdays_of(stored: list[str] | None) -> frozenset[str] | None:
    return None if stored is None else frozenset(stored)


def weekday_mask(days: Iterable[str] | None) -> int:
    """The days (names in ``WEEKDAYS``) as bits: two profiles name a common day iff their masks
    share a bit, a test NumPy does for a whole candidate list at once; ``UNKNOWN_WEEKDAYS`` for
    None."""
    if days is None:
        return UNKNOWN_WEEKDAYS
    mask = 0
    for day in days:
        mask |= _WEEKDAY_BITS.get(day, 0)
    return mask


def _weekday(token: str) -> str | None:
    low = token.casefold().replace("’", "'").removesuffix("'s")
    return low if low in _WEEKDAY_BITS else None


_WEEKDAY_OF = _Memo(_weekday)


def clean_lines(text: str) -> str:
    """Clean each line but keep the line breaks, which end headlines and list items."""
    return "\n".join(clean_uncached(line) for line in text.splitlines())


def _role(token: str) -> tuple[str, str | None] | None:
    """What the token can contribute to a profile, whatever the article: for a capitalised
    token (its lower case, the entity it names or None), for a number ("", the number or None),
    else None."""
    first = token[:1]
    if first.isupper():
        low = token.casefold().strip(".'’-")
        entity = low.replace("’", "'").removesuffix("'s") if low not in _CAPITALISED_NOISE and len(low) > 1 else None
        return token.lower(), entity
    if first.isdigit():
        number = _number(token)
        return "", number if number and number not in {"1", "2", "3"} else None
    return None


_ROLES = _Memo(_role)


def headline(title: str | None, text: str) -> str:
    """The headline a profile reads: the title, unless it is only a date stamp (a scraped page's
    first line, :func:`dateline.is_date_stamp`), whose figures would read as the headline's
    figures and its month and day as the headline's words. Then it is the body's first line that
    is not a stamp, where that line is short enough to be a headline (``HEADLINE_WORDS``), else
    there is none."""
    if not title or not is_date_stamp(title):
        return title or ""
    for line in text.splitlines():
        line = line.strip()
        if line and not is_date_stamp(line):
            return line if len(line.split()) <= HEADLINE_WORDS else ""
    return ""


def build_profile(title: str | None, text: str, language: str | None = None) -> Profile:
    """The profile of an article in ``language``: its weekdays are read in ``WEEKDAY_LANGUAGES``
    only, and unknown (None) in another language or where the language is not known."""
    body = _tokens(text, _PROFILE_WORDS)
    head = _tokens(headline(title, text))
    tokens = head + body
    distinct = set(tokens)  # everything below is a set: each distinct token is read once
    lower_seen = {t for t in distinct if t[:1].islower()}
    entities, numbers = set(), set()
    for token in distinct:
        role = _ROLES[token]
        if role is None or role[1] is None:
            continue
        lower, value = role
        if not lower:
            numbers.add(value)
        # A capitalised word that also appears in lower case is a sentence starter.
        elif lower not in lower_seen:
            entities.add(value)
    years = {n for n in numbers if _YEAR.match(n)}
    weekdays = frozenset({_WEEKDAY_OF[t] for t in distinct} - {None}) if language in WEEKDAY_LANGUAGES else None
    return Profile(frozenset(entities), frozenset(numbers - years),
                   frozenset(years), frozenset(_content_terms(tokens)), frozenset(_content_terms(head)),
                   _sentences(text), weekdays, _headline_numbers(head))

"""Text normalisation and the content hash behind ``exact_duplicate``.

Two articles are exact duplicates when their bodies are equal after this normalisation:
HTML tags and entities removed, Unicode NFKC, typographic quotes and dashes folded, whitespace
collapsed, case folded. The title is *not* part of the hash: a wire copy republished under a new
headline is still the same text.
"""

from __future__ import annotations

import hashlib
import html
import unicodedata
from functools import lru_cache
from itertools import islice

import regex

# What the stored hashes were computed with: ``store`` re-hashes, once, the articles that an
# older version hashed differently. 2 drops ``DIRECTION_MARKS``, which 1 kept.
HASH_VERSION = 2
# The marks that set the direction of right-to-left text (LRM, RLM, the embeddings, overrides and
# isolates, the Arabic letter mark) and the word joiner: invisible, and put there by an editor or
# a site's template rather than the author, so a copy taken from another site lacks or adds them.
DIRECTION_MARKS = "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u061c\u2060"

_TAG = regex.compile(r"<(script|style)\b.*?</\1\s*>|<!--.*?-->|</?[a-zA-Z][^<>]*>", regex.S | regex.I)
_SPACE = regex.compile(r"\s+")
_PUNCT_SPACE = regex.compile(r"\s*(\p{P})\s*")  # "<b>World</b>!" -> "World !": spacing at punctuation is layout
_QUOTES = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "`": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
        "\u00ab": '"', "\u00bb": '"', "\u2039": "'", "\u203a": "'",
        "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u00ad": None, "\u200b": None, "\ufeff": None,
        **dict.fromkeys(DIRECTION_MARKS, None),
    }
)
# Words: a run of letters/digits, or one ideograph/kana/Thai character (scripts written
# without spaces, where each character carries a word's weight).
_WORD = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}]|[\p{L}\p{N}\p{M}]+")


def strip_html(text: str) -> str:
    """Remove tags (and script/style bodies) and decode entities; twice for double-escaped feeds."""
    for _ in range(2):
        text = html.unescape(_TAG.sub(" ", text))
    return text


# Hashing, shingling, language detection and the profile each start from the cleaned body of
# the same article; a small cache makes that one pass instead of five (a str caches its own
# hash, so a hit costs nothing). Bounded by entries, so at most a batch of bodies is held.
_RECENT_TEXTS = 64


def clean_uncached(text: str) -> str:
    """:func:`clean` without the cache, for pieces (lines) that would only push bodies out of it."""
    text = unicodedata.normalize("NFKC", strip_html(text)).translate(_QUOTES)
    return _SPACE.sub(" ", text).strip()


@lru_cache(maxsize=_RECENT_TEXTS)
def clean(text: str) -> str:
    """Display-safe text: no HTML, NFKC, folded quotes, single spaces; case kept."""
    return clean_uncached(text)


@lru_cache(maxsize=_RECENT_TEXTS)
def normalize(text: str) -> str:
    """The canonical form compared for exact duplicates."""
    return _PUNCT_SPACE.sub(r"\1", clean(text)).casefold()


def content_hash(text: str) -> str:
    """SHA-256 of the normalised body: equal hashes mean ``exact_duplicate``."""
    return hashlib.sha256(normalize(text).encode("utf-8")).hexdigest()


LEAD_WORDS = 40


def lead_hash(text: str, words: int = LEAD_WORDS) -> str | None:
    """SHA-256 of the first ``words`` words of the normalised body; None for a shorter body.

    Why: a truncated copy keeps its original's opening. An excerpt of a third of a text shares
    too few shingles with it for the MinHash LSH, and the neighbour search only looks within the
    time window, so an excerpt republished weeks later was found by neither; an equal lead finds
    it at any distance in time (then verified on the shingles as every copy suspect is). More
    words: fewer unrelated texts with one templated opening as suspects; fewer: shorter excerpts
    found (a text shorter than ``words`` has no lead hash: its copies are LSH's)."""
    tokens = [m.group() for m in islice(_WORD.finditer(normalize(text)), words)]  # not the whole body's
    if len(tokens) < words:
        return None
    return hashlib.sha256(" ".join(tokens).encode("utf-8")).hexdigest()


def words(text: str) -> list[str]:
    """Case-folded word tokens of any script (see ``_WORD``); punctuation dropped."""
    return _WORD.findall(normalize(text))

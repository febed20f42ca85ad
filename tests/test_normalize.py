"""Normalisation and the content hash behind ``exact_duplicate`` (CONTRACT: whitespace, case,
quotes, HTML entities and tags), checked on real dev articles and on hand-made edge cases."""

from __future__ import annotations

import html

import pytest
from conftest import load_dataset, reformat

from storyclust import minhash
from storyclust.normalize import LEAD_WORDS, clean, content_hash, lead_hash, normalize, strip_html, words


@pytest.fixture(scope="module")
def bodies() -> list[str]:
    rows = load_dataset("ecbplus-dev", limit=40) + load_dataset("clustmcms-dev", limit=40)
    return [r["text"] for r in rows]


# --- the pieces ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  a \t b\r\n\n c\u00a0d\u2003e  ", "a b c d e"),  # tabs, CRLF, NBSP, em space
        ("\u201cQuoted\u201d \u2018single\u2019 \u201eLow\u201c \u00abguillemets\u00bb", "\"Quoted\" 'single' \"Low\" \"guillemets\""),
        ("it\u2019s a 2013\u20132014 deal \u2014 or not", "it's a 2013-2014 deal - or not"),
        ("soft\u00adhyphen zero\u200bwidth \ufeffbom", "softhyphen zerowidth bom"),
        ("\u200f\u0627\u0644\u062e\u0628\u0631\u200e 2025\u200e \u2067mark\u2069ed wo\u2060rd\u061c", "\u0627\u0644\u062e\u0628\u0631 2025 marked word"),
        ("AT&amp;T &lt;b&gt;bold&lt;/b&gt; &quot;q&quot; &#8217;s &#x41;", "AT&T bold \"q\" 's A"),
        ("&amp;amp; double&amp;nbsp;escaped", "& double escaped"),  # feeds escaped twice
        ("<p>One</p><p>Two<br/>Three</p>", "One Two Three"),
        ("<script>var x = '<b>';</script>Body<style>p {}</style> text<!-- a comment -->", "Body text"),
        ("<a href=\"https://x.example/?a=1&amp;b=2\">link</a> text", "link text"),
        ("\uff28\uff45\uff4c\uff4c\uff4f \uff11\uff12\uff13 \ufb01nance \u2460", "Hello 123 finance 1"),  # NFKC
        ("caf\u0065\u0301 vs caf\u00e9", "caf\u00e9 vs caf\u00e9"),  # combining accent composed
        ("x < y and y > z", "x < y and y > z"),  # comparison signs are not tags
    ],
)
def test_clean(raw, expected):
    assert clean(raw) == expected


def test_normalize_folds_case_but_clean_keeps_it():
    assert clean("The EU and NATO") == "The EU and NATO"
    assert normalize("The EU and NATO") == "the eu and nato"
    assert normalize("STRASSE") == normalize("Stra\u00dfe")  # casefold, not lower


def test_strip_html_removes_tags_and_entities_only():
    assert strip_html("<div class='a'>Price &gt; 5&euro;</div>").strip() == "Price > 5\u20ac"
    assert strip_html("no markup here") == "no markup here"


def test_words_of_any_script():
    assert words("The Minister's 2 visits, in 2024!") == ["the", "minister", "s", "2", "visits", "in", "2024"]
    assert words("\u5317\u4eac\u5e02 Apple") == ["\u5317", "\u4eac", "\u5e02", "apple"]  # one word per ideograph
    assert words("\u041f\u0440\u0435\u0437\u0438\u0434\u0435\u043d\u0442 \u0440\u043e\u0441\u0441\u0438\u0438") == ["\u043f\u0440\u0435\u0437\u0438\u0434\u0435\u043d\u0442", "\u0440\u043e\u0441\u0441\u0438\u0438"]
    assert words("\U0001F600 !!! ...") == []


# --- the hash on real articles ---------------------------------------------------------------
def test_content_hash_equal_for_reformatted_copies(bodies):
    reformatted = [reformat(text) for text in bodies]
    assert all(r != t for r, t in zip(reformatted, bodies))
    assert [content_hash(r) for r in reformatted] == [content_hash(t) for t in bodies]
    # Each transformation alone, too.
    text = bodies[0]
    for variant in (text.upper(), "  " + text.replace(" ", "   \n") + "\n",
                    text.replace("'", "\u2019"), f"<p>{html.escape(text)}</p>",
                    text.replace(" ", " <b></b> ", 3)):
        assert content_hash(variant) == content_hash(text)


def test_content_hash_differs_for_different_texts(bodies):
    assert len({content_hash(t) for t in bodies}) == len(set(map(normalize, bodies))) == len(bodies)
    text = bodies[0]
    # One changed word, one dropped sentence-final character, one extra word: all different.
    first = text.split(" ", 1)
    assert content_hash(first[0] + "x " + first[1]) != content_hash(text)
    assert content_hash(text.rstrip()[:-1]) != content_hash(text)
    assert content_hash(text + " more") != content_hash(text)


def test_lead_hash_is_the_opening_words_only(bodies):
    """Equal for an excerpt and a reformatted copy (the opening is the same words), different
    when one of the opening words changes, absent for a text shorter than the lead."""
    long = [t for t in bodies if len(words(t)) > 2 * LEAD_WORDS]
    assert len(long) >= 3 and len({lead_hash(t) for t in long}) == len(long)
    text = long[0]
    assert lead_hash(text[: len(text) // 2]) == lead_hash(reformat(text)) == lead_hash(text) is not None
    first = text.split(" ", 1)
    assert lead_hash(first[0] + "x " + first[1]) != lead_hash(text)
    assert lead_hash(" ".join(text.split()[: LEAD_WORDS // 2])) is None


def test_inline_markup_next_to_punctuation_is_still_an_exact_copy():
    """Scraped HTML wraps names in links right before a comma or a quote; removing the tags
    must give the same text as the plain copy, not one with stray spaces."""
    plain = 'He met Obama, the (new) president, saying "yes". It\'s 5%.'
    marked = ('He met <a href="/people/obama">Obama</a>, the (<i>new</i>) president, '
              'saying &ldquo;<em>yes</em>&rdquo;.<br/>It&rsquo;s 5<span>%</span>.')
    assert content_hash(marked) == content_hash(plain)
    assert content_hash("Hello,  <b>World</b>!") == content_hash("hello, world!")
    # Spacing is layout, but the words and their order are not.
    assert content_hash("He met Obama, the president") != content_hash("He met the president, Obama")


def test_content_hash_is_stable():
    # Hashes are stored: a change to normalisation must be deliberate (and re-hash the store).
    assert content_hash("Hello, World!") == "ec1e0bd875226943ad0e8877bdba4ca449c4cb8591a5363921c9f1ee20084c34"


# --- shingles used for near-duplicates ----------------------------------------------------------
def test_shingles_ignore_formatting(bodies):
    for text in bodies[:10]:
        assert minhash.shingles(reformat(text), 3) == minhash.shingles(text, 3)


def test_texts_without_words_do_not_share_one_signature():
    """Emoji-only or punctuation-only bodies have no word shingles; two *different* such bodies
    must not look identical to MinHash (else every one is a near-duplicate of the first)."""
    a, b = minhash.signatures(["\U0001F600\U0001F600\U0001F600", "!!! ???"], 128, 3)[0]
    assert minhash.jaccard(a, b[None, :])[0] < 0.5

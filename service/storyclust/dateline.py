"""The date a body opens with: an article posted without ``published_at`` is dated by it.

Copies pasted from a web page or a wire often carry their date as the first words of the body
("May 2, 2013, 1:12 PM", "21 July 2013 Last updated at 11:11 GMT", "date 2025-04-11 TEHRAN -")
and no date field. Undated, such a report is compared with every report of its topic as if it
were from the same day; dated, the gap to a look-alike event of another month lowers the pair's
score (``features.log_days_apart``), as it does for articles posted with a date.

Only the very start of the body is read (after an optional label such as "date" or
"Published"), in four forms: ISO (2025-04-11, 2025-04-11T09:30Z), month first (May 2, 2013;
Jan. 5, 2011; DECEMBER 16, 2008; September 18th, 2013), day first (12 January 2010; 18th
September 2013) and Chinese or Japanese
(2013年5月2日). A date further in is an event's date, not the report's, and is left alone. The
time of day that may follow is ignored: the date is read as midnight UTC, and gaps are read in
days. Month names are English (``datetime.strptime``'s C-locale names).
A body that opens with a historical date ("June 6, 1944 - Allied troops land ...", an
anniversary piece) is dated by it and kept out of today's time window; a feed of such pieces
should send ``published_at``, which always wins.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re

EARLIEST_YEAR, LATEST_YEAR = 1900, 2100  # outside: a figure, not a date line

_LABEL = r"(?:(?:dated?|published|posted|updated)\s*[:\-]?\s+)?"
_BOUNDARY = r"$|[\s,.;:|@\u2013\u2014\-]"  # what may follow a date: a time, a dash, the text
_ORDINAL = r"(?:st|nd|rd|th)?"  # "September 18th, 2013", "18th September 2013"
_FORMS = (
    (re.compile(r"\s*" + _LABEL + r"(\d{4}-\d{2}-\d{2})(?=T|" + _BOUNDARY + ")", re.I), ("%Y-%m-%d",)),
    (re.compile(r"\s*" + _LABEL + r"([A-Za-z]{3,9})\.? (\d{1,2})" + _ORDINAL + r",? (\d{4})(?=" + _BOUNDARY + ")", re.I),
     ("%B %d %Y", "%b %d %Y")),
    (re.compile(r"\s*" + _LABEL + r"(\d{1,2})" + _ORDINAL + r" ([A-Za-z]{3,9})\.?,? (\d{4})(?=" + _BOUNDARY + ")", re.I),
     ("%d %B %Y", "%d %b %Y")),
    (re.compile(r"\s*(\d{4})\s*\u5e74\s*(\d{1,2})\s*\u6708\s*(\d{1,2})\s*[\u65e5\u53f7]"), ("%Y %m %d",)),
)


# Words a date or time stamp is made of, besides its figures: English month and day names (the C
# locale's, full and abbreviated), time zones, and the labels a page puts before a stamp.
_CALENDAR_NAMES = (*calendar.month_name, *calendar.month_abbr, *calendar.day_name, *calendar.day_abbr)
_STAMP_WORDS = frozenset(
    [name.lower() for name in _CALENDAR_NAMES if name]
    + ["sept", "am", "pm", "gmt", "utc", "z", "et", "est", "edt", "ct", "cst", "cdt", "mt", "mst", "mdt", "pt", "pst",
       "pdt", "bst", "cet", "cest", "ist", "jst", "hrs", "st", "nd", "rd", "th", "at", "on", "date", "dated", "published",
       "posted", "updated", "last"])
_WORD = re.compile(r"[^\W\d_]+")


def is_date_stamp(line: str) -> bool:
    """Whether a line is only a date or a time ("Tuesday, May 24, 2005", "12 January 2010 @ 09:29
    pm", "Updated Saturday, December 05, 2009 8:28 PM"): it holds a figure, and every word is a
    month, a weekday, a time zone or a stamp's label. A page scraped whole often gives its stamp
    as the first line, where a headline would be."""
    return any(c.isdigit() for c in line) and all(w in _STAMP_WORDS for w in _WORD.findall(line.lower()))


def dateline_date(text: str) -> dt.datetime | None:
    """The date the body opens with, as midnight UTC, or None where it opens otherwise."""
    for pattern, formats in _FORMS:
        match = pattern.match(text)
        if match is None:
            continue
        value = " ".join(match.groups())
        for form in formats:
            try:
                parsed = dt.datetime.strptime(value, form)
            except ValueError:
                continue
            if EARLIEST_YEAR <= parsed.year <= LATEST_YEAR:
                return parsed.replace(tzinfo=dt.timezone.utc)
        return None
    return None

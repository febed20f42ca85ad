"""The input article: validation with messages that name the field, shared by API and CLI."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .dateline import dateline_date
from .language import canonical_language
from .normalize import clean, clean_uncached


# The input rules as JSON-schema constraints, for the OpenAPI document (client generators and
# fuzzers read them); the validators below enforce the same rules with messages naming the field.
_NO_NUL = r"^[^\u0000]*$"
# A character that str.strip() keeps (JSON-schema "\s" is JavaScript's, which lacks \x1c-\x1f
# and \x85), and one that clean() keeps too (it also drops soft hyphens and zero-width spaces).
_NOT_BLANK = r"^[^\u0000]*[^\s\u0000\u001c-\u001f\u0085][^\u0000]*$"
_SOME_TEXT = r"^[^\u0000]*[^\s\u0000\u001c-\u001f\u0085\u00ad\u200b\ufeff][^\u0000]*$"
DATELINE_CHARS = 400  # of the raw body, markup included, read for the date it opens with


def string_schema(**constraints: Any) -> Callable[[dict], None]:
    """``json_schema_extra`` that puts ``constraints`` on the field's string schema (the string
    branch of an optional field)."""
    def apply(schema: dict) -> None:
        for branch in schema.get("anyOf", [schema]):
            if branch.get("type") == "string":
                branch.update(constraints)
    return apply


def iso_date_schema(schema: dict) -> None:
    """``json_schema_extra`` of an optional ISO 8601 date or datetime (:func:`parse_published`)."""
    schema["anyOf"] = [{"type": "string", "format": "date-time"}, {"type": "string", "format": "date"},
                       {"type": "string", "pattern": r"^\s*$", "description": "blank: none"}, {"type": "null"}]


def required_date_schema(schema: dict) -> None:
    """``json_schema_extra`` of a required ISO 8601 date or datetime (:func:`parse_published`)."""
    schema.pop("type", None)
    schema["anyOf"] = [{"type": "string", "format": "date-time"}, {"type": "string", "format": "date"}]


class Article(BaseModel):
    """One news article as posted. Unknown fields (e.g. ``event_id``) are ignored."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)

    id: str = Field(min_length=1, max_length=512, description="The caller's unique id.",
                    json_schema_extra=string_schema(pattern=_NOT_BLANK))
    text: str = Field(description="Body text; HTML remnants and any language are fine.",
                      json_schema_extra=string_schema(minLength=1, pattern=_SOME_TEXT))
    title: str | None = Field(None, description="Headline.", json_schema_extra=string_schema(pattern=_NO_NUL))
    published_at: str | None = Field(None, description="ISO 8601 date or datetime, with or without offset.",
                                     json_schema_extra=iso_date_schema)
    lang: str | None = Field(None, description="ISO 639-1 code; detected when absent. A BCP 47 tag "
                             "('en-US') or an ISO 639-2/3 code ('eng', 'ger', 'cmn') is read as its language's "
                             "ISO 639-1 code; 'und', and a code that names no language ('zz'), as absent.",
                             json_schema_extra=string_schema(pattern=r"^\s*([A-Za-z]{2,3}([-_][^\s\u0000]*)?)?\s*$"))
    source: str | None = Field(None, description="Outlet or agency name.", json_schema_extra=string_schema(pattern=_NO_NUL))
    url: str | None = Field(None, json_schema_extra=string_schema(pattern=_NO_NUL))

    @field_validator("id", "text", "title", "published_at", "lang", "source", "url")
    @classmethod
    def _valid_unicode(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("contains invalid Unicode (a lone surrogate)") from None
            if "\x00" in value:
                raise ValueError("contains a NUL character")
        return value

    @field_validator("id")
    @classmethod
    def _id_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("text")
    @classmethod
    def _text_has_content(cls, value: str) -> str:
        if not clean(value):
            raise ValueError("must contain text (it is empty after removing markup and whitespace)")
        return value

    @field_validator("published_at")
    @classmethod
    def _iso_date(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parse_published(value)  # raises ValueError with the reason
        return value.strip()

    @field_validator("lang")
    @classmethod
    def _lang_code(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        code = value.strip().lower().replace("_", "-").split("-")[0]
        if not (2 <= len(code) <= 3 and code.isascii() and code.isalpha()):
            raise ValueError("must be an ISO 639-1 code such as 'en'")
        return canonical_language(code)

    def fingerprint(self) -> str:
        """Hash of every caller field: the same id with the same fingerprint is idempotent."""
        payload = self.model_dump()
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8")).hexdigest()

    @property
    def published_ts(self) -> float | None:
        """When it was published: ``published_at``, else the date its body opens with
        (:mod:`.dateline`), else None. ``published_at`` itself stays as the caller sent it."""
        if self.published_at:
            return parse_published(self.published_at).timestamp()
        opening = dateline_date(clean_uncached(self.text[:DATELINE_CHARS]))  # a piece: kept out of the cache
        return opening.timestamp() if opening is not None else None


_LEAP_SECOND = re.compile(r"([T ]\d\d:\d\d):60")


def parse_published(value: str) -> dt.datetime:
    """ISO 8601 date or datetime to an aware UTC datetime; naive values are taken as UTC."""
    text = _LEAP_SECOND.sub(r"\1:59", value.strip().upper())  # RFC 3339: "t", "z"; 23:59:60
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO 8601 date or datetime") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    try:
        return parsed.astimezone(dt.timezone.utc)
    except OverflowError:  # e.g. 9999-12-31T23:59-12:00 is past year 9999 in UTC
        raise ValueError(f"{value!r} is out of the supported date range") from None


class ArticleError(ValueError):
    """Invalid article input, with a message that names the field."""


def describe(error: ValidationError) -> str:
    """One line per problem: ``field: message``."""
    parts = []
    for item in error.errors():
        field = ".".join(str(p) for p in item["loc"]) or "article"
        message = item["msg"].removeprefix("Value error, ")
        parts.append(f"{field}: {message}")
    return "; ".join(parts)


_JSON_TYPES = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean",
               type(None): "null"}  # a line's JSON value, named as the caller wrote it


def parse_article(data: Any, max_text_bytes: int | None = None) -> Article:
    """Validate one decoded JSON value as an article, or raise :class:`ArticleError`."""
    if not isinstance(data, dict):
        named = _JSON_TYPES.get(type(data), type(data).__name__)
        raise ArticleError(f"article: expected a JSON object, got {named}")
    try:
        article = Article.model_validate(data)
    except ValidationError as error:
        raise ArticleError(describe(error)) from None
    if max_text_bytes is not None and len(article.text.encode("utf-8")) > max_text_bytes:
        raise ArticleError(f"text: larger than the limit of {max_text_bytes} bytes")
    return article

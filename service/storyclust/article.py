"""The input article: validation with messages that name the field, shared by API and CLI."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .normalize import clean


class Article(BaseModel):
    """One news article as posted. Unknown fields (e.g. ``event_id``) are ignored."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)

    id: str = Field(min_length=1, max_length=512, description="The caller's unique id.")
    text: str = Field(description="Body text; HTML remnants and any language are fine.")
    title: str | None = Field(None, description="Headline.")
    published_at: str | None = Field(None, description="ISO 8601 date or datetime, with or without offset.")
    lang: str | None = Field(None, description="ISO 639-1 code; detected when absent.")
    source: str | None = Field(None, description="Outlet or agency name.")
    url: str | None = None

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
        if not (2 <= len(code) <= 3 and code.isalpha()):
            raise ValueError("must be an ISO 639-1 code such as 'en'")
        return code

    def fingerprint(self) -> str:
        """Hash of every caller field: the same id with the same fingerprint is idempotent."""
        payload = self.model_dump()
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8")).hexdigest()

    @property
    def published_ts(self) -> float | None:
        return parse_published(self.published_at).timestamp() if self.published_at else None


def parse_published(value: str) -> dt.datetime:
    """ISO 8601 date or datetime to an aware UTC datetime; naive values are taken as UTC."""
    text = value.strip()
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


def parse_article(data: Any, max_text_bytes: int | None = None) -> Article:
    """Validate one decoded JSON value as an article, or raise :class:`ArticleError`."""
    if not isinstance(data, dict):
        raise ArticleError(f"article: expected a JSON object, got {type(data).__name__}")
    try:
        article = Article.model_validate(data)
    except ValidationError as error:
        raise ArticleError(describe(error)) from None
    if max_text_bytes is not None and len(article.text.encode("utf-8")) > max_text_bytes:
        raise ArticleError(f"text: larger than the limit of {max_text_bytes} bytes")
    return article

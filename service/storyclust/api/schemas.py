"""Request and response models of the REST API, and the OpenAPI examples (taken from seeds/).

The input article is :class:`storyclust.article.Article` itself, so the API and the CLI accept
and reject exactly the same things with the same messages.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, Discriminator, Field, StrictBool, Tag, model_validator

from ..article import Article
from ..engine import Decision
from ..seeds import load_seeds
from ..store import StoredArticle

Relation = Literal["exact_duplicate", "near_duplicate", "same_story", "new_story"]


def _bare_list(value: Any) -> Any:
    """A bare JSON list in place of ``{"articles": [...]}``."""
    return {"articles": value} if isinstance(value, list) else value


class ArticleBatch(BaseModel):
    articles: list[Article] = Field(min_length=1, description="Decided and stored in this order, "
                                    "in one transaction: all of them or, on a bad one, none.")

    _bare_batch = model_validator(mode="before")(_bare_list)


def _posted_kind(value: Any) -> str:
    return "batch" if isinstance(value, list) or (isinstance(value, dict) and "articles" in value) else "article"


# The body of POST /articles: one article, or {"articles": [...]} (or a bare list). The tags name the union
# branches; pydantic puts them in error locations, where the error handler drops them.
PostedArticles = Annotated[
    Union[Annotated[Article, Tag("article")], Annotated[ArticleBatch, Tag("batch")]],
    Discriminator(_posted_kind),
]
UNION_TAGS = frozenset({"article", "batch", "split", "move"})  # tags of body unions: these, api.corrections
BARE_LIST_BODIES = frozenset({"ArticleBatch", "DedupRequest"})  # bodies that also take their list alone


class Match(BaseModel):
    id: str
    cluster_id: str
    score: float


class IngestResult(BaseModel):
    """The CONTRACT line, plus what the decision rests on."""

    id: str
    cluster_id: str
    relation: Relation
    duplicate_of: str | None = Field(description="The stored article this one copies (exact or near).")
    score: float = Field(description="Strength of the relation: 1.0 for an exact copy, the MinHash "
                         "overlap for a near copy, the story score otherwise.")
    matches: list[Match] = Field(description="The closest stored articles considered.")
    evidence: dict[str, Any] = Field(description="Per-signal scores behind the decision.")
    stored: bool = Field(description="False when this id was already stored with the same content "
                         "(an idempotent repeat: nothing changed).")

    @classmethod
    def of(cls, decision: Decision) -> IngestResult:
        return cls(**decision.line(), matches=decision.matches, evidence=decision.evidence,
                   stored=decision.stored)


class IngestBatchResult(BaseModel):
    results: list[IngestResult] = Field(description="One per posted article, in posted order.")


class StoredArticleOut(BaseModel):
    id: str
    title: str | None
    text: str
    published_at: str | None
    published_time: dt.datetime | None = Field(description="The publication time the article is compared "
                                               "and windowed by: published_at, else the date its body opens "
                                               "with (\"May 2, 2013 ...\"), else null (undated).")
    lang: str | None
    source: str | None
    url: str | None
    cluster_id: str
    relation: Relation
    duplicate_of: str | None
    score: float | None
    evidence: dict[str, Any] | None
    ingested_at: dt.datetime

    @classmethod
    def of(cls, article: StoredArticle) -> StoredArticleOut:
        return cls(**{**article.public(), "score": rounded(article.score)}, ingested_at=utc(article.ingested_at),
                   published_time=published_time(article))


class Member(BaseModel):
    id: str
    title: str | None
    source: str | None
    url: str | None
    published_at: str | None
    published_time: dt.datetime | None = Field(description="As in GET /articles/{id}: published_at, else "
                                               "the date the body opens with, else null.")
    relation: Relation
    duplicate_of: str | None
    score: float | None

    @classmethod
    def of(cls, article: StoredArticle) -> Member:
        return cls(id=article.id, title=article.title, source=article.source, url=article.url,
                   published_at=article.published_at, published_time=published_time(article),
                   relation=article.relation, duplicate_of=article.duplicate_of, score=rounded(article.score))


class StorySummary(BaseModel):
    cluster_id: str
    size: int
    representative: Member = Field(description="The earliest-ingested member that is not a copy "
                                   "(else the first member).")
    sources: list[str] = Field(description="Distinct sources of the members.")
    first_published: dt.datetime | None
    last_published: dt.datetime | None


class Story(StorySummary):
    members: list[Member] = Field(description="In ingest order.")


class StoryListItem(StorySummary):
    updated_at: dt.datetime = Field(description="When the story last gained or lost an article.")


class StoryPage(BaseModel):
    clusters: list[StoryListItem] = Field(description="Most recently updated first.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last.")


class DedupRequest(BaseModel):
    """The feed and how to collapse it; a bare JSON list is the feed alone (the query then gives
    `level` and `store`)."""

    articles: list[Article] = Field(min_length=1, description="The feed, in feed order.")
    level: Literal["near_duplicate", "story"] = Field(
        "near_duplicate", description="Collapse copies (exact and near duplicates) or whole stories.")
    store: StrictBool = Field(False, description="Ingest the feed (true) or only compare it with itself "
                        "and with what is stored (false: nothing is kept).")

    _bare_feed = model_validator(mode="before")(_bare_list)


class DedupItem(BaseModel):
    id: str
    cluster_id: str = Field(description="With store=false, the id of a new story is provisional.")
    relation: Relation
    duplicate_of: str | None
    score: float
    kept: bool = Field(description="Whether the article stays in the collapsed feed.")
    stands_for: str = Field(description="The article that stands for this one: itself when kept.")
    stands_for_stored: bool = Field(description="True when that article was stored before this "
                                    "request (the feed repeats what is already known).")


class DedupResult(BaseModel):
    level: Literal["near_duplicate", "story"]
    stored: bool
    kept: list[str] = Field(description="The collapsed feed: ids of the kept articles, in feed order.")
    items: list[DedupItem] = Field(description="One per feed article, in feed order.")


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    model: str | None
    indexes: Literal["match", "mismatch", "busy", "not loaded"] = Field(
        description="Whether the vector and LSH indexes hold exactly the stored articles; `busy` "
        "when a long write held the lock (the indexes change in step with the store inside it).")
    articles: int | None
    stories: int | None
    rss_mb: float
    scorer: str | None = Field(None, description="The pair scorer's version.")
    model_runtime: Literal["onnx", "torch"] | None = Field(
        None, description="What runs the model: `torch` where `onnx` was configured means its ONNX export "
        "failed or the model has modules ONNX Runtime does not run here (the log says which); slower, same vectors.")
    scorer_fits_model: bool | None = Field(
        None, description="False when the scorer was fitted on another embedding model than the "
        "configured one (its cosines read differently; still ready, but fit a scorer for the model).")


class FieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    detail: str = Field(description="What is wrong, naming the field: `articles[2].text: must contain text`.")
    errors: list[FieldError] | None = None


def utc(timestamp: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc)


def published_time(article: StoredArticle) -> dt.datetime | None:
    """The time the article is compared and windowed by (``Article.published_ts``), if any."""
    return utc(article.published_ts) if article.published_ts is not None else None


def rounded(score: float | None) -> float | None:
    """Scores as in the CLI line: four decimals."""
    return None if score is None else round(score, 4)


# --- OpenAPI examples from the seed corpus ------------------------------------------------

NEW_STORY = {
    "id": "feed-valencia-floods",
    "title": "Flash floods close roads around Valencia",
    "text": "Heavy rain flooded several districts south of Valencia on Tuesday, closing two "
            "motorways and suspending commuter trains. Emergency services said no one was hurt.",
    "published_at": "2025-04-15T09:30:00+02:00",
    "source": "Example Daily",
}


@cache
def seed_articles() -> list[dict]:
    """The five seeds (none when seeds/ is not beside the package, e.g. a wheel install)."""
    return load_seeds()


def syndicated_copy(seed: dict) -> dict:
    """A wire copy of a seed: new id, headline, dateline and agency sign-off around the same body."""
    return {"id": f"wire-{seed['id']}", "title": "Iran, Iraq presidents meet in Turkmenistan",
            "text": f"ASHGABAT (Wire) - {seed['text']}\n\n(Reporting by the wire desk)",
            "published_at": seed.get("published_at"), "source": "Wire"}


def article_examples() -> dict[str, dict]:
    seeds = seed_articles()
    if not seeds:
        return {"one article": {"value": NEW_STORY}}
    return {
        "one article": {"summary": "Seed 002: the presidents' meeting in Turkmenistan", "value": seeds[2]},
        "batch": {"summary": "The five seeds (only 002 and 003 report the same meeting)",
                  "value": {"articles": seeds}},
    }


def dedup_examples() -> dict[str, dict]:
    seeds = seed_articles()
    feed = [syndicated_copy(seeds[2]), NEW_STORY] if seeds else [NEW_STORY]
    return {
        "compare a feed": {"summary": "A wire copy of seed 002 and a new story, checked against the store",
                           "value": {"articles": feed, "level": "near_duplicate", "store": False}},
        "one per story": {"summary": "The seeds as a feed, one article per story",
                          "value": {"articles": seeds or feed, "level": "story", "store": False}},
    }

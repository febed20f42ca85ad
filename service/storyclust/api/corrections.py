"""/corrections: an editor splits a story or moves articles into another, and every later
re-clustering keeps it (:mod:`storyclust.corrections`)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response
from pydantic import BaseModel, Field

from .. import corrections
from ..engine import Engine
from ..metrics import Metrics
from .deps import get_engine, get_metrics, require_read_key, require_write_key
from .schemas import Problem, utc

router = APIRouter(prefix="/corrections", tags=["corrections"])
NOT_FOUND = {404: {"model": Problem, "description": "No correction with this id."}, 422: {"model": Problem}}
StoredId = Annotated[str, Field(min_length=1, max_length=512)]  # an article's or a story's, as stored
CorrectionId = Annotated[int, Path(ge=1, le=2**63 - 1, description="As `POST /corrections` answered it.")]


class _Correcting(BaseModel):
    article_ids: list[StoredId] = Field(min_length=1, max_length=10_000, description="Stored originals; a copy "
                                         "goes with the article it copies (name that one).")
    note: str | None = Field(None, max_length=2000, description="Why, for the record.")


class SplitRequest(_Correcting):
    action: Literal["split"] = Field(description="The articles leave their story for a new one, kept apart "
                                     "from the rest of it.")
    cluster_id: StoredId | None = Field(None, description="The story the articles are in, as the editor saw it: "
                                       "the split is refused (409) if they are no longer there.")


class MoveRequest(_Correcting):
    action: Literal["move"] = Field(description="The articles join story `cluster_id`, kept with its members "
                                    "and apart from the stories they leave.")
    cluster_id: StoredId = Field(description="The story to join; an id merged away stands for the story it "
                                "went into.")


CorrectionRequest = Annotated[SplitRequest | MoveRequest, Field(discriminator="action")]


class CorrectionOut(BaseModel):
    correction_id: int
    action: Literal["split", "move"]
    cluster_id: str = Field(description="The story the split made, or the one the move joined (its id then).")
    article_ids: list[str] = Field(description="The originals moved; their copies went with them.")
    apart_from: int = Field(description="Articles they are kept apart from.")
    placed_with: int = Field(description="Articles they are kept with (a move: the story's members then).")
    note: str | None
    created_at: dt.datetime

    @classmethod
    def of(cls, c: corrections.Correction) -> CorrectionOut:
        return cls(correction_id=c.correction_id, action=c.action, cluster_id=c.cluster_id, article_ids=c.article_ids,
                   apart_from=c.apart_from, placed_with=c.placed_with, note=c.note, created_at=utc(c.created_at))


class CorrectionPage(BaseModel):
    corrections: list[CorrectionOut]
    next_before: int | None = Field(description="Pass as `before` for the next, older page; null: no more.")


@router.post("", status_code=201, response_model=CorrectionOut, dependencies=[Depends(require_write_key)],
             responses={401: {"model": Problem}, 404: {"model": Problem, "description": "An article or story "
                        "named is not stored."}, 409: {"model": Problem, "description": "The stories as stored do "
                        "not allow it (a whole story split, articles of several stories, a copy without its "
                        "original, an article already in the story)."}, 422: {"model": Problem}})
def post_correction(body: CorrectionRequest, engine: Annotated[Engine, Depends(get_engine)],
                    metrics: Annotated[Metrics, Depends(get_metrics)]) -> CorrectionOut:
    """Split a story or move articles, now, in one transaction; later re-clusterings keep it. A
    re-clustering that was running when it landed is refused at its write, and runs again."""
    try:
        if isinstance(body, SplitRequest):
            made = corrections.split(engine, body.article_ids, body.cluster_id, body.note)
        else:
            made = corrections.move(engine, body.article_ids, body.cluster_id, body.note)
    except corrections.CorrectionError as error:
        raise HTTPException(error.status, str(error)) from None
    metrics.corrections.labels(made.action).inc()
    return CorrectionOut.of(made)


@router.get("", response_model=CorrectionPage, dependencies=[Depends(require_read_key)],
            responses={422: {"model": Problem}})
def list_corrections(
    engine: Annotated[Engine, Depends(get_engine)],
    limit: Annotated[int, Query(ge=1, le=200, description="Corrections per page.")] = 50,
    before: Annotated[int | None, Query(ge=1, le=2**63 - 1, description="`next_before` of the previous page.")] = None,
) -> CorrectionPage:
    """The corrections in force, latest first, a page at a time."""
    found = corrections.recent(engine.store, limit + 1, before)
    page = [CorrectionOut.of(c) for c in found[:limit]]
    return CorrectionPage(corrections=page, next_before=page[-1].correction_id if len(found) > limit else None)


@router.get("/{correction_id}", response_model=CorrectionOut, dependencies=[Depends(require_read_key)],
            responses=NOT_FOUND)
def get_correction(correction_id: CorrectionId, engine: Annotated[Engine, Depends(get_engine)]) -> CorrectionOut:
    found = corrections.get(engine.store, correction_id)
    if found is None:
        raise HTTPException(404, f"correction_id: no correction {correction_id}")
    return CorrectionOut.of(found)


@router.delete("/{correction_id}", status_code=204, response_class=Response,
               dependencies=[Depends(require_write_key)], responses=NOT_FOUND)
def delete_correction(correction_id: CorrectionId, engine: Annotated[Engine, Depends(get_engine)]) -> Response:
    """Withdraw a correction: later re-clusterings decide its articles freely again. Nothing
    moves now."""
    if not corrections.withdraw(engine, correction_id):
        raise HTTPException(404, f"correction_id: no correction {correction_id}")
    return Response(status_code=204)

"""/admin: the nightly re-clustering as a background job of the running service, and retention.

POST /admin/recluster starts a job and answers at once (202) with its id; GET follows it. Jobs
run one at a time, in order, on one worker thread per app, while the API keeps serving and
ingesting: the job computes without the engine's write lock and takes it only for its final
transaction (see :mod:`storyclust.recluster`). Job records live in memory: a restart forgets
them (the clustering they committed stays). POST /admin/expire removes what is older than a
date and answers when done (:mod:`storyclust.retention`). Every endpoint here needs the write key.
"""

from __future__ import annotations

import datetime as dt
import queue
import threading
import time
import uuid
from collections import OrderedDict
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, Field, StrictBool, field_validator

from ..article import iso_date_schema, required_date_schema
from ..engine import Engine
from ..recluster import JobRunning, ReclusterReport, parse_bound, run_recluster
from ..retention import expire
from .deps import get_engine, require_write_key
from .schemas import Problem

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_write_key)])

State = Literal["queued", "running", "done", "failed"]


class ReclusterRequest(BaseModel):
    since: str | None = Field(None, description="ISO 8601 date or datetime: re-cluster articles published "
                              "(undated: ingested) at or after it. Default: from the first.",
                              examples=["2025-04-01"], json_schema_extra=iso_date_schema)
    until: str | None = Field(None, description="ISO 8601 date or datetime: ... before it; a bare date "
                              "includes that day. Default: to the last.", examples=["2025-04-30"],
                              json_schema_extra=iso_date_schema)

    @field_validator("since", "until")
    @classmethod
    def _iso(cls, value: str | None) -> str | None:
        parse_bound(value)  # raises ValueError naming the value
        return value


class Job(BaseModel):
    job_id: str
    state: State
    since: str | None
    until: str | None
    submitted_at: dt.datetime
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    seconds: float | None = Field(None, description="Running time, so far or in all.")
    summary: dict | None = Field(None, description="When done: counts, merges, splits, new stories, "
                                 "moved articles and the time of each stage (see `storyclust recluster --report`).")
    error: str | None = Field(None, description="When failed: why. The previous clustering is intact.")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class ReclusterJobs:
    """The jobs of one app, run in submission order by one worker thread.

    ``keep``: finished jobs remembered for GET; older ones are forgotten first."""

    def __init__(self, keep: int = 50) -> None:
        self.keep = keep
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._queue: queue.Queue[tuple[str, Engine]] = queue.Queue()
        self._worker = threading.Thread(target=self._work, name="recluster-jobs", daemon=True)
        self._worker.start()

    def submit(self, engine: Engine, since: str | None, until: str | None) -> Job:
        job = Job(job_id=uuid.uuid4().hex, state="queued", since=since, until=until, submitted_at=_now())
        with self._lock:
            self._jobs[job.job_id] = job
            self._forget()
        self._queue.put((job.job_id, engine))
        return job.model_copy()

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return None
            job = job.model_copy()
        if job.state == "running" and job.started_at:
            job.seconds = round((_now() - job.started_at).total_seconds(), 3)
        return job

    def recent(self) -> list[Job]:
        with self._lock:
            ids = list(reversed(self._jobs))
        return [job for job in map(self.get, ids) if job is not None]

    def _forget(self) -> None:
        finished = [k for k, j in self._jobs.items() if j.state in ("done", "failed")]
        for key in finished[: max(0, len(self._jobs) - self.keep)]:
            del self._jobs[key]

    def _update(self, job_id: str, **changes) -> None:
        with self._lock:
            job = self._jobs[job_id]
            self._jobs[job_id] = job.model_copy(update=changes)

    @staticmethod
    def _run_after_others(engine: Engine, job: Job) -> ReclusterReport:
        """The job, once a repair of the story-repair schedule that holds the job lock is done."""
        while True:
            try:
                return run_recluster(engine, since=job.since, until=job.until)
            except JobRunning:
                time.sleep(0.2)

    def _work(self) -> None:
        while True:
            job_id, engine = self._queue.get()
            with self._lock:
                job = self._jobs[job_id]
            self._update(job_id, state="running", started_at=_now())
            started = time.perf_counter()
            try:
                report = self._run_after_others(engine, job)
            except Exception as error:  # noqa: BLE001 - any failure is the job's result
                self._update(job_id, state="failed", finished_at=_now(), error=f"{type(error).__name__}: {error}",
                             seconds=round(time.perf_counter() - started, 3))
            else:
                self._update(job_id, state="done", finished_at=_now(), summary=report.summary(),
                             seconds=round(time.perf_counter() - started, 3))


_jobs_lock = threading.Lock()


def get_jobs(request: Request) -> ReclusterJobs:
    """The app's job runner, started on first use."""
    with _jobs_lock:
        jobs = getattr(request.app.state, "recluster_jobs", None)
        if jobs is None:
            jobs = request.app.state.recluster_jobs = ReclusterJobs()
        return jobs


@router.post("/recluster", status_code=202, response_model=Job, responses={422: {"model": Problem}})
def start_recluster(
    response: Response,
    engine: Annotated[Engine, Depends(get_engine)],
    jobs: Annotated[ReclusterJobs, Depends(get_jobs)],
    body: ReclusterRequest | None = None,
) -> Job:
    """Start re-clustering the stored articles (optionally those of [since, until)) in the
    background. Answers at once with the job; follow it at `Location`."""
    body = body or ReclusterRequest()
    job = jobs.submit(engine, body.since, body.until)
    response.headers["Location"] = f"{router.prefix}/recluster/{job.job_id}"
    return job


@router.get("/recluster", response_model=list[Job])
def list_reclusters(jobs: Annotated[ReclusterJobs, Depends(get_jobs)]) -> list[Job]:
    """Jobs this process remembers, newest first."""
    return jobs.recent()


@router.get("/recluster/{job_id}", response_model=Job,
            responses={404: {"model": Problem, "description": "No job with this id."}})
def get_recluster(job_id: str, jobs: Annotated[ReclusterJobs, Depends(get_jobs)]) -> Job:
    """A job's state (queued, running, done, failed), its times, and when done its summary."""
    job = jobs.get(job_id)
    if job is None:
        raise HTTPException(404, f"job_id: no re-clustering job {job_id!r} (jobs are forgotten on restart)")
    return job


class ExpireRequest(BaseModel):
    before: str = Field(description="ISO 8601 date or datetime: remove the articles published (undated: "
                        "ingested) before it; a bare date is the start of that day, UTC.",
                        examples=["2025-01-01"], json_schema_extra=required_date_schema)
    dry_run: StrictBool = Field(False, description="Count what would go; remove nothing. A JSON boolean: 0 "
                                "or \"yes\" is refused, not read as one.")

    @field_validator("before")
    @classmethod
    def _iso(cls, value: str) -> str:
        if parse_bound(value) is None:  # raises ValueError naming the value
            raise ValueError("a date is required")
        return value


class Expiry(BaseModel):
    before: str
    dry_run: bool
    articles: int = Field(description="Articles removed (or, as a dry run, that would be).")
    stories_removed: int = Field(description="Stories all of whose articles went: they are gone.")
    stories_kept: int = Field(description="Stories that lost articles and keep the others, under their ids.")
    seconds: float


@router.post("/expire", response_model=Expiry, responses={422: {"model": Problem}})
def expire_articles(body: ExpireRequest, request: Request, engine: Annotated[Engine, Depends(get_engine)]) -> Expiry:
    """Retention: remove every article published (undated: ingested) before `before`, as
    `DELETE /articles/{id}` removes one: a story keeps its id and its other members, a story left
    empty disappears, a copy whose original goes takes its place. Runs in batches, each one
    transaction, while posts go on between them; answers when done. A retention period
    (`STORYCLUST_RETENTION_DAYS`) does the same on its own."""
    report = expire(engine, body.before, dry_run=body.dry_run)
    if not report.dry_run:
        request.app.state.metrics.expired.inc(report.articles)
    return Expiry(**report.summary())

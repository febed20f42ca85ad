"""/healthz (readiness) and /metrics (Prometheus); both open, for probes and scrapers."""

from __future__ import annotations

from typing import Annotated

import psutil
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from ..metrics import CONTENT_TYPE_LATEST, Metrics
from .deps import get_metrics
from .schemas import Health

router = APIRouter(tags=["health"])
LOCK_WAIT_S = 2.0  # a batch holds the write lock while it decides; do not hang a probe on it


@router.get("/healthz", response_model=Health,
            responses={503: {"model": Health, "description": "Not ready."}})
def healthz(request: Request) -> JSONResponse:
    """Ready (200) when the model is loaded and the indexes hold exactly the stored articles."""
    engine = getattr(request.app.state, "engine", None)
    rss_mb = round(psutil.Process().memory_info().rss / 2**20, 1)
    if engine is None:
        health = Health(status="unavailable", model=None, indexes="not loaded", articles=None,
                        stories=None, rss_mb=rss_mb)
        return JSONResponse(health.model_dump(), status_code=503)
    if engine.lock.acquire(timeout=LOCK_WAIT_S):
        try:  # under the lock: a write in progress has the indexes ahead of the committed store
            indexes = "match" if engine.indexes_match_store() else "mismatch"
        finally:
            engine.lock.release()
    else:
        indexes = "busy"
    ready = indexes != "mismatch"
    health = Health(status="ok" if ready else "unavailable", model=engine.encoder.name,
                    indexes=indexes, articles=engine.store.count(),
                    stories=engine.store.cluster_count(), rss_mb=rss_mb, scorer=engine.scorer.version,
                    model_runtime=getattr(engine.encoder, "runtime", None),
                    scorer_fits_model=engine.scorer.fitted_on(engine.encoder.name, engine.encoder.dim))
    return JSONResponse(health.model_dump(), status_code=200 if ready else 503)


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text format."}})
def metrics(metrics: Annotated[Metrics, Depends(get_metrics)]) -> Response:
    """Ingests by relation, request latency by route, stored articles and stories, process figures."""
    return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

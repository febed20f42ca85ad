"""Prometheus metrics of one API process: ingests by relation, request latency, store size.

Each app gets its own registry, so several apps in one process (tests) never clash over metric
names, and the store figures are read when scraped, never kept in step by hand.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from .engine import Decision

__all__ = ["CONTENT_TYPE_LATEST", "LatencyMiddleware", "Metrics"]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        for collector in (ProcessCollector, PlatformCollector, GCCollector):
            collector(registry=self.registry)
        self.ingested = Counter(
            "storyclust_ingested_articles", "Articles stored, by the relation decided for them "
            "(idempotent repeats are not counted).", ["relation"], registry=self.registry)
        self.latency = Histogram(
            "storyclust_http_request_duration_seconds", "HTTP request latency, by route template.",
            ["method", "route", "status"], registry=self.registry)
        self.articles = Gauge("storyclust_stored_articles", "Articles in the store.", registry=self.registry)
        self.stories = Gauge("storyclust_stories", "Story clusters in the store.", registry=self.registry)
        self.repairs = Counter(
            "storyclust_story_repairs", "Repairs of the stories of posted articles after a pause in posting "
            "(storyclust.repair_schedule), by result: done, postponed (another job held the job lock) "
            "or failed (the online stories stand).", ["result"], registry=self.registry)
        self.expired = Counter(
            "storyclust_expired_articles", "Articles removed by retention (POST /admin/expire and the "
            "retention period, storyclust.retention).", registry=self.registry)
        self.corrections = Counter(
            "storyclust_corrections", "Editors' corrections made (POST /corrections), by action: split "
            "or move. Many in a row on one kind of story say what the scorer gets wrong.", ["action"],
            registry=self.registry)

    def watch_store(self, articles: Callable[[], float], stories: Callable[[], float]) -> None:
        """Read the store's figures at scrape time."""
        self.articles.set_function(articles)
        self.stories.set_function(stories)

    def count_ingested(self, decisions: Iterable[Decision]) -> None:
        for decision in decisions:
            if decision.stored:
                self.ingested.labels(decision.relation).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class LatencyMiddleware:
    """Times every HTTP request, labelled by route template (not raw path: ids would explode the
    label set); requests no route matched share the label ``unmatched``."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # what the client gets if the app raises before answering

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note_status)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.latency.labels(scope["method"], route, str(status)).observe(
                time.perf_counter() - start)

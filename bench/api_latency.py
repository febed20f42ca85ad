"""POST /articles latency through a real server, with 10,000 stored articles, beside the model's
own time for one article. Target: p50 <= model p50 + 15 ms.

    .venv/bin/python bench/api_latency.py [--stored 10000] [--posts 200] [--data-dir DIR]

The store is filled in-process (engine.ingest in batches) with allsides-train (short leads, cheap
to embed) and wire copies of them up to --stored; the posted articles are full-length articles of
the other dev sets in ../shared/data, so each is decided against the whole store. One client posts
them one at a time to `storyclust serve` on loopback over one keep-alive connection of the
standard library's http.client, which adds ~0.1 ms of its own; `--client httpx` times the same
posts through httpx, a heavier Python client (~1-3 ms more per request on this machine, none of
it the server's). The model's time is read from
each answer's `Server-Timing` header (the server's own encode of that article), so "beyond the
model" is measured per request, on the same process and load; as a cross-check the client also
encodes the same texts itself after the server has stopped ("model, client side"; interleaved
with the posts, its torch threads competed with the server for the 2 cores).
A --data-dir that already holds the store is reused (filling takes minutes on 2 cores); the
posted articles are deleted again at the end, so a rerun sees the same store.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import httpx
import numpy as np

from storyclust.article import ArticleError, parse_article
from storyclust.config import PROJECT_ROOT, Settings
from storyclust.embedding import Encoder
from storyclust.engine import Engine, embed_text

DATA = Path(os.environ.get("STORYCLUST_SHARED", PROJECT_ROOT.parent / "shared")) / "data"
FILL_SET = "allsides-train"
POSTED_SETS = ("newswcl50", "ecbplus-dev", "clustmcms-dev", "wikiref220", "semeval2022-pairs-sample")
WARMUP = 10


def load_set(name: str) -> list[dict]:
    """The valid articles of a dev set, ids prefixed by the set (ids repeat across sets)."""
    rows = []
    with open(DATA / name / "articles.jsonl", encoding="utf-8") as handle:
        for line in filter(str.strip, handle):
            row = json.loads(line)
            row["id"] = f"{name}/{row['id']}"
            try:
                parse_article(row)
            except ArticleError:  # a few dev rows have no text
                continue
            rows.append(row)
    return rows


def stock(count: int) -> list[dict]:
    """``count`` articles to store: the fill set, then wire copies of it (new dateline and id)."""
    originals = load_set(FILL_SET)
    copies = [{**row, "id": f"{row['id']}~wire", "source": "Wire", "text": f"WASHINGTON (Wire) - {row['text']}"}
              for row in originals]
    articles = originals + copies
    if len(articles) < count:
        raise SystemExit(f"only {len(articles)} articles to store from {DATA / FILL_SET}")
    return articles[:count]


def fill(engine: Engine, articles: list[dict], batch: int = 256) -> None:
    start = time.perf_counter()
    for i in range(0, len(articles), batch):
        engine.ingest([parse_article(a) for a in articles[i:i + batch]])
        print(f"\rfilling: {min(i + batch, len(articles))}/{len(articles)} "
              f"({time.perf_counter() - start:.0f} s)", end="", file=sys.stderr)
    print(file=sys.stderr)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(client: httpx.Client, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 300
    while True:
        try:
            if client.get("/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the server did not become ready")
        time.sleep(0.5)


def server_timing(headers: dict[str, str]) -> dict[str, float]:
    """The answer's Server-Timing header ({"model": s, "engine": s}), in seconds."""
    entries = (entry.strip().partition(";dur=") for entry in headers["server-timing"].split(","))
    return {name: float(duration) / 1000 for name, _, duration in entries}


class StdlibClient:
    """POST and DELETE over one keep-alive http.client connection: the leanest Python client,
    so that the time measured is the server's, not a client library's."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict[str, str], bytes]:
        data = json.dumps(body).encode("utf-8") if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        self.connection.request(method, path, body=data, headers=headers)
        response = self.connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()

    def close(self) -> None:
        self.connection.close()


class HttpxClient:
    def __init__(self, port: int) -> None:
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict[str, str], bytes]:
        response = self.client.request(method, path, json=body)
        return response.status_code, dict(response.headers), response.content

    def close(self) -> None:
        self.client.close()


CLIENTS = {"stdlib": StdlibClient, "httpx": HttpxClient}


def call(client, method: str, path: str, body: dict | None = None) -> tuple[dict[str, str], bytes]:
    status, headers, content = client.request(method, path, body)
    if status >= 300:
        raise SystemExit(f"{method} {path}: {status} {content[:300]!r}")
    return headers, content


def timings(data_dir: Path, encoder: Encoder, max_seq_length: int, warmup: list[dict],
            posted: list[dict], fsync: bool, client_kind: str) -> tuple[list[float], list[dict], list[float], Counter]:
    """(POST seconds, Server-Timing, client's model seconds, relations) per posted article."""
    port = free_port()
    env = {**os.environ, "STORYCLUST_FSYNC": "true" if fsync else "false"}
    server = subprocess.Popen([sys.executable, "-m", "storyclust.cli", "serve", "--port", str(port),
                               "--data-dir", str(data_dir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env=env)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as probe:
            wait_ready(probe, server)
        client = CLIENTS[client_kind](port)
        try:
            for article in warmup:
                call(client, "POST", "/articles", article)
            post, model, relations = [], [], Counter()
            for article in posted:
                start = time.perf_counter()
                headers, content = call(client, "POST", "/articles", article)
                post.append(time.perf_counter() - start)
                model.append(server_timing(headers))
                relations[json.loads(content)["relation"]] += 1
            for article in warmup + posted:  # back to the filled store, for the next run
                call(client, "DELETE", "/articles/" + quote(article["id"], safe="/"))
        finally:
            client.close()
    finally:
        server.terminate()
        server.wait(60)
    # The client's own encode of each text, once the server is gone: interleaved with the posts,
    # the client's torch threads (spinning for a while after each encode) took a core from the
    # server on a 2-core machine and slowed every request they preceded.
    client_model = []
    for article in posted:
        text = embed_text(parse_article(article), max_seq_length)
        start = time.perf_counter()
        encoder.encode([text])
        client_model.append(time.perf_counter() - start)
    return post, model, client_model, relations


def ms(seconds: list[float], percentile: float = 50) -> float:
    return 1000 * float(np.percentile(seconds, percentile))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stored", type=int, default=10_000)
    parser.add_argument("--posts", type=int, default=200)
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--no-fsync", action="store_true", help="serve with STORYCLUST_FSYNC=false")
    parser.add_argument("--client", choices=sorted(CLIENTS), default="stdlib",
                        help="the HTTP client that times the posts (default: http.client)")
    args = parser.parse_args()

    pool = [row for name in POSTED_SETS for row in load_set(name)]
    random.Random(0).shuffle(pool)
    posted, warmup = pool[:args.posts], pool[args.posts:args.posts + WARMUP]
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="storyclust-bench-"))

    engine = Engine(Settings(data_dir=data_dir))
    for article in warmup + posted:  # left over by an interrupted run
        engine.delete(article["id"])
    if engine.store.count() < args.stored:
        fill(engine, stock(args.stored)[engine.store.count():])
    stored, encoder, max_seq_length = engine.store.count(), engine.encoder, engine.settings.max_seq_length
    engine.save_indexes()
    engine.store.close()
    del engine  # the server is the single writer from here on

    post, server, client_model, relations = timings(data_dir, encoder, max_seq_length, warmup, posted,
                                                   fsync=not args.no_fsync, client_kind=args.client)
    print(f"\nPOST /articles, one client, sequential, {stored} stored articles, {len(posted)} posts, "
          f"fsync {'off' if args.no_fsync else 'on'}, client {args.client} (relations: {dict(relations)}; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    print(f"{'':34}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'mean ms':>9}")
    beyond = [p - t["model"] for p, t in zip(post, server)]
    model = [t["model"] for t in server]
    engine_rest = [t["engine"] for t in server]
    http = [p - t["model"] - t["engine"] for p, t in zip(post, server)]
    for name, values in (("POST /articles (HTTP)", post), ("model, in the server", model),
                         ("model, client side", client_model), ("POST minus model, per request", beyond),
                         ("  engine beyond the model", engine_rest), ("  HTTP, validation, JSON", http)):
        print(f"{name:34}{ms(values):9.1f}{ms(values, 90):9.1f}{ms(values, 99):9.1f}"
              f"{1000 * statistics.fmean(values):9.1f}")
    overhead = ms(post) - ms(model)
    print(f"p50 of POST minus p50 of the model: {overhead:.1f} ms; p50 beyond the model per request: "
          f"{ms(beyond):.1f} ms (target <= 15 ms: {'met' if overhead <= 15 else 'MISSED'})")


if __name__ == "__main__":
    main()

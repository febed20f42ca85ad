"""A real `storyclust serve` process on loopback: every article answered with 2xx survives
kill -9, and at restart the indexes are caught up from the store (a copy of an acknowledged
article is found). Reads run while the writer works."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from conftest import load_dataset

from storyclust.seeds import load_seeds

STARTUP_S = 120  # importing torch and loading the model, on a slow 2-core machine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def server(data_dir: Path, log: Path) -> Iterator[tuple[subprocess.Popen, httpx.Client]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("STORYCLUST_API_KEY", "STORYCLUST_READ_API_KEY")}
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "storyclust.cli", "serve", "--port", str(port), "--data-dir", str(data_dir)],
            stdout=out, stderr=subprocess.STDOUT, cwd=data_dir.parent, env=env)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
    try:
        deadline = time.monotonic() + STARTUP_S
        while True:
            assert process.poll() is None, f"server exited: {log.read_text()[-3000:]}"
            try:
                if client.get("/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"server not ready: {log.read_text()[-3000:]}"
            time.sleep(0.25)
        yield process, client
    finally:
        client.close()
        if process.poll() is None:
            process.terminate()
            process.wait(30)


def test_acknowledged_articles_survive_kill_9(tmp_path):
    data_dir, log = tmp_path / "data", tmp_path / "server.log"
    data_dir.mkdir()
    articles = load_seeds() + load_dataset("newswcl50")[:15]
    acknowledged: dict[str, str] = {}
    read_failures: list[str] = []

    with server(data_dir, log) as (process, client):
        def post_all() -> None:
            for article in articles:
                try:
                    response = client.post("/articles", json=article)
                except httpx.TransportError:
                    return  # the server was killed mid-request: not acknowledged
                if response.is_success:
                    acknowledged[article["id"]] = response.json()["cluster_id"]

        def read_meanwhile() -> None:
            while len(acknowledged) < 8 and process.poll() is None:
                try:
                    response = client.get("/clusters", params={"limit": 5})
                except httpx.TransportError:
                    return
                if response.status_code != 200:
                    read_failures.append(response.text)
                time.sleep(0.05)

        writer, reader = threading.Thread(target=post_all), threading.Thread(target=read_meanwhile)
        writer.start()
        reader.start()
        deadline = time.monotonic() + 120
        while len(acknowledged) < 8 and writer.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait(30)
        writer.join(60)
        reader.join(60)

    assert len(acknowledged) >= 8, log.read_text()[-3000:]
    assert read_failures == []
    assert not (data_dir / "vectors.zip").exists(), "killed: the vector index was never saved"

    with server(data_dir, log) as (_, client):
        health = client.get("/healthz").json()
        assert health["indexes"] == "match" and health["articles"] >= len(acknowledged)
        for article_id, cluster_id in acknowledged.items():
            stored = client.get(f"/articles/{article_id}")
            assert stored.status_code == 200, article_id
            assert stored.json()["cluster_id"] == cluster_id
            members = client.get(f"/clusters/{cluster_id}").json()["members"]
            assert article_id in {m["id"] for m in members}
        original = articles[5]  # posted one at a time: the acknowledged ones are the first ones
        assert original["id"] in acknowledged
        copy = {**original, "id": "copy-after-restart", "text": "(Wire) " + original["text"]}
        answer = client.post("/articles", json=copy).json()
        assert (answer["relation"], answer["duplicate_of"]) == ("near_duplicate", original["id"])

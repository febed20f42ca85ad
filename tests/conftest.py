"""Shared fixtures: the real dev data beside the checkout, one model load per test session."""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from storyclust.api.app import create_app
from storyclust.article import ArticleError, parse_article
from storyclust.config import PROJECT_ROOT, Settings
from storyclust.embedding import encoder_for

SHARED = Path(__import__("os").environ.get("STORYCLUST_SHARED", PROJECT_ROOT.parent / "shared"))
DATA = SHARED / "data"


def load_dataset(name: str, lang: str | None = None, limit: int | None = None) -> list[dict]:
    """Articles of a dev set in ../shared/data (never copied into the project)."""
    path = DATA / name / "articles.jsonl"
    if not path.exists():
        pytest.fail(f"dev data missing: {path} (CI clones the project with ../shared beside it)")
    rows = [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
    if lang:
        rows = [r for r in rows if r.get("lang") == lang]
    return rows[:limit] if limit else rows


def accepted(row: dict) -> bool:
    """Whether the service takes this dev row (AllSides has a few title-only rows, which
    CONTRACT rejects)."""
    try:
        parse_article(row)
    except ArticleError:
        return False
    return True


def reformat(text: str) -> str:
    """The same text as another site might serve it: HTML tags and entities, curly quotes, odd
    spacing, upper case and full-width digits (everything normalisation must undo)."""
    out, opened = [], True
    for ch in text.upper():
        if ch == '"':
            out.append("\u201c" if opened else "\u201d")
            opened = not opened
        else:
            out.append("\u2019" if ch == "'" else ch)
    paragraphs = [html.escape(p, quote=False).replace(". ", ".&nbsp; \t", 3) for p in "".join(out).split("\n") if p.strip()]
    body = "\r\n".join(f'<p class="story">  {p} </p>' for p in paragraphs)
    return "<div>\n" + body.translate({ord(str(d)): 0xFF10 + d for d in range(10)}) + "<br/></div>"


@pytest.fixture(scope="session")
def encoder():
    return encoder_for(Settings())


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def engine(settings, encoder):
    from storyclust.engine import Engine

    engine = Engine(settings, encoder=encoder)
    yield engine
    engine.store.close()


@pytest.fixture
def make_client(tmp_path, encoder) -> Iterator[Callable[..., TestClient]]:
    """A fresh app on its own data directory; settings overrides as keyword arguments."""
    opened: list[TestClient] = []

    def make(**overrides) -> TestClient:
        settings = Settings(**{"data_dir": tmp_path / f"data{len(opened)}", "api_key": None,
                               "read_api_key": None, **overrides})
        client = TestClient(create_app(settings, encoder=encoder))
        client.__enter__()  # runs the lifespan: the Engine
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)

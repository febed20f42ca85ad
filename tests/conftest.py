"""Shared fixtures: the real dev data beside the checkout, one model load per test session."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from storyclust.config import PROJECT_ROOT, Settings
from storyclust.embedding import shared_encoder

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


@pytest.fixture(scope="session")
def encoder():
    settings = Settings()
    return shared_encoder(settings.model_path, settings.max_seq_length, settings.encode_batch_size,
                          settings.torch_threads)


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def engine(settings, encoder):
    from storyclust.engine import Engine

    engine = Engine(settings, encoder=encoder)
    yield engine
    engine.store.close()

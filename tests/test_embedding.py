"""The encoder's batch mode (``workers``: model calls side by side, one core each, as
`storyclust cluster` uses) must give the vectors of the single-call mode, row for row, also when
several calls are queued at once (``submit``)."""

from __future__ import annotations

import numpy as np
import torch
from conftest import load_dataset

from storyclust.article import parse_article
from storyclust.embedding import Encoder
from storyclust.engine import embed_text


def test_workers_give_the_vectors_of_one_call_in_input_order(encoder):
    texts = [embed_text(parse_article(r), 256) for r in load_dataset("ecbplus-dev", limit=90)]
    texts[5] = texts[5][:40]  # lengths far apart: batches are cut from the texts sorted by length
    single = encoder.encode(texts)
    threads = torch.get_num_threads()
    try:
        parallel = Encoder(encoder.model_path, 256, encoder.batch_size, workers=2)
        assert torch.get_num_threads() == 1  # each worker on one core
        split = parallel.encode(texts)
        assert parallel.encode(texts[:3]).shape == (3, encoder.dim)  # small batches: one call
        # Queued calls share the workers; each result holds its own texts' rows only.
        first, second = parallel.submit(texts[:50]), parallel.submit(texts[50:])
        queued = np.concatenate([first.result(), second.result()])
    finally:
        torch.set_num_threads(threads)
    assert split.shape == single.shape and split.dtype == np.float32
    assert np.abs(split - single).max() < 1e-4
    assert queued.shape == single.shape and np.abs(queued - single).max() < 1e-4
    # Each row is its own text's vector: its nearest row in the other mode is itself.
    assert (np.argmax(split @ single.T, axis=1) == np.arange(len(texts))).all()

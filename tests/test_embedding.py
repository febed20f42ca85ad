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


def test_onnx_runtime_gives_torchs_vectors(encoder):
    """The default runtime (ONNX Runtime on the model exported at start-up) must give the vectors
    torch gives, on real reports of every length (one-sentence to truncated at 256 tokens) and
    alone as in a batch: the pair scorer was fitted on the model's own cosines."""
    texts = [embed_text(parse_article(r), 256) for r in load_dataset("ecbplus-dev", limit=60)]
    assert encoder.runtime == "onnx"
    on_torch = Encoder(encoder.model_path, 256, encoder.batch_size, runtime="torch")
    assert on_torch.runtime == "torch"
    expected = on_torch.encode(texts)
    batched = encoder.encode(texts)
    assert batched.dtype == np.float32 and batched.shape == expected.shape
    assert np.abs(batched - expected).max() < 1e-5
    assert np.abs(encoder.encode(texts[:1]) - expected[:1]).max() < 1e-5


def test_a_model_onnx_cannot_run_stays_on_torch(encoder, monkeypatch, caplog):
    """An export that fails (here: the installed exporter lacks a package) leaves the model on
    torch, says why, and encodes as before."""
    import torch.onnx

    def fail(*args, **kwargs):
        raise RuntimeError("no exporter here")

    monkeypatch.setattr(torch.onnx, "export", fail)
    fallback = Encoder(encoder.model_path, 256, encoder.batch_size, runtime="onnx")
    assert fallback.runtime == "torch"
    assert "ONNX export failed (RuntimeError: no exporter here)" in caplog.text
    vectors = fallback.encode(["Iran's president met his Iraqi counterpart in Baghdad."])
    assert vectors.shape == (1, encoder.dim) and abs(float(np.linalg.norm(vectors)) - 1) < 1e-5


def test_onnx_runs_mean_or_cls_pooling_and_leaves_other_models_to_torch(encoder, caplog):
    """The export covers a transformer with mean or first-token pooling (normalised or not: the
    encoder normalises anyway); any other pooling stays on torch, with a warning naming it."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import Pooling

    from storyclust.onnx_model import onnx_forward

    loaded = SentenceTransformer(encoder.model_path, device="cpu")
    transformer, dim = loaded[0], encoder.dim
    for mode, runs in (("cls", True), ("max", False)):
        model = SentenceTransformer(modules=[transformer, Pooling(dim, pooling_mode=mode)], device="cpu")
        forward = onnx_forward(model, 1)
        assert (forward is not None) == runs, mode
        if runs:
            expected = model.encode(["A quake hit Qeshm island."], normalize_embeddings=True)
            assert np.abs(forward.encode(["A quake hit Qeshm island."]) - expected).max() < 1e-5
    assert "this model has ['Transformer', 'Pooling'] (pooling max)" in caplog.text


def test_the_exported_graph_is_kept_between_starts_and_a_damaged_one_replaced(encoder, monkeypatch, tmp_path, caplog):
    """A start that finds the model's graph kept in the cache directory loads it instead of
    exporting (here the exporter is broken, and the encoder still runs on ONNX Runtime with the
    same vectors); a kept file that does not load is exported again and replaced."""
    import torch.onnx

    text = ["Iran's president met his Iraqi counterpart in Baghdad."]
    first = Encoder(encoder.model_path, 256, encoder.batch_size, runtime="onnx", cache_dir=str(tmp_path))
    kept = list(tmp_path.glob("*.onnx"))
    assert first.runtime == "onnx" and len(kept) == 1 and kept[0].stat().st_size > 1_000_000
    assert not list(tmp_path.glob("*.part"))  # written beside and renamed

    real_export = torch.onnx.export

    def fail(*args, **kwargs):
        raise RuntimeError("no exporter here")

    monkeypatch.setattr(torch.onnx, "export", fail)
    second = Encoder(encoder.model_path, 256, encoder.batch_size, runtime="onnx", cache_dir=str(tmp_path))
    assert second.runtime == "onnx"
    assert np.abs(second.encode(text) - first.encode(text)).max() < 1e-6

    monkeypatch.setattr(torch.onnx, "export", real_export)
    kept[0].write_bytes(b"half a graph")
    third = Encoder(encoder.model_path, 256, encoder.batch_size, runtime="onnx", cache_dir=str(tmp_path))
    assert third.runtime == "onnx" and "unreadable" in caplog.text
    assert kept[0].stat().st_size > 1_000_000  # replaced by a fresh export
    assert np.abs(third.encode(text) - first.encode(text)).max() < 1e-6


def test_the_cache_directory_follows_xdg_and_a_user_without_home_keeps_nothing(monkeypatch, tmp_path):
    """Settings must load wherever the service runs: some containers run as a user with neither
    HOME nor a password entry, where ``Path.home()`` raises."""
    from pathlib import Path

    from storyclust.config import Settings

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert Settings().model_cache_dir == str(tmp_path / "storyclust")
    monkeypatch.delenv("XDG_CACHE_HOME")

    def no_home() -> Path:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(Path, "home", staticmethod(no_home))
    assert Settings().model_cache_dir == ""

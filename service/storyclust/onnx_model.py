"""The embedding model's forward pass on ONNX Runtime instead of torch: the same vectors, faster.

On this machine's 2 cores ONNX Runtime encodes MiniLM's 256-token texts 1.65x as fast as torch
in batches (50.5 against 30.6 a second) and one text 2.4x as fast (13.9 against 33.4 ms; the API
answers one article at a time), with vectors equal to torch's within 3e-7
(``bench/encoder_speed.py``, 2026-11-30). The transformer is exported from the loaded
sentence-transformers model (about a second) and its vectors are checked against torch's on probe
texts before it is used. Tokenisation stays the model's own (``SentenceTransformer.preprocess``);
pooling (mean or first token) and normalisation are done here. A model with any other module (a
Dense layer, another pooling), or one whose export fails or disagrees, stays on torch, with a
warning that says why.

The exported graph is kept in a cache directory (``STORYCLUST_MODEL_CACHE_DIR``), named by a
hash of the model directory's files and the exporter's versions, so it cannot fall out of step
with the model; a start that finds it loads it instead of exporting. That matters for memory
more than for time: the exporter leaves ~0.15 GB behind in the process that ran it (resident
after encoding: 0.88 GB exporting, 0.73 GB loading the kept graph, torch 0.69 GB; start-up 5.2,
3.9 and 3.7 s; ``bench/encoder_speed.py --memory``).

Not the int8-quantised export (onnxruntime's ``quantize_dynamic``): faster still (69 texts a second
in a throw-away check) but it moves each vector to a cosine of 0.90-0.95 with torch's, and pair
cosines by +0.05 on average, which the pair scorer, fitted on the model's own
cosines, would read as different evidence.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

PROBES = ("warm-up", "Iran's president met his Iraqi counterpart in Baghdad on Monday, officials said.")
MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")  # those the tokeniser gives, in this order
TOLERANCE = 1e-4  # largest difference of any vector component from torch's on the probes
# Texts per ONNX Runtime call. Its memory arena keeps the largest call's activations: after
# encoding 32 texts of 256 tokens in one call the process held 1.3 GB, in calls of 4 0.85 GB
# (torch: 0.6 GB; measured in processes that had run the export). Small calls are faster too,
# padding each text only to the longest of four: 50.5 texts a second against 39-40 in calls of
# 32 (bench/encoder_speed.py, 2026-11-30).
RUN_TEXTS = 4
OPSET = 17
KEEP_DAYS = 30  # a kept graph not used for this long is removed when another is written


class OnnxForward:
    """``encode(texts)`` -> float32 [n, dim] unit vectors, as the sentence-transformers
    model gives them, computed by ONNX Runtime. Safe to call from several threads at once (one
    session; ONNX Runtime's ``run`` is thread-safe), each call using ``threads`` cores."""

    def __init__(self, model, pooling: str, threads: int, cache_dir: str | None = None,
                 model_dir: str | None = None) -> None:
        import onnxruntime

        self._preprocess: Callable = model.preprocess
        features = self._features(["warm-up"])
        self.inputs = [name for name in MODEL_INPUTS if name in features]
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # ONNX Runtime's threads spin briefly after a call (its default). Told to sleep instead,
        # one article took 20.7 ms instead of 14.6 (bench/encoder_speed.py), batches the same.
        options.add_session_config_entry("session.intra_op.allow_spinning", "1")
        graph = _kept_graph(model[0].auto_model, self.inputs, features, cache_dir, model_dir)
        try:
            self._session = onnxruntime.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # a kept file damaged on disk: replaced by a fresh export
            if not isinstance(graph, str):
                raise
            log.warning("kept ONNX graph %s unreadable (%s): exported again", graph, exc)
            Path(graph).unlink(missing_ok=True)
            graph = _kept_graph(model[0].auto_model, self.inputs, features, cache_dir, model_dir)
            self._session = onnxruntime.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        self.pooling = pooling

    def _features(self, texts: list[str]) -> dict[str, np.ndarray]:
        raw = self._preprocess(texts)
        return {name: np.asarray(value, dtype=np.int64) for name, value in raw.items()
                if name in MODEL_INPUTS}

    def encode(self, texts: list[str]) -> np.ndarray:
        out = []
        for start in range(0, len(texts), RUN_TEXTS):
            features = self._features(texts[start:start + RUN_TEXTS])
            hidden = self._session.run(None, {name: features[name] for name in self.inputs})[0]
            if self.pooling == "cls":
                vectors = hidden[:, 0]
            else:
                mask = features["attention_mask"][..., None].astype(np.float32)
                vectors = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
            out.append(vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12))
        return np.ascontiguousarray(np.vstack(out), dtype=np.float32)


def _export(transformer, inputs: list[str], features: dict[str, np.ndarray]) -> bytes:
    """The transformer as an ONNX graph: named inputs in a fixed order, the last hidden state out."""
    import torch

    class Hidden(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module, names: list[str]) -> None:
            super().__init__()
            self.inner, self.names = inner, names

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            return self.inner(**dict(zip(self.names, tensors))).last_hidden_state

    graph = io.BytesIO()
    dynamic = {name: {0: "batch", 1: "tokens"} for name in [*inputs, "hidden"]}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on Python control flow it fixes
        torch.onnx.export(Hidden(transformer.eval(), inputs),
                          tuple(torch.as_tensor(features[name]) for name in inputs), graph,
                          input_names=inputs, output_names=["hidden"], dynamic_axes=dynamic,
                          opset_version=OPSET, dynamo=False)
    return graph.getvalue()


def graph_key(model_dir: str, inputs: list[str]) -> str:
    """What the exported graph depends on: every file of the model directory (weights and
    configuration, read from disk, ~0.1 s for MiniLM's 90 MB; reading the loaded weights instead
    would page all of them into the process), the inputs, the opset and the exporter's versions."""
    import torch
    import transformers

    digest = hashlib.sha256()
    for part in (torch.__version__, transformers.__version__, str(OPSET), ",".join(inputs)):
        digest.update(part.encode() + b"\0")
    root = Path(model_dir)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        with path.open("rb") as file:
            while chunk := file.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()[:32]


def _kept_graph(transformer, inputs: list[str], features: dict[str, np.ndarray],
                cache_dir: str | None, model_dir: str | None) -> bytes | str:
    """The graph's file in ``cache_dir`` where one was kept for this model directory, else a
    fresh export, kept there for the next start. It is written beside and renamed, so a
    concurrent start never reads half a file; graphs unused for ``KEEP_DAYS`` (and parts left by
    a killed start, after a day) go when a new one is written. An unwritable directory only costs
    the keeping, with a warning. Without a model directory (a model composed in code) nothing is
    kept."""
    if not cache_dir or not model_dir or not Path(model_dir).is_dir():
        return _export(transformer, inputs, features)
    path = Path(cache_dir) / f"{graph_key(model_dir, inputs)}.onnx"
    if path.is_file():
        with contextlib.suppress(OSError):  # a read-only cache is still read
            path.touch()  # in use: kept from the pruning below
        return str(path)
    graph = _export(transformer, inputs, features)
    part: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".part", delete=False) as file:
            part = file.name
            file.write(graph)
        os.replace(part, path)
    except OSError as exc:
        if part:
            Path(part).unlink(missing_ok=True)
        log.warning("ONNX graph not kept in %s (%s): the next start exports it again", cache_dir, exc)
        return graph
    for old in [*path.parent.glob("*.onnx"), *path.parent.glob("*.part")]:  # .part: a start killed mid-write
        with contextlib.suppress(OSError):  # another start may prune at the same time
            if time.time() - old.stat().st_mtime > (KEEP_DAYS if old.suffix == ".onnx" else 1) * 86400:
                old.unlink()
    return graph


def onnx_forward(model, threads: int, cache_dir: str | None = None,
                 model_dir: str | None = None) -> OnnxForward | None:
    """The ONNX forward pass of a loaded ``SentenceTransformer``, or None (torch stays) where the
    model is not a plain transformer and mean or first-token pooling (then normalisation, which
    the encoder applies anyway), or where the export fails or its vectors differ from torch's by
    more than ``TOLERANCE``."""
    kinds = [type(module).__name__ for module in model]
    pooling = model[1].get_config_dict().get("pooling_mode") if kinds[1:2] == ["Pooling"] else None
    if kinds[:2] != ["Transformer", "Pooling"] or kinds[2:] not in ([], ["Normalize"]) or pooling not in ("mean", "cls"):
        log.warning("embedding model on torch: ONNX Runtime runs a transformer with mean or cls pooling, "
                    "this model has %s (pooling %s)", kinds, pooling)
        return None
    try:
        forward = OnnxForward(model, pooling, threads, cache_dir, model_dir)
        expected = model.encode(list(PROBES), normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        error = float(np.abs(forward.encode(list(PROBES)) - expected).max())
    except Exception as exc:  # an export or runtime the installed versions do not support
        log.warning("embedding model on torch: its ONNX export failed (%s: %s)", type(exc).__name__, exc)
        return None
    if error > TOLERANCE:
        log.warning("embedding model on torch: its ONNX vectors differ from torch's by %.2g", error)
        return None
    return forward

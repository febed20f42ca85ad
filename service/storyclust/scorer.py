"""The pair scorer: P(same story | pair features), a logistic model over :mod:`features`, and
the nightly job's second reading of that score with hindsight (:mod:`neighbourhood`).

Learned from labelled dev data by ``training/train_scorer.py`` and shipped as a small versioned
JSON artifact (feature names, standardisation, weights, decision thresholds), so the product needs
no training library at run time and a model change is a reviewable diff.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .features import FEATURES

DEFAULT_PATH = Path(__file__).with_name("models") / "pair_scorer.json"


def logit(probability: np.ndarray) -> np.ndarray:
    """The log-odds of pair scores, clipped away from 0 and 1: the second stage's first input,
    the same when it is fitted (``training/train_scorer.py``) as when it is read."""
    p = np.clip(probability, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def sigmoid(z: np.ndarray) -> np.ndarray:
    """The probability of log-odds ``z``: the inverse of :func:`logit` (inside its clip)."""
    return 1.0 / (1.0 + np.exp(-z))


@dataclass
class PairScorer:
    version: str
    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    threshold: float  # online: the story score (mean of its best compared members) to join a story
    # Nightly job: the average-linkage score to merge two clusters. Its average runs over every
    # pair across the two clusters, unscored pairs counting 0, so it reads lower than the online
    # mean over a story's best-matching members for the same evidence and needs a lower bar.
    recluster_threshold: float
    # The embedding model whose cosines it was fitted on (its directory name and dimension): the
    # cosine feature's scale is the model's own (the best single cosine threshold on ECB+ is 0.60
    # with MiniLM, 0.75 with all-mpnet-base-v2), so another model needs its own scorer.
    model: str | None = None
    dim: int | None = None
    # Nightly job's second stage: P(same story | logit of the pair score, neighbour margin), a
    # logistic model fitted on out-of-fold pair scores. (1, 0) and 0: the pair score as it is
    # (artifacts written before it).
    job_weights: tuple[float, float] = (1.0, 0.0)
    job_bias: float = 0.0
    # Below this pair score the second stage may only lower a score (``job_score``); None: the
    # job's threshold (artifacts written before it).
    job_gate: float | None = None
    # Languages whose pairs the second stage reads (those it was fitted on); pairs with an
    # article in another language, or of unknown language, keep their pair score. None: all.
    job_languages: tuple[str, ...] | None = None
    # The job threshold fitted for plain pair scores: pairs the second stage does not read keep
    # their pair score, on the job's scale shifted in log-odds so that this value meets
    # ``recluster_threshold`` (``plain_job_score``). None: no shift (artifacts written before it).
    plain_recluster_threshold: float | None = None

    @classmethod
    def load(cls, path: Path | None = None) -> "PairScorer":
        data = json.loads(Path(path or DEFAULT_PATH).read_text())
        features = tuple(data["features"])
        if features != FEATURES:
            raise ValueError(f"scorer {path} was trained on features {features}, code has {FEATURES}")
        return cls(
            version=data["version"], features=features,
            mean=np.asarray(data["mean"], dtype=float), scale=np.asarray(data["scale"], dtype=float),
            weights=np.asarray(data["weights"], dtype=float), bias=float(data["bias"]),
            threshold=float(data["threshold"]),
            recluster_threshold=float(data.get("recluster_threshold", data["threshold"])),
            model=data.get("model"), dim=data.get("dim"),
            job_weights=tuple(float(w) for w in data.get("job_weights", (1.0, 0.0))),
            job_bias=float(data.get("job_bias", 0.0)),
            job_gate=None if data.get("job_gate") is None else float(data["job_gate"]),
            job_languages=None if data.get("job_languages") is None else tuple(data["job_languages"]),
            plain_recluster_threshold=(None if data.get("plain_recluster_threshold") is None
                                       else float(data["plain_recluster_threshold"])),
        )

    def fitted_on(self, model: str, dim: int) -> bool:
        """Whether this scorer was fitted on that model's cosines (True when it does not say)."""
        return (self.model is None or self.model == model) and (self.dim is None or self.dim == dim)

    def to_json(self) -> dict:
        return {
            "version": self.version, "features": list(self.features), "mean": self.mean.tolist(),
            "scale": self.scale.tolist(), "weights": self.weights.tolist(), "bias": self.bias,
            "threshold": self.threshold, "recluster_threshold": self.recluster_threshold,
            "model": self.model, "dim": self.dim,
            "job_weights": list(self.job_weights), "job_bias": self.job_bias,
            "job_gate": self.job_gate,
            "job_languages": None if self.job_languages is None else list(self.job_languages),
            "plain_recluster_threshold": self.plain_recluster_threshold,
        }

    def score(self, matrix: np.ndarray) -> np.ndarray:
        """P(same story) for each row of a feature matrix. A feature not known for a pair (NaN:
        weekdays in a language they are not read in) counts as its mean, which is no evidence
        either way in a linear model."""
        if len(matrix) == 0:
            return np.zeros(0)
        return sigmoid(np.nan_to_num((matrix - self.mean) / self.scale, nan=0.0) @ self.weights + self.bias)

    @property
    def gate(self) -> float:
        """The pair score below which the second stage may only lower a score."""
        return self.recluster_threshold if self.job_gate is None else self.job_gate

    def reads_margin(self, language: str | None) -> bool:
        """Whether the second stage reads pairs of articles in this language."""
        return self.job_languages is None or language in self.job_languages

    def job_score(self, probability: np.ndarray, margin: np.ndarray) -> np.ndarray:
        """The job's P(same story) of pairs from their pair score and neighbour margin. Below
        :attr:`gate` the margin may only lower a score: hindsight confirms or discounts a pair's
        evidence, it does not link two articles whose pair score is low. Ungated, two unrelated
        articles that are each other's nearest (a story told once) joined at pair scores from
        0.14. The caller applies it only to pairs in :meth:`reads_margin` languages: under the
        English model Malay pairs lost precision to it (Clust-McMs Malay B3 0.918 -> 0.895)."""
        second = sigmoid(self.job_weights[0] * logit(probability) + self.job_weights[1] * margin + self.job_bias)
        return np.where(probability >= self.gate, second, np.minimum(probability, second))

    def plain_job_score(self, probability: np.ndarray) -> np.ndarray:
        """The job's score of pairs the second stage does not read: their pair score, shifted in
        log-odds so that :attr:`plain_recluster_threshold` meets the job's threshold. The job's
        threshold (0.25, now 0.15) was lowered for second-stage scores once the job undid loose
        merges; plain pair scores (Chinese and Malay under the English model) merged wrongly at
        0.25 (Clust-McMs Chinese B3 0.982 -> 0.967, Malay 0.918 -> 0.901) and keep their own 0.3."""
        if self.plain_recluster_threshold is None:
            return probability
        shift = logit(np.float64(self.recluster_threshold)) - logit(np.float64(self.plain_recluster_threshold))
        return sigmoid(logit(probability) + shift)

"""The shipped pair-scorer artifact: it loads, matches the code's features, and an artifact from
before the job had its own threshold still loads (the job then merges at the online one)."""

import json

import numpy as np
import pytest

from storyclust.features import FEATURES
from storyclust.scorer import DEFAULT_PATH, PairScorer


def test_shipped_artifact_matches_the_code():
    scorer = PairScorer.load()
    assert scorer.features == FEATURES
    assert 0 < scorer.recluster_threshold <= scorer.threshold < 1
    # More evidence never lowers the score: every feature but the conflicts and the day gap has
    # a positive weight.
    negative = {f for f, w in zip(FEATURES, scorer.weights) if w < 0}
    assert negative == {"years_conflict", "log_days_apart"}


def test_artifact_without_a_job_threshold_uses_the_online_one(tmp_path):
    data = json.loads(DEFAULT_PATH.read_text())
    del data["recluster_threshold"]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(data))
    scorer = PairScorer.load(path)
    assert scorer.recluster_threshold == scorer.threshold == data["threshold"]
    assert np.allclose(scorer.score(np.zeros((1, len(FEATURES)))), PairScorer.load().score(np.zeros((1, len(FEATURES)))))


def test_artifact_for_other_features_is_refused(tmp_path):
    data = json.loads(DEFAULT_PATH.read_text())
    data["features"] = data["features"] + ["log_shorter_terms"]
    path = tmp_path / "other.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="features"):
        PairScorer.load(path)

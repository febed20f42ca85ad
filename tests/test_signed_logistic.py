"""The scorer's fit keeps the signs the product promises: where no bound binds it is scikit-learn's
logistic regression, and a feature the data would pull across zero stops at zero."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from storyclust.features import FEATURES, LOWERING_FEATURES
from training.signed_logistic import fit_signed_logistic


def _data(seed=0, n=4000):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    y = (X @ np.array([1.5, -0.8, 0.4, 0.0, -1.2]) + rng.logistic(size=n) > 0.3).astype(int)
    return X, y, rng.uniform(0.2, 3.0, size=n)


def test_without_binding_bounds_it_is_scikit_learns_fit():
    X, y, weight = _data()
    reference = LogisticRegression(C=0.1, tol=1e-10, max_iter=10_000).fit(X, y, sample_weight=weight)
    for signs in ([0] * 5, [1, -1, 1, 0, -1]):  # the second's bounds are on the side the data already takes
        w, b = fit_signed_logistic(X, y, signs, C=0.1, sample_weight=weight)
        assert np.allclose(w, reference.coef_[0], atol=1e-6) and abs(b - reference.intercept_[0]) < 1e-6


def test_a_weight_the_data_pulls_across_zero_stops_there():
    X, y, _ = _data(1)
    w, _ = fit_signed_logistic(X, y, [1, 1, 1, 0, 1])  # the data give feature 1 a negative and feature 4 a negative weight
    assert w[1] == 0.0 and w[4] == 0.0 and w[0] > 1.0 and w[2] > 0.2
    free, _ = fit_signed_logistic(X, y, [0] * 5)
    assert free[1] < -0.5 and free[4] < -0.8
    with pytest.raises(ValueError, match="signs has 4 entries for 5 features"):
        fit_signed_logistic(X, y, [1, 1, 1, 1])


def test_the_scorer_fit_never_learns_a_bonus_for_a_day_gap():
    """Reading more of a set's dates once taught the day gap a bonus (docs/accuracy.md): pairs
    far apart that are one story. Fitted on such pairs, its weight stays at zero, and every
    other feature keeps its side."""
    from training.train_scorer import fit

    rng = np.random.default_rng(2)
    X = rng.normal(size=(3000, len(FEATURES)))
    days = FEATURES.index("log_days_apart")
    y = (X[:, FEATURES.index("cosine")] + X[:, days] + rng.logistic(size=len(X)) > 0).astype(int)
    scorer = fit([(X, y)])
    weights = dict(zip(FEATURES, scorer.weights))
    assert weights["log_days_apart"] == 0.0 and weights["cosine"] > 0.5
    assert all(w <= 0 for f, w in weights.items() if f in LOWERING_FEATURES)
    assert all(w >= 0 for f, w in weights.items() if f not in LOWERING_FEATURES)

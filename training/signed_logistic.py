"""L2-regularised logistic regression whose weights keep the signs the product promises.

The scorer promises that more evidence never lowers a score and that a conflict or a day gap
never raises one (``storyclust.features``). An unconstrained fit keeps those signs only as long
as the dev sets happen to agree: reading more of their dates once taught the day gap a bonus
(docs/accuracy.md), because their look-alike older events are undated. Here each weight is
bounded on its side of zero instead, so the promise holds by construction; where the data would
pull a weight across, it stops at 0 and the feature is not read.

The objective is scikit-learn's (``LogisticRegression(C=...)`` with the lbfgs solver):
``0.5 * |w|^2 + C * sum_i s_i * log(1 + exp(-y_i (x_i . w + b)))``, the intercept not penalised,
minimised by L-BFGS-B with the bounds. Where no bound binds, it is the same fit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, log_expit

GRADIENT_TOLERANCE = 1e-6  # largest loss gradient left in a direction the bounds allow (loss per unit of weight)


def fit_signed_logistic(X: np.ndarray, y: np.ndarray, signs: Sequence[int], C: float = 1.0,
                        sample_weight: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """(weights, intercept) of the logistic fit with ``weights[k] >= 0`` where ``signs[k] > 0``,
    ``<= 0`` where ``signs[k] < 0`` and free where it is 0. ``y`` holds 0/1 labels."""
    X = np.asarray(X, dtype=np.float64)
    n, d = X.shape
    if len(signs) != d:
        raise ValueError(f"signs has {len(signs)} entries for {d} features")
    target = np.where(np.asarray(y) > 0, 1.0, -1.0)
    weight = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)

    # Divided by C * sum(weight), as scikit-learn does: the same minimum, on a scale that does not
    # grow with the number of pairs, so that one tolerance serves 200 pairs and 200,000.
    penalty = 1.0 / (C * weight.sum())
    weight = weight / weight.sum()

    def loss_and_gradient(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:d], theta[d]
        margin = target * (X @ w + b)
        loss = 0.5 * penalty * float(w @ w) - float(weight @ log_expit(margin))
        residual = -weight * target * expit(-margin)  # d loss / d (x.w + b), per row
        return loss, np.concatenate([penalty * w + X.T @ residual, [residual.sum()]])

    bounds = [(0.0, None) if s > 0 else (None, 0.0) if s < 0 else (None, None) for s in signs] + [(None, None)]
    result = minimize(loss_and_gradient, np.zeros(d + 1), jac=True, method="L-BFGS-B", bounds=bounds,
                      options={"maxiter": 10_000, "ftol": 64 * np.finfo(float).eps, "gtol": 1e-10})
    # L-BFGS-B can end "ABNORMAL" at the minimum itself, where rounding leaves the line search no
    # step that lowers the loss; what decides is that no free direction still descends.
    _, gradient = loss_and_gradient(result.x)
    lower = np.array([b[0] if b[0] is not None else -np.inf for b in bounds])
    upper = np.array([b[1] if b[1] is not None else np.inf for b in bounds])
    blocked = ((result.x <= lower) & (gradient > 0)) | ((result.x >= upper) & (gradient < 0))
    if np.abs(np.where(blocked, 0.0, gradient)).max() > GRADIENT_TOLERANCE:
        raise RuntimeError(f"logistic fit did not converge: {result.message}")
    return result.x[:d], float(result.x[d])

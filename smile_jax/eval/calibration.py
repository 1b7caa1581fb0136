"""Choosing the robot's threshold, and making scores mean the same thing on another dataset.

Scores here are logit differences d = logit_smiling - logit_not (probability = sigmoid(d)).
  * `temperature`: temperature scaling (Guo et al. 2017): the T > 0 minimising the validation
    negative log-likelihood of sigmoid(d / T); it fixes over- or under-confidence, not ranking.
  * `estimate_prior` + `shift_prior`: when the share of smiles differs (SMILEsmileD 28%, GENKI-4K
    54%), the posterior moves by log(pi_t / (1 - pi_t)) - log(pi_s / (1 - pi_s)) in logit space
    (Saerens et al. 2002); pi_t is estimated from the target's unlabelled scores by their EM.
  * `operating_points`: thresholds chosen on val (max F1, a target precision, a target recall,
    equal error rate), each with its test metrics: a threshold is a product decision.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize

from smile_jax.eval import metrics


def sigmoid(x):
  return 1.0 / (1.0 + np.exp(-np.asarray(x, np.float64)))


def nll(labels, d) -> float:
  d = np.asarray(d, np.float64)
  y = np.asarray(labels, np.float64)
  return float(np.mean(np.logaddexp(0.0, -d) * y + np.logaddexp(0.0, d) * (1 - y)))


def temperature(labels, d) -> float:
  """The validation-NLL-optimal temperature (searched over log T in [-4, 4])."""
  res = optimize.minimize_scalar(lambda log_t: nll(labels, np.asarray(d) / np.exp(log_t)),
                                 bounds=(-4.0, 4.0), method="bounded")
  return float(np.exp(res.x))


def logit(p):
  p = np.clip(np.asarray(p, np.float64), 1e-12, 1 - 1e-12)
  return np.log(p / (1 - p))


def shift_prior(d, source_prior: float, target_prior: float):
  return np.asarray(d, np.float64) + logit(target_prior) - logit(source_prior)


def estimate_prior(d, source_prior: float, iterations: int = 100) -> float:
  """The target's share of smiles from calibrated scores alone (EM of Saerens et al. 2002)."""
  prior = source_prior
  for _ in range(iterations):
    new = float(np.mean(sigmoid(shift_prior(d, source_prior, prior))))
    if abs(new - prior) < 1e-7:
      break
    prior = new
  return prior


def operating_points(val_labels, val_d, test_labels, test_d, target_precision: float = 0.95,
                     target_recall: float = 0.95) -> list[dict]:
  """Thresholds picked on val, reported with their val and test metrics."""
  val_d, test_d = np.asarray(val_d, np.float64), np.asarray(test_d, np.float64)
  candidates = np.unique(val_d)
  stats = [metrics.at_threshold(val_labels, val_d, t) for t in candidates]
  f1 = np.array([s.f1 for s in stats])
  prec = np.array([s.precision for s in stats])
  rec = np.array([s.recall for s in stats])
  y = np.asarray(val_labels)
  fpr = np.array([np.mean(val_d[y == 0] >= t) for t in candidates])
  points = [("max F1 (val)", candidates[int(np.argmax(f1))])]
  ok = np.flatnonzero(prec >= target_precision)
  points.append((f"precision >= {target_precision:.2f} (val)",
                 candidates[ok[0]] if len(ok) else candidates[-1]))
  ok = np.flatnonzero(rec >= target_recall)
  points.append(
      (f"recall >= {target_recall:.2f} (val)", candidates[ok[-1]] if len(ok) else candidates[0]))
  points.append(("equal error rate (val)", candidates[int(np.argmin(np.abs(fpr - (1 - rec))))]))
  points.append(("probability 0.5", 0.0))
  out = []
  for name, t in points:
    v = metrics.at_threshold(val_labels, val_d, t)
    te = metrics.at_threshold(test_labels, test_d, t)
    out.append({
        "rule": name,
        "threshold_logit": float(t),
        "probability": float(sigmoid(t)),
        "val": {
            "precision": v.precision,
            "recall": v.recall,
            "f1": v.f1,
            "accuracy": v.accuracy
        },
        "test": {
            "precision": te.precision,
            "recall": te.recall,
            "f1": te.f1,
            "accuracy": te.accuracy
        }
    })
  return out

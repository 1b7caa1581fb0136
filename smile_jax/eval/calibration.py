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


def sigmoid(log_odds):
  return 1.0 / (1.0 + np.exp(-np.asarray(log_odds, np.float64)))


def nll(labels, diffs) -> float:
  diffs = np.asarray(diffs, np.float64)
  targets = np.asarray(labels, np.float64)
  return float(
      np.mean(np.logaddexp(0.0, -diffs) * targets + np.logaddexp(0.0, diffs) * (1 - targets)))


def temperature(labels, diffs) -> float:
  """The validation-NLL-optimal temperature (searched over log T in [-4, 4])."""
  res = optimize.minimize_scalar(lambda log_t: nll(labels, np.asarray(diffs) / np.exp(log_t)),
                                 bounds=(-4.0, 4.0), method="bounded")
  return float(np.exp(res.x))


def logit(prob):
  prob = np.clip(np.asarray(prob, np.float64), 1e-12, 1 - 1e-12)
  return np.log(prob / (1 - prob))


def shift_prior(diffs, source_prior: float, target_prior: float):
  return np.asarray(diffs, np.float64) + logit(target_prior) - logit(source_prior)


def estimate_prior(diffs, source_prior: float, iterations: int = 100) -> float:
  """The target's share of smiles from calibrated scores alone (EM of Saerens et al. 2002)."""
  prior = source_prior
  for _ in range(iterations):
    new = float(np.mean(sigmoid(shift_prior(diffs, source_prior, prior))))
    if abs(new - prior) < 1e-7:
      break
    prior = new
  return prior


def operating_points(val_labels, val_d, test_labels, test_d, target_precision: float = 0.95,
                     target_recall: float = 0.95) -> list[dict]:
  """Thresholds picked on val, reported with their val and test metrics."""
  val_d, test_d = np.asarray(val_d, np.float64), np.asarray(test_d, np.float64)
  candidates = np.unique(val_d)
  stats = [metrics.at_threshold(val_labels, val_d, threshold) for threshold in candidates]
  f1 = np.array([s.f1 for s in stats])
  prec = np.array([s.precision for s in stats])
  rec = np.array([s.recall for s in stats])
  targets = np.asarray(val_labels)
  fpr = np.array([np.mean(val_d[targets == 0] >= threshold) for threshold in candidates])
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
  for name, threshold in points:
    val_metrics = metrics.at_threshold(val_labels, val_d, threshold)
    te = metrics.at_threshold(test_labels, test_d, threshold)
    out.append({
        "rule": name,
        "threshold_logit": float(threshold),
        "probability": float(sigmoid(threshold)),
        "val": {
            "precision": val_metrics.precision,
            "recall": val_metrics.recall,
            "f1": val_metrics.f1,
            "accuracy": val_metrics.accuracy
        },
        "test": {
            "precision": te.precision,
            "recall": te.recall,
            "f1": te.f1,
            "accuracy": te.accuracy
        }
    })
  return out

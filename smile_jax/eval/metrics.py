"""Binary classification metrics as the report uses them (its section 4.1 and Table 2).

Pure numpy, no scikit-learn: AUC by the rank-sum (Mann-Whitney) formula with average ranks for
ties, which equals `sklearn.metrics.roc_auc_score`; ROC and precision-recall curves over every
distinct score; accuracy / precision / recall at a threshold; a val-chosen threshold; a
percentile-bootstrap confidence interval for AUC.
"""

from __future__ import annotations

import dataclasses

import numpy as np


def _check(labels, scores):
  labels, scores = np.asarray(labels).astype(np.int64), np.asarray(scores, np.float64)
  if labels.shape != scores.shape or labels.ndim != 1:
    raise ValueError(
        f"labels {labels.shape} and scores {scores.shape} must be equal-length vectors")
  bad = ~np.isfinite(scores)
  if bad.any():
    # A NaN sorts last and would silently rank as the most confident positive.
    raise ValueError(
        f"{int(bad.sum())} of {len(scores)} scores are NaN or infinite (first at index "
        f"{int(np.flatnonzero(bad)[0])}): the model or its input diverged; fix that "
        "before measuring")
  return labels, scores


def _average_ranks(values: np.ndarray) -> np.ndarray:
  order = np.argsort(values, kind="mergesort")
  sorted_x = values[order]
  # Boundaries of runs of equal values; each run gets the mean of its 1-based ranks.
  starts = np.flatnonzero(np.r_[True, sorted_x[1:] != sorted_x[:-1]])
  ends = np.r_[starts[1:], len(values)]
  ranks_sorted = np.repeat((starts + ends + 1) / 2.0, ends - starts)
  ranks = np.empty(len(values))
  ranks[order] = ranks_sorted
  return ranks


def roc_auc(labels, scores) -> float:
  labels, scores = _check(labels, scores)
  n_pos = int(labels.sum())
  n_neg = len(labels) - n_pos
  if n_pos == 0 or n_neg == 0:
    return float("nan")
  rank_sum = _average_ranks(scores)[labels == 1].sum()
  return float((rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def auc_by_group(labels, scores, groups) -> dict[str, float]:
  """AUC within each group (e.g. each dataset of a mixed split), in order of first appearance."""
  labels, scores, groups = np.asarray(labels), np.asarray(scores), np.asarray(groups)
  return {str(g): roc_auc(labels[groups == g], scores[groups == g])
          for g in dict.fromkeys(groups.tolist())}


def mean_group_auc(labels, scores, groups) -> float:
  """The mean of the groups' AUCs: each dataset counts alike, however many images it has (equal
  to the plain AUC when there is one group)."""
  return float(np.mean(list(auc_by_group(labels, scores, groups).values())))


def _counts_by_threshold(labels, scores):
  """True/false positives when predicting positive for score >= each distinct score (descending)."""
  order = np.argsort(-scores, kind="mergesort")
  sorted_scores, sorted_labels = scores[order], labels[order]
  last_of_run = np.r_[sorted_scores[1:] != sorted_scores[:-1], True]
  tp = np.cumsum(sorted_labels)[last_of_run]
  fp = np.cumsum(1 - sorted_labels)[last_of_run]
  return sorted_scores[last_of_run], tp, fp


def roc_curve(labels, scores):
  """(fpr, tpr, thresholds), starting at (0, 0) with threshold +inf."""
  labels, scores = _check(labels, scores)
  thr, tp, fp = _counts_by_threshold(labels, scores)
  n_pos, n_neg = max(1, labels.sum()), max(1, len(labels) - labels.sum())
  return (np.r_[0.0, fp / n_neg], np.r_[0.0, tp / n_pos], np.r_[np.inf, thr])


def pr_curve(labels, scores):
  """(precision, recall, thresholds), recall increasing, ending at the lowest threshold."""
  labels, scores = _check(labels, scores)
  thr, tp, fp = _counts_by_threshold(labels, scores)
  precision = tp / np.maximum(tp + fp, 1)
  recall = tp / max(1, labels.sum())
  return precision, recall, thr


def average_precision(labels, scores) -> float:
  precision, recall, _ = pr_curve(labels, scores)
  return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


@dataclasses.dataclass(frozen=True)
class ThresholdMetrics:
  threshold: float
  accuracy: float
  precision: float
  recall: float
  f1: float


def at_threshold(labels, scores, threshold: float) -> ThresholdMetrics:
  labels, scores = _check(labels, scores)
  pred = scores >= threshold
  tp = int(np.sum(pred & (labels == 1)))
  fp = int(np.sum(pred & (labels == 0)))
  fn = int(np.sum(~pred & (labels == 1)))
  precision = tp / (tp + fp) if tp + fp else 0.0
  recall = tp / (tp + fn) if tp + fn else 0.0
  f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
  return ThresholdMetrics(
      float(threshold), float(np.mean(pred == (labels == 1))), precision, recall, f1)


def best_accuracy_threshold(labels, scores) -> float:
  """The threshold with the highest accuracy (ties: the smallest such score), e.g. chosen on val."""
  labels, scores = _check(labels, scores)
  thr, tp, fp = _counts_by_threshold(labels, scores)
  n_neg = len(labels) - labels.sum()
  correct = tp + (n_neg - fp)
  return float(thr[int(np.argmax(correct))])


def bootstrap_auc_ci(labels, scores, samples: int = 1000, seed: int = 0, level: float = 0.95):
  """Percentile bootstrap interval for AUC (resampling images with replacement)."""
  labels, scores = _check(labels, scores)
  rng = np.random.default_rng(seed)
  aucs = []
  for _ in range(samples):
    idx = rng.integers(0, len(labels), len(labels))
    auc = roc_auc(labels[idx], scores[idx])
    if not np.isnan(auc):
      aucs.append(auc)
  lo, hi = np.percentile(aucs, [50 * (1 - level), 50 * (1 + level)])
  return float(lo), float(hi)


def log_loss(labels, scores, eps: float = 1e-7) -> float:
  labels, scores = _check(labels, scores)
  probs = np.clip(scores, eps, 1 - eps)
  return float(-np.mean(labels * np.log(probs) + (1 - labels) * np.log(1 - probs)))

"""Metrics against scikit-learn and against hand-computed fixed outputs."""

import numpy as np
import pytest
from sklearn import metrics as skm

from smile_jax.eval import metrics


@pytest.mark.parametrize("seed", range(5))
def test_auc_curves_and_ap_match_sklearn_with_ties(seed):
  rng = np.random.default_rng(seed)
  labels = rng.integers(0, 2, 300)
  scores = np.round(rng.random(300) + 0.4 * labels, 1)  # rounding makes many ties
  assert metrics.roc_auc(labels, scores) == pytest.approx(
      skm.roc_auc_score(labels, scores), abs=1e-12)
  fpr, tpr, _ = metrics.roc_curve(labels, scores)
  sk_fpr, sk_tpr, _ = skm.roc_curve(labels, scores, drop_intermediate=False)
  np.testing.assert_allclose(fpr, sk_fpr)
  np.testing.assert_allclose(tpr, sk_tpr)
  assert metrics.average_precision(labels, scores) == pytest.approx(
      skm.average_precision_score(labels, scores), abs=1e-12)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_scores_raise_instead_of_ranking(bad):
  with pytest.raises(ValueError, match="index 2"):
    metrics.roc_auc([0, 1, 1, 0], [0.1, 0.9, bad, 0.2])


def test_fixed_example():
  labels = np.array([0, 0, 1, 1, 1, 0])
  scores = np.array([0.1, 0.6, 0.6, 0.8, 0.3, 0.2])
  # Positive/negative pairs ranked right: (0.6 vs 0.1, 0.2; tie with 0.6 = 0.5), 0.8: 3, 0.3: 2
  # -> 7.5/9
  assert metrics.roc_auc(labels, scores) == pytest.approx(7.5 / 9)
  at_half = metrics.at_threshold(labels, scores, 0.5)
  assert (at_half.accuracy, at_half.precision, at_half.recall) == pytest.approx(
      (4 / 6, 2 / 3, 2 / 3))
  # score >= 0.3 gets 5 of 6 right (only the 0.6 negative is wrong); every other cut fewer.
  assert metrics.best_accuracy_threshold(labels, scores) == pytest.approx(0.3)


def test_bootstrap_interval_brackets_auc_and_is_seeded():
  rng = np.random.default_rng(1)
  labels = rng.integers(0, 2, 400)
  scores = rng.random(400) + 0.5 * labels
  lo, hi = metrics.bootstrap_auc_ci(labels, scores, samples=300, seed=3)
  assert lo < metrics.roc_auc(labels, scores) < hi and hi - lo < 0.15
  assert (lo, hi) == metrics.bootstrap_auc_ci(labels, scores, samples=300, seed=3)


def test_degenerate_inputs():
  assert np.isnan(metrics.roc_auc([1, 1], [0.2, 0.3]))
  with pytest.raises(ValueError, match="equal-length"):
    metrics.roc_auc([0, 1], [0.5])


def test_auc_by_group_and_their_mean():
  labels = np.array([0, 1, 0, 1, 0, 1, 1, 0])
  scores = np.array([0.1, 0.9, 0.2, 0.8, 0.9, 0.1, 0.6, 0.4])
  groups = np.array(["a", "a", "a", "a", "b", "b", "b", "b"])
  assert metrics.auc_by_group(labels, scores, groups) == {"a": 1.0, "b": 0.25}
  assert metrics.mean_group_auc(labels, scores, groups) == 0.625
  assert metrics.mean_group_auc(labels, scores, np.full(8, "a")) == metrics.roc_auc(labels, scores)

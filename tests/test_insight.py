"""Saliency, calibration, operating points and error lists against hand-built models and data."""

import csv

import jax.numpy as jnp
import numpy as np
import pytest

from smile_jax.data import labels as labels_lib
from smile_jax.eval import calibration, errors, saliency

H, W = 8, 8


def linear_model(seed=0):
  """logits = [0, w . x] for x in [-1, 1]: the smiling score's gradient is w everywhere."""
  weights = np.random.default_rng(seed).normal(size=(H, W, 1)).astype(np.float32)

  def apply_fn(variables, inputs, train=False):
    del train
    smiling = (inputs * variables["w"]).sum(axis=(1, 2, 3))
    return jnp.stack([jnp.zeros_like(smiling), smiling], axis=-1)
  return apply_fn, {"w": weights}


def images(count=3, seed=1):
  return np.random.default_rng(seed).integers(0, 256, (count, H, W, 1), dtype=np.uint8)


def test_saliency_of_a_linear_model_is_its_weights():
  apply_fn, variables = linear_model()
  inputs = images()
  for method in ("vanilla", "smoothgrad"):
    maps = saliency.saliency(apply_fn, variables, inputs, method, samples=4)
    np.testing.assert_allclose(
        maps, np.broadcast_to(np.abs(variables["w"][..., 0]), maps.shape), rtol=1e-5, atol=1e-6)
  ig = saliency.saliency(apply_fn, variables, inputs, "integrated", steps=4)
  normalized = inputs.astype(np.float32) * (2 / 255) - 1
  np.testing.assert_allclose(
      ig, np.abs((normalized + 1) * variables["w"])[..., 0], rtol=1e-4, atol=1e-6)


def test_region_shares_on_a_crafted_map():
  maps = np.zeros((2, H, W), np.float32)
  maps[:, 4:6, 3:5] = 1.0          # all mass in the mouth box (x=3, y=4, w=2, h=2)
  maps[1, 4:6, 1:3] = 1.0          # the second image: as much again in the left cheek
  shares = saliency.region_shares(maps, np.array([[3, 4, 2, 2]] * 2), bootstrap=50)
  assert shares["mouth"]["share"] == pytest.approx(
      0.75) and shares["cheeks"]["share"] == pytest.approx(0.25)
  assert shares["elsewhere"]["share"] == pytest.approx(0.0)
  assert shares["mouth"]["area"] == pytest.approx(
      4 / 64) and shares["cheeks"]["area"] == pytest.approx(8 / 64)


def test_temperature_scaling_lowers_nll_of_overconfident_scores():
  rng = np.random.default_rng(0)
  diffs = rng.normal(0, 3, 4000)
  labels = (rng.random(4000)
       < calibration.sigmoid(diffs / 3.0)).astype(int)  # the truth is 3x less confident
  temp = calibration.temperature(labels, diffs)
  assert temp == pytest.approx(3.0, rel=0.15)
  assert calibration.nll(labels, diffs / temp) < calibration.nll(labels, diffs) - 0.05


def test_prior_estimate_recovers_the_target_share():
  rng = np.random.default_rng(1)
  labels = (rng.random(20000) < 0.54).astype(int)
  # calibrated scores for a 28% source prior: class-conditional evidence plus the source prior
  evidence = np.where(labels == 1, 1.5, -1.5) + rng.normal(0, 1.2, labels.size)
  diffs = evidence * (1.5 / 1.2 ** 2) + calibration.logit(0.28)
  assert calibration.estimate_prior(diffs, 0.28) == pytest.approx(0.54, abs=0.03)


def test_operating_points_meet_their_targets_on_val():
  rng = np.random.default_rng(2)
  labels = (rng.random(3000) < 0.3).astype(int)
  diffs = np.where(labels == 1, 1.0, -1.0) * 1.5 + rng.normal(0, 1, labels.size)
  points = {
      p["rule"]: p for p in calibration.operating_points(labels, diffs, labels, diffs, 0.9, 0.9)
  }
  assert points["precision >= 0.90 (val)"]["val"]["precision"] >= 0.9
  assert points["recall >= 0.90 (val)"]["val"]["recall"] >= 0.9
  f1s = [p["val"]["f1"] for p in points.values()]
  assert points["max F1 (val)"]["val"]["f1"] == max(f1s)


def test_worst_errors_and_label_error_votes(tmp_path):
  labels = np.array([0, 0, 1, 1, 0, 1])
  probs = np.array([0.95, 0.6, 0.02, 0.4, 0.1, 0.9])
  np.testing.assert_array_equal(errors.worst(labels, probs, "fp", 5), [0, 1])
  np.testing.assert_array_equal(errors.worst(labels, probs, "fn", 5), [2, 3])
  rows = errors.suspected_label_errors([f"img{i}.jpg" for i in range(6)], labels, probs, "net", 0.9)
  assert [r["image"] for r in rows] == ["img2.jpg", "img0.jpg"]
  path = tmp_path / "votes.csv"
  errors.write_votes_csv(rows, str(path))
  votes = labels_lib.read_votes(str(path))           # the merge_labels input format
  merged = {l.image: l for l in labels_lib.merge_votes(votes).labels}
  assert set(merged) == {"img0.jpg", "img2.jpg"}
  with open(path) as file:
    assert next(csv.reader(file))[:3] == ["image", "rater", "answer"]

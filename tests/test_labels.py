"""Crowd label merging on crafted CSVs (the report's MTurk study)."""

import numpy as np
import pytest

from smile_jax.data import labels


def _csv(tmp_path, text):
  path = tmp_path / "votes.csv"
  path.write_text(text)
  return str(path)


def test_majority_ties_and_invalids(tmp_path):
  path = _csv(
      tmp_path,
      "image,rater,answer\n"
      "a.jpg,r1,yes\na.jpg,r2,yes\na.jpg,r3,no\n"  # 2:1 -> smiling, agreement 2/3
      "b.jpg,r1,Yes\nb.jpg,r2,No / Unsure\n"  # tie -> not smiling (stated rule)
      "c.jpg,r1,invalid\nc.jpg,r2,invalid\nc.jpg,r3,yes\n"  # invalid majority -> dropped
      "d.jpg,r1,invalid\nd.jpg,r2,no\nd.jpg,r3,no\n"  # invalid vote dropped, not smiling
      "e.jpg,r1,unsure\n")
  result = labels.merge_votes(labels.read_votes(path))
  by = {l.image: l for l in result.labels}
  assert sorted(by) == ["a.jpg", "b.jpg", "d.jpg", "e.jpg"] and result.dropped_invalid == ["c.jpg"]
  assert (by["a.jpg"].label, by["a.jpg"].agreement) == (1, pytest.approx(2 / 3))
  assert (by["b.jpg"].label, by["b.jpg"].agreement) == (0, 0.5)
  assert (by["d.jpg"].label, by["d.jpg"].invalid, by["d.jpg"].agreement) == (0, 1, 1.0)
  out = tmp_path / "labels.csv"
  labels.write_labels(result, str(out))
  assert out.read_text().splitlines()[1] == "a.jpg,1,2,1,0,0.667"


def test_noise_estimate_recovers_simulated_rater_error():
  rng = np.random.default_rng(0)
  error_rate, votes = 0.14, []  # the report's measured single-rater error
  for image in range(4000):
    truth = rng.random() < 0.3
    for rater in range(3):
      wrong = rng.random() < error_rate
      votes.append((f"{image}.jpg", f"r{rater}", "yes" if truth != wrong else "no"))
  result = labels.merge_votes(votes)
  assert result.vote_error_rate == pytest.approx(error_rate, abs=0.01)
  # Majority of 3 is wrong when 2 or 3 votes are: 3e^2(1-e) + e^3 ~ 0.0528 (the report guessed ~2%).
  assert result.label_noise_rate == pytest.approx(
      3 * error_rate**2 * (1 - error_rate) + error_rate**3, abs=0.006)


def test_single_votes_give_no_noise_estimate():
  result = labels.merge_votes([("a", "r1", "yes"), ("b", "r1", "no")])
  assert result.vote_error_rate is None and result.label_noise_rate is None


def test_bad_csvs(tmp_path):
  with pytest.raises(ValueError, match=r"missing column\(s\) \['rater'\]"):
    labels.read_votes(_csv(tmp_path, "image,answer\na,yes\n"))
  with pytest.raises(ValueError, match=r"votes.csv:3: answer 'maybe'"):
    labels.read_votes(_csv(tmp_path, "image,rater,answer\na,r1,yes\na,r2,maybe\n"))
  with pytest.raises(ValueError, match="voted twice"):
    labels.merge_votes([("a", "r1", "yes"), ("a", "r1", "no")])

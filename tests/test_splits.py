"""Seeded stratified splits and their manifest."""

import numpy as np
import pytest

from smile_jax.data import splits


def test_stratified_disjoint_seeded(tmp_path):
  keys = [f"img{i}.jpg" for i in range(1000)]
  lab = (np.arange(1000) % 10 < 3).astype(int)  # 30% positive
  a = splits.stratified_split(keys, lab, (0.7, 0.15, 0.15), seed=1)
  assert a == splits.stratified_split(keys, lab, (0.7, 0.15, 0.15), seed=1)
  assert a != splits.stratified_split(keys, lab, (0.7, 0.15, 0.15), seed=2)
  assert sorted(sum(a.values(), [])) == sorted(keys)
  pos = {k for k, l in zip(keys, lab) if l}
  for name, n in (("train", 700), ("val", 150), ("test", 150)):
    assert len(a[name]) == n and sum(k in pos for k in a[name]) == pytest.approx(0.3 * n, abs=1)
  path = str(tmp_path / "split.json")
  splits.write_manifest(path, "toy", a, 1, (0.7, 0.15, 0.15))
  assert splits.read_manifest(path) == a
  idx = splits.indices(keys, a)
  assert [keys[i] for i in idx["val"]] == a["val"]


def test_manifest_for_other_data_is_rejected():
  split = {"train": ["x.jpg"], "val": [], "test": []}
  with pytest.raises(ValueError, match="not in the dataset.*delete it to re-split"):
    splits.indices(["a.jpg"], split, "split.json")
  with pytest.raises(ValueError, match="summing to 1"):
    splits.stratified_split(["a"], [0], (0.5, 0.2, 0.2))

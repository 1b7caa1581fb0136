"""Seeded stratified splits and their manifest."""

import numpy as np
import pytest

from smile_jax.data import splits


def test_stratified_disjoint_seeded(tmp_path):
  keys = [f"img{i}.jpg" for i in range(1000)]
  lab = (np.arange(1000) % 10 < 3).astype(int)  # 30% positive
  split = splits.stratified_split(keys, lab, (0.7, 0.15, 0.15), seed=1)
  assert split == splits.stratified_split(keys, lab, (0.7, 0.15, 0.15), seed=1)
  assert split != splits.stratified_split(keys, lab, (0.7, 0.15, 0.15), seed=2)
  assert sorted(sum(split.values(), [])) == sorted(keys)
  pos = {k for k, l in zip(keys, lab) if l}
  for name, size in (("train", 700), ("val", 150), ("test", 150)):
    assert len(split[name]) == size and sum(k in pos for k in split[name]) == pytest.approx(
        0.3 * size, abs=1)
  path = str(tmp_path / "split.json")
  splits.write_manifest(path, "toy", split, 1, (0.7, 0.15, 0.15))
  assert splits.read_manifest(path)["splits"] == split
  idx = splits.indices(keys, split)
  assert [keys[i] for i in idx["val"]] == split["val"]


def test_manifest_for_other_data_is_rejected():
  split = {"train": ["x.jpg"], "val": [], "test": []}
  with pytest.raises(ValueError, match="not in the dataset.*delete it to re-split"):
    splits.indices(["a.jpg"], split, "split.json")
  with pytest.raises(ValueError, match="summing to 1"):
    splits.stratified_split(["a"], [0], (0.5, 0.2, 0.2))


def _per_image_split_reference(keys, labels, fractions, seed):
  """The per-image split as it was before groups existed."""
  keys, labels = np.asarray(keys), np.asarray(labels)
  rng = np.random.default_rng(seed)
  out = {s: [] for s in splits.SPLITS}
  for cls in np.unique(labels):
    members = np.sort(keys[labels == cls])
    rng.shuffle(members)
    cut1 = int(round(fractions[0] * len(members)))
    cut2 = cut1 + int(round(fractions[1] * len(members)))
    for name, part in zip(splits.SPLITS, (members[:cut1], members[cut1:cut2], members[cut2:])):
      out[name] += part.tolist()
  return {s: sorted(v) for s, v in out.items()}


def test_groups_stay_in_one_split_and_singletons_change_nothing():
  keys = [f"img{i:04d}.jpg" for i in range(600)]
  lab = (np.arange(600) % 10 < 3).astype(int)
  assert splits.stratified_split(keys, lab, (0.7, 0.15, 0.15), 3, groups=np.arange(600)) == \
      _per_image_split_reference(keys, lab, (0.7, 0.15, 0.15), 3)
  groups = np.arange(600)
  groups[[10, 20, 30, 40]] = 10          # a four-way copy, same class (10 % 10 == 0: positive)
  groups[[11, 15]] = 11                  # a copy stored under both classes (a label conflict)
  for seed in range(5):
    split = splits.stratified_split(keys, lab, (0.7, 0.15, 0.15), seed, groups=groups)
    where = {k: name for name, ks in split.items() for k in ks}
    assert sorted(where) == sorted(keys)
    assert len({where[keys[i]] for i in (10, 20, 30, 40)}) == 1
    assert where[keys[11]] == where[keys[15]]
    assert abs(len(split["test"]) - 90) <= 4


def test_duplicate_groups_find_copies_not_strangers(shared_data_dir):
  import glob
  import os
  import cv2
  from smile_jax.data import duplicates
  paths = sorted(glob.glob(os.path.join(shared_data_dir, "SMILEsmileD", "SMILEs", "negatives",
                                        "negatives7", "*.jpg")))[:6]
  faces = np.stack([cv2.imread(p, cv2.IMREAD_GRAYSCALE) for p in paths])   # six different photos
  reencoded = cv2.imdecode(cv2.imencode(".jpg", faces[0], [cv2.IMWRITE_JPEG_QUALITY, 60])[1], 0)
  rescaled = cv2.resize(cv2.resize(faces[1], (60, 60)), (64, 64))
  brighter = np.clip(faces[3].astype(int) + 20, 0, 255).astype(np.uint8)
  found = duplicates.duplicate_groups(
      np.concatenate([faces, reencoded[None], rescaled[None], faces[2:3], brighter[None]]))
  groups = found.groups
  assert groups[6] == groups[0] and groups[7] == groups[1] and groups[8] == groups[2] and groups[
      9] == groups[3]  # re-encoded, rescaled, exact
  assert len(set(groups[:6])) == 6                               # six different faces stay apart
  assert found.stats() == {
      "max_distance": duplicates.MAX_DISTANCE,
      "images_with_copies": 8,
      "groups": 4
  }


def test_extra_datasets_split_on_their_own_and_leave_the_main_split_alone(tmp_path, tfds_dir,
                                                                          shared_data_dir):
  from configs import default
  from smile_jax.data import run_data
  from smile_jax.eval import evaluate
  cfg = default.get_config().data
  cfg.tfds_dir, cfg.max_per_class = tfds_dir, 60
  alone = run_data.load(cfg, str(tmp_path / "alone"))
  cfg.extra_datasets = ("genki4k",)
  mixed = run_data.load(cfg, str(tmp_path / "mixed"))
  assert (tmp_path / "mixed" / "split_genki4k.json").exists()
  for name in splits.SPLITS:
    part, main = getattr(mixed, name), getattr(alone, name)
    assert part.domains == ["smilesmiled", "genki4k"]
    ours = part.domain == "smilesmiled"
    assert part.keys[ours].tolist() == main.keys.tolist()       # the same SMILEsmileD images
    assert all(k.startswith("genki4k:") for k in part.keys[~ours])
    assert set(part.labels[~ours]) == {0, 1}                     # stratified per dataset
  assert len(mixed.train.labels) == len(alone.train.labels) + 84  # 70% of GENKI's 120
  assert mixed.dataset.summaries[1]["dataset"] == "genki4k"
  scores = np.where(mixed.test.domain == "genki4k", 1.0 - mixed.test.labels, mixed.test.labels)
  row = evaluate.SplitEval("test", mixed.test.labels, scores.astype(float),
                           mixed.test.domain).summary(0.5, 0.5, 10, 0)
  assert row["auc_by_dataset"] == {"smilesmiled": 1.0, "genki4k": 0.0}
  assert evaluate.choice_auc(row) == 0.5 and 0.0 < row["auc"] < 1.0
  cfg.extra_repeats = 3            # the extras' training images three times an epoch
  weighted = run_data.load(cfg, str(tmp_path / "mixed"))
  ours = weighted.train.domain == "smilesmiled"
  assert weighted.train.keys[ours].tolist() == alone.train.keys.tolist()
  genki = mixed.train.keys[mixed.train.domain == "genki4k"].tolist()
  assert weighted.train.keys[~ours].tolist() == genki * 3
  assert weighted.val.keys.tolist() == mixed.val.keys.tolist()   # val and test untouched
  cfg.extra_repeats = 0
  with pytest.raises(ValueError, match="extra_repeats"):
    run_data.load(cfg, str(tmp_path / "mixed"))
  cfg.extra_repeats = 1
  cfg.extra_datasets = ("genki4k", "genki4k")
  with pytest.raises(ValueError, match="repeats a dataset"):
    run_data.load(cfg, str(tmp_path / "twice"))

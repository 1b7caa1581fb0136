"""Seeded, stratified train/val/test splits, saved as a manifest of example keys.

The manifest (JSON: dataset, seed, fractions, and the keys of each split) is written once per job
and read by every later stage, so training, evaluation, the search and deployment all see the same
test images. Keys are paths relative to the dataset root, so a manifest is valid on any machine.
"""

from __future__ import annotations

import json
import os

import numpy as np

SPLITS = ("train", "val", "test")


def stratified_split(keys, labels, fractions=(0.7, 0.15, 0.15), seed: int = 0,
                     groups=None) -> dict[str, list[str]]:
  """Each class is shuffled with `seed` and cut by `fractions`, so every split keeps the class mix.

  `groups` (one id per example, e.g. `duplicates.duplicate_groups(...).groups`) keeps examples
  with the same id in the same split: a group is shuffled as one unit, counted in the class most
  of its members have, and goes to the split where its first image falls. With no groups (or
  only singletons) this is exactly the per-image split.
  """
  keys, labels = np.asarray(keys), np.asarray(labels)
  if len(fractions) != 3 or abs(sum(fractions) - 1.0) > 1e-6 or min(fractions) < 0:
    raise ValueError(
        f"split fractions must be three non-negative numbers summing to 1, got {fractions}")
  groups = np.arange(len(keys)) if groups is None else np.asarray(groups)
  units: dict = {}
  for key, group in sorted(zip(keys.tolist(), groups.tolist())):
    units.setdefault(group, []).append(key)
  label_of = dict(zip(keys.tolist(), labels.tolist()))
  unit_class = {
      g: int(np.mean([label_of[k] for k in members]) > 0.5) for g, members in units.items()
  }
  rng = np.random.default_rng(seed)
  out = {s: [] for s in SPLITS}
  for cls in np.unique(labels):
    members = [units[g] for g in sorted(units, key=lambda g: units[g][0]) if unit_class[g] == cls]
    order = np.arange(len(members))
    rng.shuffle(order)
    total = sum(len(m) for m in members)
    cut1 = int(round(fractions[0] * total))
    cut2 = cut1 + int(round(fractions[1] * total))
    position = 0
    for unit in order:
      name = "train" if position < cut1 else "val" if position < cut2 else "test"
      out[name] += members[unit]
      position += len(members[unit])
  return {s: sorted(v) for s, v in out.items()}


def write_manifest(path: str, dataset: str, split: dict, seed: int, fractions,
                   duplicates: dict | None = None) -> None:
  os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
  with open(path, "w") as file:
    json.dump({"dataset": dataset, "seed": seed, "fractions": list(fractions),
               "counts": {s: len(split[s]) for s in SPLITS}, "duplicates": duplicates,
               "splits": split}, file, indent=0)


def read_manifest(path: str) -> dict:
  """The manifest: `splits` (split -> keys) and `duplicates` (None in manifests that predate it)."""
  with open(path) as file:
    manifest = json.load(file)
  manifest.setdefault("duplicates", None)
  return manifest


def indices(keys,
            split: dict[str, list[str]],
            manifest_path: str = "manifest") -> dict[str, np.ndarray]:
  """Positions of each split's keys in `keys`; fails if the manifest names unknown examples."""
  position = {k: i for i, k in enumerate(keys)}
  out = {}
  for name in SPLITS:
    missing = [k for k in split[name] if k not in position]
    if missing:
      raise ValueError(
          f"{manifest_path}: {len(missing)} {name} key(s) are not in the dataset "
          f"(first: {missing[0]!r}); it was made for other data: delete it to re-split")
    out[name] = np.asarray([position[k] for k in split[name]], np.int64)
  return out

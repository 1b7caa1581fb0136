"""The data a run sees: the built dataset cut by its split manifest, ready for the model's input.

The manifest is made once (seeded, stratified) and then only read, so every stage that points at
the same manifest sees the same train/val/test images.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from smile_jax.data import builders, duplicates, pipeline, sources, splits

TFDS_DIR_ENV = "SMILE_JAX_TFDS_DIR"


def tfds_dir(flag_value: str = "") -> str:
  """Where prepared datasets are cached: the flag, else $SMILE_JAX_TFDS_DIR, else ./data/tfds."""
  return flag_value or os.environ.get(TFDS_DIR_ENV) or os.path.join(sources.REPO_ROOT, "data",
                                                                    "tfds")


@dataclasses.dataclass
class RunData:
  dataset: builders.FaceDataset   # everything that was built
  train: builders.FaceDataset
  val: builders.FaceDataset
  test: builders.FaceDataset
  manifest_path: str
  duplicates: dict | None = None  # what the split kept together (duplicates.Duplicates.stats())


def ensure_manifest(dataset: builders.FaceDataset, path: str, seed: int, fractions) -> dict:
  """The split manifest at `path`, made (duplicates kept in one split) if it does not exist yet."""
  if not os.path.exists(path):
    copies = duplicates.duplicate_groups(dataset.images)
    split = splits.stratified_split(dataset.keys, dataset.labels, tuple(fractions), seed,
                                    copies.groups)
    splits.write_manifest(path, dataset.name, split, seed, fractions, copies.stats())
  return splits.read_manifest(path)


def fit_to(data: RunData, input_shape) -> RunData:
  """The same data with every image fitted to another model input (resolution and channels)."""
  def fit(part: builders.FaceDataset) -> builders.FaceDataset:
    return dataclasses.replace(part, images=pipeline.fit_channels(part.images, input_shape))
  return dataclasses.replace(data, dataset=fit(data.dataset), train=fit(data.train),
                             val=fit(data.val), test=fit(data.test))


def extra_manifest_path(manifest_path: str, dataset: str) -> str:
  """Where an extra dataset's own split manifest sits: next to the main one, named after it."""
  name = os.path.basename(os.path.normpath(dataset))
  return os.path.join(os.path.dirname(manifest_path), f"split_{name}.json")


def _split_one(name: str, data_cfg, path: str, input_shape):
  """One dataset built (or reused), fitted to `input_shape`, cut by its manifest at `path`."""
  dataset = builders.build(name, tfds_dir(data_cfg.tfds_dir), data_cfg.data_dir or None,
                           data_cfg.image_size, data_cfg.max_per_class)
  if input_shape is not None:
    dataset = dataclasses.replace(
        dataset, images=pipeline.fit_channels(dataset.images, input_shape))
  manifest = ensure_manifest(dataset, path, data_cfg.split_seed, data_cfg.split_fractions)
  idx = splits.indices(dataset.keys, manifest["splits"], path)
  parts = {split: dataset.subset(idx[split]) for split in splits.SPLITS}
  for split, part in parts.items():
    if len(part.labels) == 0 or len(np.unique(part.labels)) < 2:
      raise ValueError(f"{path}: the {split} split has {len(part.labels)} images and not both "
                       "classes; use more data (config.data.max_per_class) or other fractions")
  return dataset, parts, manifest["duplicates"]


def load(data_cfg, workdir: str, input_shape=None) -> RunData:
  """Builds (or reuses) the dataset in `data_cfg`, splits it by manifest, fits it to
  `input_shape`.

  `data_cfg.extra_datasets` (optional) are trained on too: each is split on its own (same seed
  and fractions, its own manifest beside the main one, `extra_manifest_path`), then each split
  is the union of the datasets' splits. The main dataset's split is the same with or without
  them, so runs with and without extras are compared on the same images. `extra_repeats`
  (optional, default 1) repeats the extras' training images in every epoch.
  """
  path = data_cfg.split_manifest or os.path.join(workdir, "split.json")
  names = [data_cfg.dataset] + list(data_cfg.extra_datasets)
  if len(set(names)) < len(names):
    raise ValueError(f"config.data.extra_datasets {names[1:]} repeats a dataset of {names}")
  loaded = [_split_one(name, data_cfg, path if i == 0 else extra_manifest_path(path, name),
                       input_shape) for i, name in enumerate(names)]
  repeats = data_cfg.extra_repeats
  if not isinstance(repeats, int) or repeats < 1:
    raise ValueError(f"config.data.extra_repeats must be a whole number >= 1 (got {repeats!r})")
  combined = {split: builders.combine([parts[split] for _, parts, _ in loaded])
              for split in splits.SPLITS}
  if repeats > 1 and len(loaded) > 1:
    # The extras' training images come `repeats` times an epoch (each time augmented afresh):
    # in-the-wild photos are a small share of the images but half of what validation weighs.
    train = combined["train"]
    main = train.domain == names[0]
    order = np.concatenate([np.flatnonzero(main)] + [np.flatnonzero(~main)] * repeats)
    combined["train"] = train.subset(order)
  dataset = builders.combine([dataset for dataset, _, _ in loaded])
  return RunData(dataset, combined["train"], combined["val"], combined["test"], path,
                 loaded[0][2])

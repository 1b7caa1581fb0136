"""Sets of camera frames: a split's labelled photos as frame sources, the robot's-eye benchmark's
frames, and the face locator's training frames.

`sources` reads a split of a dataset (SMILEsmileD's face crops, GENKI-4K's photos) by its split
manifest as camera_frames.Source's; `run_sources` does so for every dataset a trained run used.
`frame_set` (the benchmark) draws every source at each distance, then frames with no face and
frames with two. `locator_set` draws `count` frames of mixed kinds from sources (the locator
trains on the train split's and chooses on the val split's) and returns the locator's inputs
and true boxes. Every frame has its own seed, so a set is the same on every machine.
"""

from __future__ import annotations

import dataclasses
import os

import ml_collections
import numpy as np
from tqdm import tqdm

from smile_jax.data import builders, camera_frames, face_map, run_data, sources as sources_lib
from smile_jax.data import splits
from smile_jax.io import jsonfile

# The locator's training mix of frame kinds (camera_frames.KINDS), as shares.
LOCATOR_KINDS = {"portrait": 0.2, "arm": 0.25, "room": 0.3, "none": 0.1, "two": 0.15}


def sources(data_dir: str, dataset: str, manifest: str, split: str,
            limit: int = 0) -> list[camera_frames.Source]:
  """The `split` of `dataset` (a builders.BUILDERS name) under `data_dir` by its manifest, as
  Sources (the first `limit` of each class when > 0). A photo whose face the host detector
  cannot find is left out: its true box is unknown."""
  folder = os.path.join(sources_lib.data_dir(data_dir), builders.BUILDERS[dataset][1])
  is_crop = dataset == "smilesmiled"
  examples = (sources_lib.smilesmiled_examples(folder) if is_crop
              else sources_lib.class_folder_examples(folder))
  wanted = {key.split(":", 1)[-1] for key in splits.read_manifest(manifest)["splits"][split]}
  chosen, per_class = [], {0: 0, 1: 0}
  for ex in sorted(examples, key=lambda e: e.key):
    if ex.key in wanted and not (limit and per_class[ex.label] >= limit):
      per_class[ex.label] += 1
      chosen.append(ex)
  out = [camera_frames.source_from_photo(f"{dataset}:{ex.key}", ex.path, ex.label, is_crop)
         for ex in tqdm(chosen, desc=f"{dataset} {split} sources", unit="img", mininterval=1.0)]
  return [source for source in out if source is not None]


def frame_set(face_sources: list[camera_frames.Source], extra_frames: int, seed: int,
              look: camera_frames.SensorLook = camera_frames.SensorLook()):
  """Every source drawn at each of camera_frames.DISTANCES, then `extra_frames` frames with no
  face and as many with two (pairs of sources in a seeded order): a list of Frames, each with
  its own seed, so a frame does not change when others are added."""
  frames = []
  for k, kind in enumerate(camera_frames.DISTANCES):
    for i, source in enumerate(face_sources):
      frames.append(camera_frames.draw(kind, [source], face_sources, seed * 1_000_003 + k * 100_003
                                       + i, look))
  order = np.random.default_rng(seed).permutation(len(face_sources))
  for i in range(extra_frames):
    base = seed * 1_000_003 + 900_000 + i
    frames.append(camera_frames.draw("none", [], face_sources, base, look))
    pair = [face_sources[order[(2 * i) % len(order)]], face_sources[order[(2 * i + 1) % len(order)]]]
    frames.append(camera_frames.draw("two", pair, face_sources, base + 50_000, look))
  return frames


def run_sources(run_dir: str, split: str, per_class: int = 0, data_dir: str = "") -> list:
  """`sources` of `split` for every dataset the trained run at `run_dir` used, by its split
  manifests (`data_dir` overrides the run's data folder)."""
  config = ml_collections.ConfigDict(jsonfile.load(os.path.join(run_dir, "config.json")))
  manifest = config.data.split_manifest or os.path.join(run_dir, "split.json")
  names = [config.data.dataset] + list(config.data.extra_datasets)
  out = []
  for i, name in enumerate(names):
    path = manifest if i == 0 else run_data.extra_manifest_path(manifest, name)
    out += sources(data_dir or config.data.data_dir, name, path, split, per_class)
  return out


@dataclasses.dataclass(frozen=True)
class LocatorSet:
  inputs: np.ndarray            # (N, INPUT_H, INPUT_W) uint8: the locator's view of each frame
  boxes: tuple                  # per frame, its true face boxes (frame pixels)
  kinds: tuple                  # per frame, its camera_frames kind
  keys: tuple = ()              # per frame, the keys of the sources drawn into it


def locator_set(face_sources: list[camera_frames.Source], count: int, seed: int,
                look: camera_frames.SensorLook = camera_frames.SensorLook()) -> LocatorSet:
  """`count` frames of LOCATOR_KINDS' mix, faces drawn at random from `face_sources` (each
  dataset equally often)."""
  if not face_sources:
    raise ValueError("the locator's frames need face sources: the split holds none")
  rng = np.random.default_rng(seed)
  kinds = list(LOCATOR_KINDS)
  shares = np.array(list(LOCATOR_KINDS.values()))
  # Each dataset (the key's prefix) as often as the others: GENKI-4K's 1,400 photos are the
  # in-the-wild scenes, SMILEsmileD's 9,216 crops the many faces.
  by_dataset: dict[str, list] = {}
  for source in face_sources:
    by_dataset.setdefault(source.key.split(":", 1)[0], []).append(source)
  groups = [by_dataset[name] for name in sorted(by_dataset)]
  inputs, boxes, drawn, keys = [], [], [], []
  for i in tqdm(range(count), desc="locator frames", unit="frame", mininterval=2.0):
    kind = kinds[rng.choice(len(kinds), p=shares / shares.sum())]
    wanted = {"none": 0, "two": 2}.get(kind, 1)
    chosen = []
    for _ in range(wanted):
      group = groups[rng.integers(len(groups))]
      chosen.append(group[rng.integers(len(group))])
    frame = camera_frames.draw(kind, chosen, face_sources, seed * 1_000_003 + i, look)
    inputs.append(face_map.locator_input(frame.image))
    boxes.append(frame.boxes)
    drawn.append(kind)
    keys.append(frame.keys)
  return LocatorSet(np.stack(inputs), tuple(boxes), tuple(drawn), tuple(keys))

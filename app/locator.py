"""The robot's face locator built: frames drawn from a split's photos, the locator trained on the
train split's and its heat threshold chosen on the val split's; `locator.json` says what it does.

`build_locator(config, workdir)` is what `experiments.locator` and the main job call. The frames
are drawn once and kept in the workdir (`frames_train.npz`, `frames_val.npz`), so a killed build
resumes with the same frames and its training resumes from its checkpoints.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from smile_jax.data import frame_sets
from smile_jax.eval import predict
from smile_jax.io import jsonfile
from smile_jax.models import net as net_lib, spec as spec_lib
from smile_jax.train import locator as locator_lib


@dataclasses.dataclass(frozen=True)
class LocatorBuild:
  result: locator_lib.LocatorResult
  threshold: float                     # the heat logit a face's centre must reach
  val: locator_lib.Detection           # at that threshold, on the val frames
  summary: dict                        # locator.json


def save_set(path: str, frames: frame_sets.LocatorSet) -> None:
  counts = np.array([len(b) for b in frames.boxes])
  flat = np.array([v for b in frames.boxes for box in b for v in box], np.int32).reshape(-1, 4)
  np.savez_compressed(path + ".tmp.npz", inputs=frames.inputs, counts=counts, boxes=flat,
                      kinds=np.array(frames.kinds),
                      keys=np.array(["|".join(k) for k in frames.keys] or [""] * len(counts)))
  os.replace(path + ".tmp.npz", path)


def load_set(path: str) -> frame_sets.LocatorSet:
  with np.load(path) as data:
    starts = np.concatenate([[0], np.cumsum(data["counts"])])
    boxes = tuple(tuple(tuple(int(v) for v in row) for row in data["boxes"][a:b])
                  for a, b in zip(starts[:-1], starts[1:]))
    keys = tuple(tuple(k.split("|")) if k else () for k in data["keys"])
    return frame_sets.LocatorSet(data["inputs"], boxes, tuple(str(k) for k in data["kinds"]),
                                 keys)


def frames(workdir: str, split: str, run_dir: str, count: int, seed: int,
           data_dir: str = "") -> frame_sets.LocatorSet:
  """`count` locator frames of `split`'s photos (by the run's manifests), kept in the workdir."""
  path = os.path.join(workdir, f"frames_{split}.npz")
  if os.path.exists(path):
    kept = load_set(path)
    if len(kept.inputs) == count:
      return kept
  drawn = frame_sets.locator_set(frame_sets.run_sources(run_dir, split, 0, data_dir), count, seed)
  save_set(path, drawn)
  return drawn


def build_locator(config, workdir: str, verbose: bool = True) -> LocatorBuild:
  """Frames, training and the threshold (module docstring); writes `locator.json`."""
  cfg = config.locator
  if not cfg.split_run:
    raise ValueError("config.locator.split_run is empty: name a trained smile run or main job "
                     "whose split the locator's frames come from")
  run_dir = predict.resolve_run_dir(cfg.split_run)
  os.makedirs(workdir, exist_ok=True)
  train_set = frames(workdir, "train", run_dir, cfg.train_frames, cfg.frame_seed, cfg.data_dir)
  val_set = frames(workdir, "val", run_dir, cfg.val_frames, cfg.frame_seed + 1, cfg.data_dir)
  result = locator_lib.train_locator(config, workdir, train_set, val_set, verbose)
  maps = locator_lib.predict_maps(net_lib.build(result.spec).apply, result.variables, val_set.inputs,
                                  cfg.eval_batch_size)
  threshold, val = locator_lib.choose_threshold(maps, val_set.boxes, cfg.max_false_per_frame)
  summary = {"model": result.spec.name, "macs": spec_lib.total_macs(result.spec),
             "params": spec_lib.total_params(result.spec), "best_epoch": result.best_epoch,
             "threshold": threshold, "val": dataclasses.asdict(val),
             "train_frames": len(train_set.inputs), "val_frames": len(val_set.inputs),
             "split_run": run_dir}
  # Relative to the folder holding both (a main job's workdir), so the two move together.
  root = os.path.commonpath([os.path.abspath(workdir), os.path.abspath(run_dir)])
  jsonfile.dump(summary, os.path.join(workdir, "locator.json"), root=root, indent=1)
  return LocatorBuild(result, threshold, val, summary)

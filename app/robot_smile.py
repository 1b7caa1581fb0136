"""The robot's smile net: the chosen net fine-tuned on face crops made the device's way.

The host's smile net learned from face crops of photos; the robot crops its faces from camera
frames (the sensor's blur, noise and low light) by its locator's boxes (a few pixels off). The
truth boxes cropped from val frames already cost the shipped net ~0.02-0.03 AUC against its face
crops (RESULTS.md, "The robot's eye"). `tune_smile(config, workdir, run_dir)` fine-tunes it on
crops of the train photos drawn into frames and cropped by jittered true boxes
(data/device_crops.py; `config.smile_tune`, configs/smile_tune.py: copies, jitter, recipe),
keeping the epoch with the best val AUC on such crops of the val photos. The tuned net is kept
only when it beats the chosen net's AUC on those val crops; `tune.json` says which (`adopted`),
and device_pipeline.load reads it. The crops are kept in the workdir (`crops_train.npz`, `crops_val.npz`), so a killed tuning
resumes with the same crops from its checkpoints.
"""

from __future__ import annotations

import os

import jax
import ml_collections
import numpy as np

from smile_jax.data import device_crops, frame_sets, run_data
from smile_jax.eval import predict
from smile_jax.io import jsonfile
from smile_jax.train import loop

SUMMARY = "tune.json"


def _crops(workdir: str, split: str, sources, size: int, seed: int, copies: int,
           cfg) -> device_crops.CropSet:
  """The split's crops, kept in the workdir; `sources()` reads the photos only when drawing."""
  path = os.path.join(workdir, f"crops_{split}.npz")
  if os.path.exists(path):
    with np.load(path) as data:
      return device_crops.CropSet(data["images"], data["labels"], data["domain"],
                                  tuple(str(k) for k in data["kinds"]))
  face_sources = sources()
  sets = [device_crops.crop_set(face_sources, size, seed + k, cfg.shift, cfg.log2_scale,
                                desc=f"{split} device crops {k + 1}/{copies}")
          for k in range(copies)]
  crops = device_crops.CropSet(np.concatenate([s.images for s in sets]),
                               np.concatenate([s.labels for s in sets]),
                               np.concatenate([s.domain for s in sets]),
                               tuple(k for s in sets for k in s.kinds))
  np.savez_compressed(path + ".tmp.npz", images=crops.images, labels=crops.labels,
                      domain=crops.domain, kinds=np.array(crops.kinds))
  os.replace(path + ".tmp.npz", path)
  return crops


def _tune_config(run_config: dict, cfg) -> ml_collections.ConfigDict:
  """The chosen run's config with the tuning's recipe (one device, no teacher)."""
  config = ml_collections.ConfigDict(run_config)
  config.train.update(epochs=cfg.epochs, peak_lr=cfg.peak_lr, warmup_epochs=cfg.warmup_epochs,
                      batch_size=cfg.batch_size, seed=cfg.seed, keep="best_val_auc",
                      parallel="jit", distill_weight=0.0)
  return config


def tune_smile(config, workdir: str, run_dir: str, verbose: bool = True) -> dict:
  """The tuning (module docstring); writes <workdir>/tune.json and returns it."""
  cfg = config.smile_tune
  os.makedirs(workdir, exist_ok=True)
  predictor = predict.Predictor.from_run(run_dir)
  size = predictor.spec.input_shape[0]
  train = _crops(workdir, "train", lambda: frame_sets.run_sources(run_dir, "train", cfg.per_class),
                 size, cfg.seed, cfg.copies, cfg)
  val = _crops(workdir, "val", lambda: frame_sets.run_sources(run_dir, "val", cfg.per_class), size,
               cfg.seed + 1000, 1, cfg)
  run_config = jsonfile.load(os.path.join(run_dir, "config.json"))
  tune_config = _tune_config(run_config, cfg)
  before, _ = loop.validate_variables(predictor.apply_fn, predictor.variables, val,
                                      tune_config.train.eval_batch_size)
  data = run_data.RunData(dataset=None, train=train, val=val, test=None,
                          manifest_path=tune_config.data.split_manifest)
  result = loop.train_and_evaluate(tune_config, workdir, predictor.spec, data, verbose,
                                   init_variables=jax.device_get(predictor.variables))
  after = max(row["val_auc"] for row in result.history)
  summary = {"adopted": bool(after > before), "val_auc_before": before, "val_auc_after": after,
             "best_epoch": result.best_epoch, "train_crops": len(train.labels),
             "val_crops": len(val.labels), "run_dir": run_dir,
             "jitter": {"shift": cfg.shift, "log2_scale": cfg.log2_scale}}
  root = os.path.commonpath([os.path.abspath(workdir), os.path.abspath(run_dir)])
  jsonfile.dump(summary, os.path.join(workdir, SUMMARY), root=root, indent=1)
  return summary


def adopted(workdir: str) -> bool:
  """Whether a tuning at `workdir` beat the net it started from (tune.json)."""
  path = os.path.join(workdir, SUMMARY)
  return os.path.exists(path) and bool(jsonfile.load(path)["adopted"])


def range_images(workdir: str) -> np.ndarray:
  """The tuned net's train crops: what its int8 activation ranges are taken on."""
  with np.load(os.path.join(workdir, "crops_train.npz")) as data:
    return data["images"]

"""A trained run on another dataset: zero-shot evaluation, and fine-tuning on it.

Zero-shot (`evaluate_on`): the other dataset's face crops (Viola-Jones, as the builders make
them) scored by the run's model: face detection rate, AUC over all images and over those with a
detected face, accuracy at probability 0.5 as trained, and after calibration (the run's val
temperature, then the prior shift to the target's share of smiles estimated from its unlabelled
scores; smile_jax/eval/calibration.py).

Fine-tuning (`finetune`): a seeded 70/15/15 split of the other dataset, a few epochs from the
run's weights at a lower learning rate, the best val epoch kept; before/after on its test split.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from smile_jax import runs
from smile_jax.data import builders, run_data
from smile_jax.eval import calibration, evaluate, metrics
from smile_jax.train import loop


def logit_diffs(predictor, images) -> np.ndarray:
  _, logits = loop.predict_scores(predictor.apply_fn, predictor.variables, images, 256)
  return (logits[:, 1] - logits[:, 0]).astype(np.float64)


def evaluate_on(predictor, dataset: builders.FaceDataset, temperature: float, source_prior: float) -> dict:
  d = logit_diffs(predictor, dataset.images)
  y, found = dataset.labels, dataset.face_found.astype(bool)
  calibrated = d / temperature
  prior = calibration.estimate_prior(calibrated, source_prior)
  shifted = calibration.shift_prior(calibrated, source_prior, prior)
  return {
      "dataset": dataset.name, "images": int(len(y)), "smiling_share": float(y.mean()),
      "face_detection_rate": float(found.mean()),
      "auc_all": metrics.roc_auc(y, d),
      "auc_faces_found": metrics.roc_auc(y[found], d[found]) if found.any() and len(set(y[found])) == 2 else None,
      "accuracy_uncalibrated": metrics.at_threshold(y, d, 0.0).accuracy,
      "accuracy_calibrated": metrics.at_threshold(y, shifted, 0.0).accuracy,
      "estimated_smiling_share": prior, "temperature": temperature,
  }


def finetune(predictor, run_config, dataset_name: str, workdir: str, epochs: int, peak_lr: float) -> dict:
  """Fine-tunes the run's model on `dataset_name`; test AUC on its test split before and after."""
  cfg = run_config.copy_and_resolve_references()
  cfg.data.dataset = dataset_name
  cfg.data.split_manifest = os.path.join(workdir, "split.json")
  cfg.train.epochs, cfg.train.peak_lr, cfg.train.warmup_epochs = epochs, peak_lr, 1
  data = run_data.load(cfg.data, workdir, predictor.spec.input_shape)
  before = metrics.roc_auc(data.test.labels, logit_diffs(predictor, data.test.images))
  spec = dataclasses.replace(predictor.spec, name=f"{predictor.spec.name}+{dataset_name}")
  summary = runs.train_evaluate_report(cfg, workdir, spec=spec, data=data, init_variables=predictor.variables)
  return {"dataset": dataset_name, "train_images": int(len(data.train.labels)),
          "test_images": int(len(data.test.labels)), "epochs": epochs, "peak_lr": peak_lr,
          "test_auc_before": before, "test_auc_after": evaluate.split_row(summary, "test")["auc"],
          "run_dir": os.path.abspath(workdir)}

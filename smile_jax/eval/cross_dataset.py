"""A trained run on another dataset: zero-shot evaluation.

Zero-shot (`evaluate_on`): the other dataset's face crops (Viola-Jones, as the builders make
them) scored by the run's model: face detection rate, AUC over all images and over those with a
detected face, accuracy at probability 0.5 as trained, and after calibration (the run's val
temperature, then the prior shift to the target's share of smiles estimated from its unlabelled
scores; smile_jax/eval/calibration.py).

Fine-tuning on it trains a run, so it lives above training, in `app/analyze.py`.
"""

from __future__ import annotations


import numpy as np

from smile_jax.models import infer
from smile_jax.data import builders
from smile_jax.eval import calibration, metrics


def logit_diffs(predictor, images) -> np.ndarray:
  logits = infer.predict_logits(predictor.apply_fn, predictor.variables, images)
  return (logits[:, 1] - logits[:, 0]).astype(np.float64)


def evaluate_on(predictor, dataset: builders.FaceDataset, temperature: float,
                source_prior: float) -> dict:
  diffs = logit_diffs(predictor, dataset.images)
  labels, found = dataset.labels, dataset.face_found.astype(bool)
  calibrated = diffs / temperature
  prior = calibration.estimate_prior(calibrated, source_prior)
  shifted = calibration.shift_prior(calibrated, source_prior, prior)
  both_classes = found.any() and len(set(labels[found])) == 2
  return {
      "dataset": dataset.name, "images": int(len(labels)), "smiling_share": float(labels.mean()),
      "face_detection_rate": float(found.mean()),
      "auc_all": metrics.roc_auc(labels, diffs),
      "auc_faces_found": metrics.roc_auc(labels[found], diffs[found]) if both_classes else None,
      "accuracy_uncalibrated": metrics.at_threshold(labels, diffs, 0.0).accuracy,
      "accuracy_calibrated": metrics.at_threshold(labels, shifted, 0.0).accuracy,
      "estimated_smiling_share": prior, "temperature": temperature,
  }

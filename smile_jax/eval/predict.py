"""Scoring image files with a trained run: the engine behind `experiments.predict`.

Each image goes through the same face detection and crop as the training data (see
`data/faces.py`), then the run's kept weights. A file that cannot be read gets a row with an
empty score and a warning; nothing stops the batch.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os

import numpy as np
import ml_collections
from absl import logging
from tqdm import tqdm

from smile_jax.io import jsonfile
from smile_jax.models import infer
from smile_jax.data import faces, images as images_lib, pipeline, run_data
from smile_jax.models import net as net_lib
from smile_jax.models import spec as spec_lib


@dataclasses.dataclass
class Predictor:
  """A trained run's model, ready to score uint8 face crops."""
  spec: spec_lib.ModelSpec
  variables: dict
  batch_size: int = 256

  @classmethod
  def from_run(cls, workdir: str) -> "Predictor":
    path = os.path.join(workdir, "spec.json")
    if not os.path.exists(path):
      raise FileNotFoundError(f"{path} not found: --workdir must be a training run's directory "
                              "(or a main job's, whose summary.json names the chosen run)")
    with open(path) as file:
      spec = spec_lib.ModelSpec.from_json(file.read())
    return cls(spec, infer.restore_variables(workdir, spec))

  def __post_init__(self):
    self.apply_fn = net_lib.build(self.spec).apply

  def score_crops(self, crops: np.ndarray) -> np.ndarray:
    """Smiling probabilities for (N, S, S, 1) uint8 crops."""
    crops = pipeline.fit_channels(crops, self.spec.input_shape)
    scores, _ = infer.predict_scores(self.apply_fn, self.variables, crops, self.batch_size)
    return scores


def load_run(workdir: str):
  """(run_dir, Predictor, its config, its RunData) of a trained run or a main job's chosen run."""
  run_dir = resolve_run_dir(workdir)
  predictor = Predictor.from_run(run_dir)
  config = ml_collections.ConfigDict(jsonfile.load(os.path.join(run_dir, "config.json")))
  return run_dir, predictor, config, run_data.load(config.data, run_dir, predictor.spec.input_shape)


def val_threshold(run_dir: str) -> float:
  """The probability threshold chosen on the run's validation split (metrics.json)."""
  with open(os.path.join(run_dir, "metrics.json")) as file:
    return json.load(file)["splits"][0].get("val_threshold", 0.5)


def resolve_run_dir(workdir: str) -> str:
  """A training run's directory, or the chosen run of a main job's directory."""
  summary = os.path.join(workdir, "summary.json")
  if not os.path.exists(os.path.join(workdir, "spec.json")) and os.path.exists(summary):
    return jsonfile.load(summary)["chosen_run_dir"]
  return workdir


def write_csv(output_csv: str, header: list[str], rows: list[list]) -> None:
  """The scores CSV, its folder made if missing (the host's and the device pipeline's rows)."""
  os.makedirs(os.path.dirname(os.path.abspath(output_csv)), exist_ok=True)
  with open(output_csv, "w", newline="") as file:
    writer = csv.writer(file)
    writer.writerow(header)
    writer.writerows(rows)


def predict_folder(workdir: str, folder: str, output_csv: str) -> dict:
  """Writes `path,face_found,score` for every file under `folder`; returns counts.

  Whether a file is an image is decided by decoding it: one that cannot be used gets a row with
  empty `face_found` and `score`, and a warning naming it and why.
  """
  if not os.path.isdir(folder):
    raise FileNotFoundError(f"--images={folder} is not a folder")
  predictor = Predictor.from_run(resolve_run_dir(workdir))
  size = predictor.spec.input_shape[0]
  files = images_lib.list_files(folder)
  rows, crops, crop_rows = [], [], []
  for path in tqdm(files, desc="detecting faces", unit="img", mininterval=1.0):
    try:
      crop = faces.crop_face(images_lib.read_image(path), size)
    except images_lib.BadImage as e:
      logging.warning("not scored: %s", e)
      rows.append([path, "", ""])
      continue
    crop_rows.append(len(rows))
    rows.append([path, int(crop.face_found), None])
    crops.append(crop.image[..., None])
  if crops:
    for row_index, score in zip(crop_rows, predictor.score_crops(np.stack(crops))):
      rows[row_index][2] = f"{score:.6f}"
  write_csv(output_csv, ["path", "face_found", "score"], rows)
  return {"files": len(files), "scored": len(crops), "unreadable": len(files) - len(crops),
          "faces_found": sum(1 for r in rows if r[1] == 1)}

"""Knowledge distillation: a trained teacher's logits on the train split, computed once and kept
in the teacher's run directory, read back by image key by every student that trains against them.

A student's recipe names the teacher in `config.train.teacher` (a run directory) and weighs the
soft-target term with `distill_weight` at `distill_temperature` (steps.distillation_loss). The
stored logits are the mean of the teacher's logits on each image and on its mirror image: the
students train with random flips, and a smile does not change under a flip, so one stored pair
serves both views (shifts of a few pixels are left to the teacher's own shift invariance).
"""

from __future__ import annotations

import hashlib
import os

import numpy as np

from smile_jax.models import infer
from smile_jax.data import builders
from smile_jax.models import net as net_lib, spec as spec_lib

LOGITS_FILE = "teacher_logits.npz"


class TeacherError(ValueError):
  """A teacher that cannot be used: missing, untrained, or made for other images."""


def read_spec(run_dir: str) -> spec_lib.ModelSpec:
  path = os.path.join(run_dir, "spec.json")
  if not os.path.exists(path):
    raise TeacherError(f"config.train.teacher = {run_dir!r}: no spec.json there; it must be a "
                       "trained run's directory (the search's teacher stage makes one)")
  with open(path) as file:
    return spec_lib.ModelSpec.from_json(file.read())


def write_teacher_logits(run_dir: str, train: builders.FaceDataset, batch_size: int = 256) -> str:
  """The teacher's flip-averaged logits on `train` (at the teacher's input), saved by key."""
  spec = read_spec(run_dir)
  variables = infer.restore_variables(run_dir, spec)
  apply_fn = net_lib.build(spec).apply
  logits = [infer.predict_logits(apply_fn, variables, images, batch_size)
            for images in (train.images, train.images[:, :, ::-1])]
  path = os.path.join(run_dir, LOGITS_FILE)
  np.savez(path, keys=train.keys, logits=np.mean(logits, axis=0).astype(np.float32))
  return path


def check_teacher(run_dir: str) -> None:
  """Fails before any training when `config.train.teacher` cannot be used."""
  if not os.path.exists(os.path.join(run_dir, LOGITS_FILE)):
    read_spec(run_dir)
    raise TeacherError(f"config.train.teacher = {run_dir!r} has no {LOGITS_FILE}: make it with "
                       "smile_jax.train.distill.write_teacher_logits(run_dir, train_split) (the "
                       "search's teacher stage does)")


def logits_digest(run_dir: str) -> str:
  """A short digest of the teacher's stored logits, keys and values: what its students learn
  from, wherever the run directory lies (the search's run store is fingerprinted by it)."""
  check_teacher(run_dir)
  stored = np.load(os.path.join(run_dir, LOGITS_FILE))
  digest = hashlib.sha256("\n".join(map(str, stored["keys"].tolist())).encode())
  digest.update(np.ascontiguousarray(stored["logits"], dtype=np.float32).tobytes())
  return digest.hexdigest()[:16]


def teacher_logits(run_dir: str, train: builders.FaceDataset) -> np.ndarray:
  """(N, 2) teacher logits in the order of `train`'s images."""
  check_teacher(run_dir)
  stored = np.load(os.path.join(run_dir, LOGITS_FILE))
  position = {key: i for i, key in enumerate(stored["keys"].tolist())}
  missing = [key for key in train.keys.tolist() if key not in position]
  if missing:
    raise TeacherError(
        f"config.train.teacher = {run_dir!r}: {len(missing)} training images have no teacher "
        f"logits (first: {missing[0]!r}); the teacher was made for another split or dataset: "
        "retrain it on this split")
  return stored["logits"][[position[key] for key in train.keys.tolist()]]


def recipe_teacher(train_cfg, train: builders.FaceDataset) -> np.ndarray | None:
  """The teacher logits a recipe asks for (None when it does not distill)."""
  if not train_cfg.teacher or not train_cfg.distill_weight:
    return None
  return teacher_logits(train_cfg.teacher, train)

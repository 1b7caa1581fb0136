"""`train_locator(config, workdir, train_set, val_set)`: the face locator trained, resumable.

The locator is a map spec (models/zoo.py LOCATORS) trained by the same pure `train_step` as the
smile nets, on the "face_map" objective (train/steps.py): camera frames drawn from the train
split's photos (data/frame_sets.py locator_set) with their face boxes as map targets
(data/face_map.py encode), a random half mirrored each epoch with `config.locator.flip`. Each
epoch it is validated on frames drawn from the val split: the map loss, the share of true faces
found and the false faces per frame at the heat threshold `config.locator.threshold`; the kept
weights are the epoch with the lowest val loss.

`choose_threshold` then picks, on the val frames, the lowest heat threshold (the most faces
found) whose false faces per no-face frame stay within `config.locator.max_false_per_frame`.

Workdir: `spec.json`, `checkpoints/` (orbax, as a smile run's: state, best weights, meta) and
`history.json`; a killed run resumes after its last finished epoch with the same result.
"""

from __future__ import annotations

import dataclasses
import os
import time

import jax
import numpy as np
from tqdm import tqdm

from smile_jax.data import face_map, frame_sets
from smile_jax.models import infer, spec as spec_lib, zoo
from smile_jax.train import loop, steps


@dataclasses.dataclass
class LocatorResult:
  variables: dict                 # the kept weights ({'params', 'batch_stats'})
  history: list[dict]
  best_epoch: int
  spec: spec_lib.ModelSpec


@dataclasses.dataclass(frozen=True)
class Detection:
  """How a locator's boxes meet the true ones on a set of frames (face_map.match)."""
  faces_found: float              # true faces matched / true faces
  false_per_frame: float          # found boxes matching no true face, per frame
  false_per_empty_frame: float    # the same on the frames holding no face


def targets(boxes) -> dict:
  """A set's per-frame boxes as the stacked map targets a train batch carries."""
  encoded = [face_map.encode(b) for b in boxes]
  return {"heat": np.stack([t.heat for t in encoded]),
          "box": np.stack([t.box for t in encoded]),
          "box_weight": np.stack([t.box_weight for t in encoded])}


def mirrored(boxes) -> tuple:
  """Each frame's boxes in the frame mirrored left to right (the locator's input mirrors with it:
  its 4-pixel bins tile the 324-pixel width exactly)."""
  return tuple(tuple((face_map.FRAME_W - x - w, y, w, h) for x, y, w, h in frame)
               for frame in boxes)


def batches(inputs: np.ndarray, target: dict, batch_size: int, seed: int, epoch: int,
            flipped: dict | None = None):
  """One epoch of shuffled full batches (a function of seed and epoch: resumes repeat it); with
  `flipped` (the targets of the mirrored boxes), a random half of the frames is mirrored."""
  rng = np.random.default_rng([seed, epoch])
  order = rng.permutation(len(inputs))
  mirror = rng.random(len(inputs)) < 0.5 if flipped is not None else None
  for start in range(0, len(order) - batch_size + 1, batch_size):
    pick = order[start:start + batch_size]
    images = inputs[pick]
    batch = {k: v[pick] for k, v in target.items()}
    if flipped is not None:
      flip = mirror[pick]
      images = np.where(flip[:, None, None], images[:, :, ::-1], images)
      for key, values in flipped.items():
        shape = (-1,) + (1,) * (values.ndim - 1)
        batch[key] = np.where(flip.reshape(shape), values[pick], batch[key])
    yield {"image": images[..., None], **batch}


def predict_maps(apply_fn, variables, inputs: np.ndarray, batch_size: int) -> np.ndarray:
  """Float maps (N, H, W, CHANNELS) of locator inputs (N, INPUT_H, INPUT_W) uint8."""
  return infer.predict_logits(apply_fn, variables, inputs[..., None], batch_size)


def detection(maps: np.ndarray, boxes, threshold: float) -> Detection:
  """`Detection` of float maps decoded at `threshold` against each frame's true boxes."""
  found = [face_map.decode(m, threshold) for m in maps]
  hits, false = np.sum([face_map.match(f, t) for f, t in zip(found, boxes)], axis=0)
  empty = [len(f) for f, t in zip(found, boxes) if not t]
  true_faces = sum(len(t) for t in boxes)
  return Detection(float(hits / max(true_faces, 1)), float(false / max(len(boxes), 1)),
                   float(np.mean(empty)) if empty else 0.0)


def choose_threshold(maps: np.ndarray, boxes, max_false: float,
                     candidates=tuple(np.arange(-4.0, 4.01, 0.25))) -> tuple[float, Detection]:
  """The lowest heat threshold of `candidates` whose false faces per no-face frame are at most
  `max_false` (the most faces found within that), and its Detection; the highest if none is."""
  scored = [(float(t), detection(maps, boxes, float(t))) for t in candidates]
  within = [(t, d) for t, d in scored if d.false_per_empty_frame <= max_false]
  return within[0] if within else scored[-1]


def _val_row(state, val: frame_sets.LocatorSet, val_target: dict, cfg) -> dict:
  maps = predict_maps(state.apply_fn, infer.variables_of(state), val.inputs, cfg.eval_batch_size)
  loss = float(steps.face_map_loss(maps, val_target, ()))
  found = detection(maps, val.boxes, cfg.threshold)
  return {"val_loss": loss, "val_faces_found": found.faces_found,
          "val_false_per_frame": found.false_per_frame}


def train_locator(config, workdir: str, train_set: frame_sets.LocatorSet,
                  val_set: frame_sets.LocatorSet, verbose: bool = True) -> LocatorResult:
  """Trains `config.locator.model` on `train_set`, validating on `val_set` each epoch."""
  os.makedirs(workdir, exist_ok=True)
  spec = zoo.LOCATORS[config.locator.model]()
  if train_set.inputs.shape[1:] != spec.input_shape[:2]:
    raise ValueError(f"locator frames are {train_set.inputs.shape[1:]}, the spec takes "
                     f"{spec.input_shape[:2]}: draw them with face_map.locator_input")
  with open(os.path.join(workdir, "spec.json"), "w") as file:
    file.write(spec.to_json())
  cfg = config.locator
  steps_per_epoch = len(train_set.inputs) // cfg.batch_size
  if steps_per_epoch == 0:
    raise ValueError(f"{len(train_set.inputs)} locator frames are fewer than one batch of "
                     f"{cfg.batch_size}: raise config.locator.train_frames")
  state = steps.create_state(spec, cfg, steps_per_epoch, cfg.seed, objective="face_map")
  mngr = infer.checkpoint_manager(workdir)
  state, best, meta = loop.restore(mngr, state, infer.variables_of(state), workdir)
  meta.setdefault("best_val_loss", float("inf"))
  train_target, val_target = targets(train_set.boxes), targets(val_set.boxes)
  flipped = targets(mirrored(train_set.boxes)) if cfg.flip else None
  for epoch in range(meta["epoch"], cfg.epochs):
    t0 = time.time()
    state, train_loss = loop.train_epoch(
        state, batches(train_set.inputs, train_target, cfg.batch_size, cfg.seed, epoch, flipped),
        steps_per_epoch, f"{spec.name} epoch {epoch + 1}/{cfg.epochs}", verbose, 0)
    row = {"epoch": epoch + 1, "train_loss": train_loss,
           **_val_row(state, val_set, val_target, cfg), "seconds": time.time() - t0}
    meta["history"].append(row)
    if row["val_loss"] < meta["best_val_loss"]:
      best = jax.device_get(infer.variables_of(state))
      meta["best_epoch"], meta["best_val_loss"] = epoch + 1, row["val_loss"]
    meta["epoch"] = epoch + 1
    loop.save(mngr, workdir, state, best, meta)
    if verbose:
      tqdm.write(f"{spec.name} epoch {epoch + 1}/{cfg.epochs}: train loss {train_loss:.3f}  "
                 f"val loss {row['val_loss']:.3f}  found {row['val_faces_found']:.1%}  false "
                 f"{row['val_false_per_frame']:.2f}/frame  ({row['seconds']:.1f}s)")
  mngr.close()
  return LocatorResult(best, meta["history"], meta["best_epoch"], spec)

"""`train_and_evaluate(config, workdir)`: one model trained with the report's recipe, resumable.

Workdir layout (see WORKSPACE.md): `config.json`, `spec.json`, `split.json` (unless the config
points at a shared manifest), `checkpoints/` (orbax: the train state, the best weights so far and
the history, saved after every epoch), `history.json` (per-epoch train/val loss and val AUC).

A run killed at any point restarts from its last finished epoch. Data order, augmentation and
dropout are functions of (seed, epoch, step), so the resumed run ends with the same weights and
metrics as one that was never interrupted.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
from absl import logging
from tqdm import tqdm

from smile_jax.io import jsonfile
from smile_jax.models import infer
from smile_jax.data import pipeline, run_data
from smile_jax.eval import metrics
from smile_jax.models import spec as spec_lib, zoo
from smile_jax.train import distill, steps


@dataclasses.dataclass
class TrainResult:
  state: steps.TrainState          # the last epoch's state (single-device)
  variables: dict  # the kept weights ({'params', 'batch_stats'}), per config.train.keep
  history: list[dict]
  best_epoch: int
  spec: spec_lib.ModelSpec
  data: run_data.RunData


def model_spec(config) -> spec_lib.ModelSpec:
  shape = (config.data.image_size, config.data.image_size, config.data.channels)
  if config.spec_json:
    with open(config.spec_json) as file:
      return spec_lib.ModelSpec.from_json(file.read()).with_input_shape(shape)
  return zoo.get(config.model, shape)


def _state_tree(state: steps.TrainState) -> dict:
  return {"step": state.step, "params": state.params, "batch_stats": state.batch_stats,
          "opt_state": state.opt_state, "dropout_key": state.dropout_key}


def validate(state: steps.TrainState, split, batch_size: int) -> tuple[float, float]:
  """(AUC, cross-entropy) of a train state on a split (a FaceDataset), in inference mode; a split
  of several datasets gets the mean of their AUCs (metrics.mean_group_auc)."""
  return validate_variables(state.apply_fn, infer.variables_of(state), split, batch_size)


def validate_variables(apply_fn, variables, split, batch_size: int) -> tuple[float, float]:
  """`validate` of a model's apply function and variables."""
  scores, logits = infer.predict_scores(apply_fn, variables, split.images, batch_size)
  loss = float(steps.cross_entropy(jnp.asarray(logits), jnp.asarray(split.labels)))
  return metrics.mean_group_auc(split.labels, scores, split.domain), loss


def _check_recipe(tc, train_images: int) -> int:
  """Steps per epoch; fails on a recipe that cannot run, naming the field."""
  steps_per_epoch = pipeline.steps_per_epoch(train_images, tc.batch_size)
  if steps_per_epoch == 0:
    raise ValueError(f"the train split has {train_images} images, fewer than one batch of "
                     f"{tc.batch_size}: lower config.train.batch_size or use more data")
  if tc.parallel not in ("jit", "pmap") or tc.keep not in ("best_val_auc", "last"):
    raise ValueError(f"config.train.parallel must be 'jit' or 'pmap' (got {tc.parallel!r}) and "
                     f"config.train.keep 'best_val_auc' or 'last' (got {tc.keep!r})")
  n_dev = jax.local_device_count() if tc.parallel == "pmap" else 1
  if tc.batch_size % n_dev:
    raise ValueError(f"batch size {tc.batch_size} does not split over {n_dev} devices")
  return steps_per_epoch


def restore(mngr, state, best, workdir: str):
  """(state, best weights, meta) from the run's last checkpoint, or as given without one."""
  meta = {"epoch": 0, "history": [], "best_epoch": -1, "best_val_auc": -1.0}
  if mngr.latest_step() is None:
    return state, best, meta
  restored = mngr.restore(mngr.latest_step(), args=ocp.args.Composite(
      state=ocp.args.StandardRestore(_state_tree(state)),
      best=ocp.args.StandardRestore(best), meta=ocp.args.JsonRestore()))
  restored_state = restored["state"]
  state = state.replace(
      step=restored_state["step"],
      params=restored_state["params"],
      batch_stats=restored_state["batch_stats"],
      opt_state=restored_state["opt_state"],
      dropout_key=restored_state["dropout_key"])
  logging.info("resuming %s after epoch %d", workdir, restored["meta"]["epoch"])
  return state, restored["best"], restored["meta"]


def train_epoch(state, batches, steps_per_epoch: int, desc: str, verbose: bool, n_dev: int):
  """One epoch of train steps (pmapped over `n_dev` devices when > 0); (state, mean loss)."""
  losses = []
  bar = tqdm(batches, total=steps_per_epoch, desc=desc, unit="batch", leave=False,
             mininterval=1.0, disable=not verbose)
  for batch in bar:
    if n_dev:
      batch = jax.tree_util.tree_map(lambda x: x.reshape(n_dev, -1, *x.shape[1:]), batch)
      state, out = steps.pmap_train_step(state, batch)
      losses.append(out["loss"][0])
    else:
      state, out = steps.jit_train_step(state, batch)
      losses.append(out["loss"])
  return state, float(np.mean(jax.device_get(losses)))


def save(mngr, workdir: str, single, best, meta) -> None:
  mngr.save(meta["epoch"], args=ocp.args.Composite(
      state=ocp.args.StandardSave(jax.device_get(_state_tree(single))),
      best=ocp.args.StandardSave(best), meta=ocp.args.JsonSave(meta)))
  mngr.wait_until_finished()
  with open(os.path.join(workdir, "history.json"), "w") as file:
    json.dump(meta["history"], file, indent=1)


def _config_root(data_cfg, workdir: str) -> str:
  """The folder whose paths config.json stores relative to it: the one holding the run's split
  when the run lies inside it (a job's runs, teacher and finalists train on the job's split), so
  the job can be moved as a whole; else the run's own folder."""
  if data_cfg.split_manifest:
    split_dir = os.path.dirname(os.path.abspath(data_cfg.split_manifest))
    if jsonfile.inside(workdir, split_dir):
      return split_dir
  return os.path.abspath(workdir)


def train_and_evaluate(config, workdir: str, spec: spec_lib.ModelSpec | None = None,
                       data: run_data.RunData | None = None, verbose: bool = True,
                       init_variables: dict | None = None) -> TrainResult:
  """Trains a model on the run's train split, validating each epoch; returns the result.

  The model is `spec` if given, else the config's (`spec_json` or zoo `model`); `data` can be
  passed in already loaded (the search trains many candidates on one split), else it is loaded
  from `config.data`. `init_variables` ({"params", "batch_stats"}) start a fine-tuning from
  trained weights instead of a fresh initialisation (a resumed run uses its checkpoint).
  """
  os.makedirs(workdir, exist_ok=True)
  spec = spec or model_spec(config)
  data = data or run_data.load(config.data, workdir, spec.input_shape)
  with open(os.path.join(workdir, "spec.json"), "w") as file:
    file.write(spec.to_json())
  jsonfile.dump(config.to_dict(), os.path.join(workdir, "config.json"),
                root=_config_root(config.data, workdir), indent=1)
  tc = config.train
  base = pipeline.epoch_indices(data.train.labels, tc.seed, config.data.balance)
  steps_per_epoch = _check_recipe(tc, len(base))
  n_dev = jax.local_device_count() if tc.parallel == "pmap" else 0
  state = steps.create_state(spec, tc, steps_per_epoch, tc.seed, "batch" if n_dev else None)
  if init_variables is not None:
    state = state.replace(
        params=init_variables["params"], batch_stats=init_variables.get("batch_stats", {}))
  mngr = infer.checkpoint_manager(workdir)
  state, best, meta = restore(mngr, state, infer.variables_of(state), workdir)
  augment_cfg = config.augment if config.augment.enabled else None
  teacher = distill.recipe_teacher(tc, data.train)
  if n_dev:
    state = steps.replicate(state, n_dev)
  for epoch in range(meta["epoch"], tc.epochs):
    t0 = time.time()
    batches = pipeline.train_batches(data.train.images, data.train.labels, batch_size=tc.batch_size,
                                     seed=tc.seed, epoch=epoch, balance=config.data.balance,
                                     augment_cfg=augment_cfg, teacher=teacher)
    state, train_loss = train_epoch(state, batches, steps_per_epoch,
                                     f"{spec.name} epoch {epoch + 1}/{tc.epochs}", verbose, n_dev)
    single = steps.unreplicate(state) if n_dev else state
    val_auc, val_loss = validate(single, data.val, tc.eval_batch_size)
    row = {"epoch": epoch + 1, "train_loss": train_loss, "val_loss": val_loss, "val_auc": val_auc,
           "seconds": time.time() - t0,
           "images_per_s": steps_per_epoch * tc.batch_size / max(1e-9, time.time() - t0)}
    meta["history"].append(row)
    if tc.keep == "last" or val_auc > meta["best_val_auc"]:
      best = jax.device_get(infer.variables_of(single))
      meta["best_epoch"], meta["best_val_auc"] = epoch + 1, val_auc
    meta["epoch"] = epoch + 1
    save(mngr, workdir, single, best, meta)
    logging.info("%s epoch %d: train loss %.4f, val loss %.4f, val AUC %.4f (%.1fs)", spec.name,
                 epoch + 1, train_loss, val_loss, val_auc, row["seconds"])
    if verbose:
      tqdm.write(f"{spec.name} epoch {epoch + 1}/{tc.epochs}: train loss {train_loss:.4f}  "
                 f"val loss {val_loss:.4f}  val AUC {val_auc:.4f}  ({row['seconds']:.1f}s)")
  mngr.close()
  final = steps.unreplicate(state) if n_dev else state
  return TrainResult(final, best, meta["history"], meta["best_epoch"], spec, data)

"""Inference with a trained model: logits and smiling probabilities for uint8 images, and the kept
weights of a run restored from its checkpoints.

The one place a model is run in inference mode, below training (whose validation uses it) and
evaluation, prediction, analysis and deployment (which score with it).
"""

from __future__ import annotations

import functools
import os

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

from smile_jax.data import pipeline
from smile_jax.models import net as net_lib, spec as spec_lib

BATCH_SIZE = 256


@functools.partial(jax.jit, static_argnums=0)
def batch_logits(apply_fn, variables, images):
  """Inference-mode logits for a batch of uint8 images."""
  return apply_fn(variables, net_lib.normalize_pixels(images), train=False)


def predict_logits(apply_fn,
                   variables,
                   images: np.ndarray,
                   batch_size: int = BATCH_SIZE) -> np.ndarray:
  """2-class logits (N, 2) for uint8 images (N, H, W, C), in fixed-size batches."""
  logits = [np.asarray(batch_logits(apply_fn, variables, batch))[:n]
            for batch, n in pipeline.eval_batches(images, batch_size)]
  return np.concatenate(logits) if logits else np.zeros((0, 2), np.float32)


def predict_scores(apply_fn, variables, images: np.ndarray,
                   batch_size: int = BATCH_SIZE) -> tuple[np.ndarray, np.ndarray]:
  """Smiling probabilities and 2-class logits for uint8 images."""
  logits = predict_logits(apply_fn, variables, images, batch_size)
  return np.asarray(jax.nn.softmax(logits, axis=-1)[:, 1]), logits


def variables_of(state) -> dict:
  """The weights a train state holds, as `apply_fn` takes them."""
  return {"params": state.params, "batch_stats": state.batch_stats}


def checkpoint_manager(workdir: str) -> ocp.CheckpointManager:
  """The orbax manager of a run's checkpoints/ (items: train state, best weights, meta)."""
  return ocp.CheckpointManager(
      os.path.join(os.path.abspath(workdir), "checkpoints"),
      options=ocp.CheckpointManagerOptions(max_to_keep=2, create=True),
      item_names=("state", "best", "meta"))


def restore_variables(workdir: str, spec: spec_lib.ModelSpec) -> dict:
  """The kept weights of a finished (or partly finished) run, for evaluation and prediction."""
  mngr = checkpoint_manager(workdir)
  step = mngr.latest_step()
  if step is None:
    raise FileNotFoundError(f"{workdir}/checkpoints holds no checkpoint: train the run first "
                            "(python -m experiments.train --workdir=...)")
  model = net_lib.build(spec)
  abstract = jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros((1, *spec.input_shape)),
                                               train=False))
  abstract = {"params": abstract["params"], "batch_stats": abstract.get("batch_stats", {})}
  restored = mngr.restore(step, args=ocp.args.Composite(best=ocp.args.StandardRestore(abstract)))
  mngr.close()
  return restored["best"]

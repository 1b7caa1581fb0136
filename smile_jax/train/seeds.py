"""K seeds of one architecture trained together: one `jax.vmap`ped step over K stacked models.

The search decides each candidate on several seeds. On this machine kind's CPU one vmapped step
over K = 3 models takes 0.37-0.64x the time of K sequential steps (benchmarks/search_throughput.py;
XLA fuses the K small convolutions into one grouped one), so `train_seeds` is the search's default
(`config.search.parallel_seeds = "vmap"`). Each seed keeps its own initialisation, data order,
augmentations and dropout: seed k sees exactly what a sequential run with seed k sees, and ends
within float rounding of it (tests/test_train.py). Short trainings are not checkpointed: a killed
search loses at most the candidate in progress (finished ones are in its run store).
"""

from __future__ import annotations

import time

import jax
import numpy as np

from smile_jax.data import pipeline, run_data
from smile_jax.models import spec as spec_lib
from smile_jax.train import distill, loop, steps


def train_seeds(config, spec: spec_lib.ModelSpec, seeds, data: run_data.RunData,
                teacher_logits: np.ndarray | None = None) -> list[dict]:
  """`config.train.epochs` of the recipe for each seed at once; per seed: the best epoch's val AUC
  and loss, and the (shared) wall time. `teacher_logits`: the recipe's teacher logits on
  `data.train` when the caller holds them already (a Ray worker cannot read the teacher's
  directory); by default they are read from `config.train.teacher` when the recipe distils."""
  tc = config.train
  t0 = time.time()
  base = pipeline.epoch_indices(data.train.labels, seeds[0], config.data.balance)
  steps_per_epoch = pipeline.steps_per_epoch(len(base), tc.batch_size)
  if steps_per_epoch == 0:
    raise ValueError(
        f"the train split has {len(base)} images, fewer than one batch of {tc.batch_size}")
  states = steps.stack([steps.create_state(spec, tc, steps_per_epoch, s) for s in seeds])
  augment_cfg = config.augment if config.augment.enabled else None
  teacher = (distill.recipe_teacher(tc, data.train) if teacher_logits is None
             else teacher_logits)
  best = [{"val_auc": -1.0, "val_loss": float("nan")} for _ in seeds]
  for epoch in range(tc.epochs):
    streams = [
        pipeline.train_batches(
            data.train.images,
            data.train.labels,
            batch_size=tc.batch_size,
            seed=s,
            epoch=epoch,
            balance=config.data.balance,
            augment_cfg=augment_cfg,
            teacher=teacher) for s in seeds
    ]
    for batches in zip(*streams):
      batch = jax.tree_util.tree_map(lambda *xs: np.stack(xs), *batches)
      states, _ = steps.vmap_train_step(states, batch)
    for seed_index in range(len(seeds)):
      auc, loss = loop.validate(
          jax.tree_util.tree_map(lambda x: x[seed_index], states), data.val, tc.eval_batch_size)
      if auc > best[seed_index]["val_auc"]:
        best[seed_index] = {"val_auc": auc, "val_loss": loss}
  seconds = time.time() - t0
  return [b | {"seconds": seconds} for b in best]

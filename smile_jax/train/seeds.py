"""K seeds of one architecture trained together, in one loop over the data.

The search decides each candidate on several seeds. `train_seeds` steps them side by side: each
seed's own jitted `train_step` in turn on its own batch, one loop over the data. (One vmapped
step over the K stacked models, `steps.vmap_train_step`, is ~3x slower for the compact family on
XLA:CPU, whose vmapped convolutions become grouped ones: benchmarks/search_throughput.py; one
seed after another is no faster.) Each seed keeps its own initialisation, data order,
augmentations and dropout: seed k sees exactly what a sequential run with seed k sees, and ends
within float rounding of it (tests/test_train.py). Short trainings are not checkpointed: a killed
search loses at most the candidate in progress (finished ones are in its run store).
"""

from __future__ import annotations

import time

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
  states = [steps.create_state(spec, tc, steps_per_epoch, s) for s in seeds]
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
      states = [steps.jit_train_step(state, batch)[0] for state, batch in zip(states, batches)]
    for seed_index, state in enumerate(states):
      auc, loss = loop.validate(state, data.val, tc.eval_batch_size)
      if auc > best[seed_index]["val_auc"]:
        best[seed_index] = {"val_auc": auc, "val_loss": loss}
  seconds = time.time() - t0
  return [b | {"seconds": seconds} for b in best]

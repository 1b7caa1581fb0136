"""K seeds of one architecture trained together, in one loop over the data.

The search decides each candidate on several seeds. `train_seeds` steps them side by side, two
ways (`STEPPING`): "interleaved", each seed's own jitted `train_step` in turn on its own batch,
or "vmap", one `jax.vmap`ped step over the K stacked models. On this machine kind's XLA:CPU
(jax 0.10) the vmapped convolutions become grouped ones, which it runs poorly: for the compact
family one vmapped step over K = 3 takes ~3x the time of the 3 interleaved steps
(benchmarks/search_throughput.py), so the search interleaves (`config.search.parallel_seeds`);
on an accelerator vmap is expected to win. Each seed keeps its own initialisation, data order,
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


STEPPING = ("interleaved", "vmap")


def train_seeds(config, spec: spec_lib.ModelSpec, seeds, data: run_data.RunData,
                teacher_logits: np.ndarray | None = None,
                stepping: str = "interleaved") -> list[dict]:
  """`config.train.epochs` of the recipe for each seed at once; per seed: the best epoch's val AUC
  and loss, and the (shared) wall time. `teacher_logits`: the recipe's teacher logits on
  `data.train` when the caller holds them already (a Ray worker cannot read the teacher's
  directory); by default they are read from `config.train.teacher` when the recipe distils.
  `stepping`: one of `STEPPING` (module docstring)."""
  if stepping not in STEPPING:
    raise ValueError(f"stepping must be one of {STEPPING}, got {stepping!r}")
  tc = config.train
  t0 = time.time()
  base = pipeline.epoch_indices(data.train.labels, seeds[0], config.data.balance)
  steps_per_epoch = pipeline.steps_per_epoch(len(base), tc.batch_size)
  if steps_per_epoch == 0:
    raise ValueError(
        f"the train split has {len(base)} images, fewer than one batch of {tc.batch_size}")
  states = [steps.create_state(spec, tc, steps_per_epoch, s) for s in seeds]
  if stepping == "vmap":
    states = steps.stack(states)
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
      if stepping == "vmap":
        batch = jax.tree_util.tree_map(lambda *xs: np.stack(xs), *batches)
        states, _ = steps.vmap_train_step(states, batch)
      else:
        states = [steps.jit_train_step(state, batch)[0] for state, batch in zip(states, batches)]
    for seed_index in range(len(seeds)):
      state = (jax.tree_util.tree_map(lambda x: x[seed_index], states) if stepping == "vmap"
               else states[seed_index])
      auc, loss = loop.validate(state, data.val, tc.eval_batch_size)
      if auc > best[seed_index]["val_auc"]:
        best[seed_index] = {"val_auc": auc, "val_loss": loss}
  seconds = time.time() - t0
  return [b | {"seconds": seconds} for b in best]

"""The search's scheduler: candidates' trainings handed to an executor, their results to the store.

A strategy (algorithm1.py, best_first.py) asks for a candidate's val AUCs with `evaluate`; the
scheduler reads the (candidate, seed) trainings the run store already holds, sends what is
missing to the executor as one job (executors.py: in this process, or as Ray tasks), stores each
result the moment it arrives (so a killed search loses at most the trainings in flight), and
returns the candidate with its AUCs. With several workers a strategy may `start_ahead` the next
candidates of its order while one trains; their results wait in the store until it asks for
them, so any number of workers trains and chooses what one worker would.
"""

from __future__ import annotations

import time
import traceback

from absl import logging

from smile_jax.cost import ops as ops_lib
from smile_jax.models import spec as spec_lib
from smile_jax.search import executors
from smile_jax.search.candidates import Candidate
from smile_jax.search.constraints import Constraints
from smile_jax.search.store import RunStore


class Scheduler:
  """`executor`: an executors.py executor, or a function `train(spec, seeds) -> [result per
  seed]` run in this process. `seeds`: every candidate's; `epochs`: recorded with each row.
  The candidate budget (`max_candidates`, `max_seconds`) is the strategies' `out_of_budget`."""

  def __init__(self, executor, store: RunStore, constraints: Constraints, *, seeds: tuple,
               epochs: int, max_candidates: int, max_seconds: float, on_trained=None):
    if callable(executor):
      executor = executors.LocalExecutor(executor)
    self.executor, self.store, self.constraints = executor, store, constraints
    self.seeds, self.epochs = tuple(seeds), epochs
    self.max_candidates, self.max_seconds = max_candidates, max_seconds
    self.on_trained = on_trained or (lambda cand: None)
    self.trained: dict[str, Candidate] = {}
    self.trainings = 0        # trainings run by this process (not restored from the store)
    self.started = time.time()
    self._pending: dict[tuple, Candidate] = {}   # job key -> candidate, while a job is out
    self.refill = lambda: None    # set by a strategy: start the next candidates on idle workers

  def make(self, spec: spec_lib.ModelSpec, parent_hash=None, reduction="") -> Candidate:
    cost = ops_lib.analyze(spec)
    cand = Candidate(spec, parent_hash, reduction, cost)
    cand.feasible = not self.constraints.violations(cost, spec)
    return cand

  def out_of_budget(self) -> bool:
    return (len(self.trained) >= self.max_candidates
            or time.time() - self.started > self.max_seconds)

  def evaluate(self, cand: Candidate, seeds=None) -> Candidate:
    """Trains `cand` once per seed, reusing finished (hash, seed) rows of the store."""
    seeds = tuple(seeds or self.seeds)
    key = self.submit(cand, seeds)
    if key is not None:
      self._drain(until=key)
    for seed in seeds:
      row = self.store.get(cand.hash, seed)
      if row is not None and row["status"] == "done":
        cand.aucs.append(row["val_auc"])
        cand.losses.append(row["val_loss"])
    self.trained[cand.hash] = cand
    self.on_trained(cand)
    return cand

  def missing(self, cand: Candidate, seeds) -> tuple:
    """The seeds of `seeds` that `cand` lacks in the store."""
    return tuple(seed for seed in seeds
                 if (self.store.get(cand.hash, seed) or {}).get("status") != "done")

  def submit(self, cand: Candidate, seeds) -> tuple | None:
    """Starts the job of `cand`'s missing seeds (once); its key, or None when none is missing."""
    missing = self.missing(cand, seeds)
    if not missing:
      return None
    key = executors.job_key(cand.spec, missing)
    if key not in self._pending:
      self._pending[key] = cand
      self.trainings += len(missing)
      self.executor.submit(cand.spec, missing)
    return key

  def start_ahead(self, cands) -> None:
    """Fills idle workers with the jobs of `cands` (the strategy's next, in its order), never
    planning past `max_candidates`; their results wait in the store until `evaluate`."""
    room = self.executor.workers - len(self._pending)
    planned = len(self.trained) + len({key[0] for key in self._pending})
    for cand in cands:
      if room <= 0 or planned >= self.max_candidates:
        return
      missing = self.missing(cand, self.seeds)
      if missing and executors.job_key(cand.spec, missing) not in self._pending:
        self.submit(cand, missing)
        room -= 1
      planned += 1

  def finish_started(self) -> None:
    """Waits for the jobs started ahead and stores them (a resumed search reuses them)."""
    self.refill = lambda: None
    while self._pending:
      self._drain(until=next(iter(self._pending)))

  def _drain(self, until: tuple) -> None:
    """Stores every finished job's results and refills the workers freed, until `until`'s job
    is done."""
    while until in self._pending:
      for key, outcome in self.executor.collect(until):
        self._store(self._pending.pop(key), key[1], outcome)
      self.refill()

  def _store(self, cand: Candidate, seeds: tuple, outcome) -> None:
    base = dict(hash=cand.hash, name=cand.spec.name, spec_json=cand.spec.to_json(None),
                parent_hash=cand.parent_hash, reduction=cand.reduction, macs=cand.cost.macs,
                other_ops=cand.cost.other_ops, params=cand.cost.params,
                peak_ram_bytes=cand.cost.peak_activation_bytes("int8"),
                weight_bytes=cand.cost.param_bytes("int8"), epochs=self.epochs)
    if isinstance(outcome, BaseException):   # one bad candidate must not end the search
      logging.warning("candidate %s seeds %s failed: %s", cand.spec.name, seeds, outcome)
      for seed in seeds:
        self.store.put(**base, seed=seed, status="failed",
                       error="".join(traceback.format_exception_only(outcome)))
      return
    for seed, result in zip(seeds, outcome):
      self.store.put(**base, seed=seed, status="done", val_auc=result["val_auc"],
                     val_loss=result["val_loss"], train_seconds=result["seconds"])

"""The reduction search: the report's Algorithm 1, and a best-first default that fixes its faults.

Quality cut-off (report section 4.1): beta = 0.5 + 0.8 x (AUC0 - 0.5), AUC0 the baseline's val AUC.
A candidate is *feasible* when it meets every constraint set in the config: MACs <= budget (the
report's 1.38 M "ops"), peak activation RAM and weight flash within the board's limits.

Modes:
  * `algorithm1`: the report's procedure as written: depth-first over `reductions()`, one short
    training per candidate, prune below beta, stop at the first feasible candidate above beta.
  * `best_first` (default): explores the reduction graph in an A*-like order (see `_priority`),
    with MAC bands taking turns (`_in_turn`), never trains one architecture twice (canonical
    spec hash), trains each candidate with several seeds and decides on mean - margin x
    standard error, keeps going after the first success until its candidate/time budget is
    spent, and returns the Pareto front of val quality vs MACs, RAM and flash. Candidates far
    above the budget are expanded without training (their quality is taken from their parent),
    so no time goes into training nets that cannot be chosen.

Trainings run through an executor (executors.py: in this process, or as Ray tasks), so the
algorithms are independent of how and where a candidate is trained (short real trainings in
`experiments.search`; tests also drive them with synthetic quality functions). With several
workers, best-first starts the next candidates in its order while one trains, and commits each
result only when the order reaches it: it trains and chooses exactly what one worker would.
"""

from __future__ import annotations

import bisect
import collections
import dataclasses
import json
import math
import time
import traceback
from typing import Callable, NamedTuple

import numpy as np
from absl import logging

from smile_jax.cost import board, ops as ops_lib
from smile_jax.models import spec as spec_lib
from smile_jax.search import executors, reductions as reductions_lib
from smile_jax.search.store import RunStore

Trainer = Callable[[spec_lib.ModelSpec, int], dict]


@dataclasses.dataclass(frozen=True)
class Constraints:
  budget_macs: int = 1_380_000
  max_peak_ram_bytes: int = 0       # 0 = unconstrained
  max_flash_bytes: int = 0
  weight_dtype: str = "int8"        # what flash and RAM are measured in on the device
  max_latency_ms: float = 0.0       # 0 = unconstrained; else by the apollo3-emulated profile
  # The profile's estimate is raised by this fraction before it meets max_latency_ms, so a net it
  # under-predicts still ships within the limit once compiled (configs/search.py).
  latency_margin: float = 0.0

  def violations(self, cost: ops_lib.ModelCost,
                 spec: spec_lib.ModelSpec | None = None) -> list[str]:
    """Why a net does not fit the constraints (empty when it does). Flash and latency are the
    board estimates of cost/board.py and need `spec`; without it flash is the weights alone."""
    out = []
    if self.max_latency_ms and spec is not None:
      latency = board.estimated_latency_ms(spec)
      if latency is None:
        raise KeyError(
            "max_latency_ms needs the apollo3-emulated profile: run `python -m "
            "experiments.fit_latency`"
        )
      if latency * (1 + self.latency_margin) > self.max_latency_ms:
        margin = f" (+{self.latency_margin:.0%} margin)" if self.latency_margin else ""
        out.append(f"est. latency {latency:.1f} ms{margin} > {self.max_latency_ms:.1f} ms")
    if cost.macs > self.budget_macs:
      out.append(f"MACs {cost.macs:,} > {self.budget_macs:,}")
    ram = cost.peak_activation_bytes(self.weight_dtype)
    if self.max_peak_ram_bytes and ram > self.max_peak_ram_bytes:
      out.append(f"peak RAM {ram:,} B > {self.max_peak_ram_bytes:,} B")
    flash = (board.estimated_flash_bytes(spec) if spec is not None
             else cost.param_bytes(self.weight_dtype))
    if self.max_flash_bytes and flash > self.max_flash_bytes:
      out.append(f"flash {flash:,} B > {self.max_flash_bytes:,} B")
    return out

  def overshoot(self, spec: spec_lib.ModelSpec) -> float:
    """How far past its tightest limit a net is: the largest of cost / limit over MACs and the
    limits that are set (estimated latency, flash, peak RAM; cost/board.py); below 1 it fits."""
    costs = board.board_cost(spec)
    ratios = [costs.macs / self.budget_macs]
    latency = None if costs.latency_ms is None else costs.latency_ms * (1 + self.latency_margin)
    for value, limit in ((latency, self.max_latency_ms),
                         (costs.flash_bytes, self.max_flash_bytes),
                         (costs.peak_ram_bytes, self.max_peak_ram_bytes)):
      if limit and value is not None:
        ratios.append(value / limit)
    return max(ratios)


@dataclasses.dataclass
class Candidate:
  spec: spec_lib.ModelSpec
  parent_hash: str | None
  reduction: str
  cost: ops_lib.ModelCost
  aucs: list[float] = dataclasses.field(default_factory=list)
  losses: list[float] = dataclasses.field(default_factory=list)
  feasible: bool = False

  @property
  def hash(self) -> str:
    return self.spec.canonical_hash()

  @property
  def mean_auc(self) -> float:
    return float(np.mean(self.aucs)) if self.aucs else float("nan")

  def score(self, margin: float) -> float:
    """Mean val AUC minus `margin` standard errors (plain mean with a single seed)."""
    return self.mean_auc - margin * standard_error(self.aucs)

  def row(self) -> dict:
    costs = board.board_cost(self.spec)
    return {
        "name": self.spec.name,
        "hash": self.hash,
        "parent": self.parent_hash,
        "reduction": self.reduction,
        "macs": self.cost.macs,
        "peak_ram_bytes": costs.peak_ram_bytes,
        "flash_bytes": costs.flash_bytes,
        "est_latency_ms_48mhz": costs.latency_ms,
        # Short trainings; a retrained finalist's row adds the full run's `val_auc`, `test_auc`.
        "short_val_auc": self.mean_auc,
        "short_val_aucs": list(self.aucs),
        "feasible": self.feasible,
        "spec": self.spec.to_dict()
    }


def quality_cutoff(baseline_auc: float, keep: float = 0.8) -> float:
  return 0.5 + keep * (baseline_auc - 0.5)


def standard_error(values) -> float:
  """The standard error of the mean of `values` (0 with fewer than two)."""
  if len(values) < 2:
    return 0.0
  return float(np.std(values, ddof=1)) / math.sqrt(len(values))


def board_costs(cand: Candidate) -> tuple:
  """(MACs, peak RAM, estimated flash, estimated latency or 0): what the front trades off."""
  costs = board.board_cost(cand.spec)
  return (costs.macs, costs.peak_ram_bytes, costs.flash_bytes, costs.latency_ms or 0.0)


def pareto_front(cands: list[Candidate], margin: float) -> list[Candidate]:
  """Candidates no other beats on score while costing no more MACs, RAM, flash or latency."""
  keys = {id(cand): board_costs(cand) for cand in cands}

  def dominates(other: Candidate, cand: Candidate) -> bool:
    no_worse = all(a <= b for a, b in zip(keys[id(other)], keys[id(cand)]))
    better = keys[id(other)] != keys[id(cand)] or other.score(margin) > cand.score(margin)
    return other is not cand and no_worse and other.score(margin) >= cand.score(margin) and better

  front = [cand for cand in cands if not any(dominates(other, cand) for other in cands)]
  return sorted(front, key=lambda cand: cand.cost.macs)


def one_se_choice(cands: list[Candidate], count: int = 1) -> list[Candidate]:
  """The one-standard-error rule: the cheapest candidate (estimated latency, then flash, then
  MACs) whose mean val AUC is within one standard error of the best mean's, so a tie within the
  seeds' noise goes to the smaller net. With `count` > 1 the next are the others within that
  standard error, cheapest first, then the rest by mean val AUC: the finalists a full training
  judges again (short training ranks the good nets poorly: WORKSPACE.md, the proxy's quality)."""
  trained = [cand for cand in cands if cand.aucs]
  if not trained:
    return []
  best = max(trained, key=lambda cand: cand.mean_auc)
  error = standard_error(best.aucs)

  def order(cand: Candidate) -> tuple:
    macs, _, flash, latency = board_costs(cand)
    if cand.mean_auc >= best.mean_auc - error:
      return 0, latency, flash, macs
    return 1, -cand.mean_auc, 0.0, 0
  return sorted(trained, key=order)[:count]


def mac_band(macs: int, bands: tuple) -> int:
  """The MAC band of a net: `bands` are the bands' upper bounds below the budget, 0 the
  cheapest band, len(bands) the budget's and any above it; a net of exactly a bound is in the
  band below it."""
  return bisect.bisect_left(sorted(bands), macs)


def banded_choice(cands: list[Candidate], bands: tuple = (), count: int = 1) -> list[Candidate]:
  """`one_se_choice(count)` within each MAC band (`mac_band`), so the finalists span the front's
  costs instead of crowding next to its best net; no bands: `one_se_choice` over all."""
  return [cand for band in range(len(bands) + 1)
          for cand in one_se_choice([c for c in cands if mac_band(c.cost.macs, bands) == band],
                                    count)]


class Queued(NamedTuple):
  """A net waiting in best-first's queue; ordered by priority (lower first), then arrival."""
  priority: float
  counter: int
  spec: spec_lib.ModelSpec
  parent_hash: str
  reduction: str
  parent_quality: float
  band: int           # mac_band
  hash: str
  expand_only: bool   # over `train_above_budget`: expanded, never trained


class Search:
  """Runs either mode over one run store; see the module docstring."""

  def __init__(self, executor, store: RunStore, constraints: Constraints, *, seeds=(0,),
               margin: float = 1.0, epochs: int = 0, train_above_budget: float = 4.0,
               max_candidates: int = 1000, max_seconds: float = float("inf"), on_trained=None,
               moves: str = "report", bands: tuple = ()):
    """`executor`: an executors.py executor, or a `Trainer` run in this process. `bands`: MAC
    bounds below the budget whose nets best-first explores as it does those near the budget,
    each band taking its share of the candidates (`_in_turn`)."""
    if callable(executor):
      executor = executors.LocalExecutor(executor)
    self.executor, self.store, self.constraints = executor, store, constraints
    self.moves = moves        # reductions.MOVES: the report's reductions, or the wider moves too
    self.seeds, self.margin, self.epochs = tuple(seeds), margin, epochs
    self.bands = tuple(sorted(bands))
    self.train_above_budget = train_above_budget
    self.max_candidates, self.max_seconds = max_candidates, max_seconds
    self.on_trained = on_trained or (lambda cand: None)
    self.trained: dict[str, Candidate] = {}
    self.trainings = 0        # trainings run by this process (not restored from the store)
    self.started = time.time()
    self._pending: dict[tuple, Candidate] = {}   # job key -> candidate, while a job is out
    self._refill = lambda: None   # best-first: start the next candidates on idle workers

  # -- evaluating one candidate --------------------------------------------------------------
  def make(self, spec, parent_hash=None, reduction="") -> Candidate:
    cost = ops_lib.analyze(spec)
    cand = Candidate(spec, parent_hash, reduction, cost)
    cand.feasible = not self.constraints.violations(cost, spec)
    return cand

  def evaluate(self, cand: Candidate, seeds=None) -> Candidate:
    """Trains `cand` once per seed, reusing finished (hash, seed) rows of the store."""
    seeds = tuple(seeds or self.seeds)
    keys = [self._submit(cand, group) for group in self._jobs(cand, seeds)]
    for key in keys:
      self._drain(until=key)
    for seed in seeds:
      row = self.store.get(cand.hash, seed)
      if row is not None and row["status"] == "done":
        cand.aucs.append(row["val_auc"])
        cand.losses.append(row["val_loss"])
    self.trained[cand.hash] = cand
    self.on_trained(cand)
    return cand

  def _jobs(self, cand: Candidate, seeds) -> list[tuple]:
    """The seeds `cand` still lacks in the store, as jobs: all together or one seed a job."""
    missing = tuple(seed for seed in seeds
                    if (self.store.get(cand.hash, seed) or {}).get("status") != "done")
    if not missing:
      return []
    return [missing] if self.executor.together else [(seed,) for seed in missing]

  def _submit(self, cand: Candidate, seeds: tuple) -> tuple:
    key = executors.job_key(cand.spec, seeds)
    if key not in self._pending:
      self._pending[key] = cand
      self.trainings += len(seeds)
      self.executor.submit(cand.spec, seeds)
    return key

  def _drain(self, until: tuple) -> None:
    """Stores every finished job's results (each durable at once) and refills the workers freed
    (`self._refill`), until `until`'s job is done."""
    while until in self._pending:
      for key, outcome in self.executor.collect(until):
        self._store(self._pending.pop(key), key[1], outcome)
      self._refill()

  def _store(self, cand: Candidate, seeds: tuple, outcome) -> None:
    base = dict(hash=cand.hash, name=cand.spec.name, spec_json=cand.spec.to_json(None),
                parent_hash=cand.parent_hash, reduction=cand.reduction, macs=cand.cost.macs,
                other_ops=cand.cost.other_ops, params=cand.cost.params,
                peak_ram_bytes=cand.cost.peak_activation_bytes("int8"),
                flash_bytes=cand.cost.param_bytes("int8"), epochs=self.epochs)
    if isinstance(outcome, BaseException):   # one bad candidate must not end the search
      logging.warning("candidate %s seeds %s failed: %s", cand.spec.name, seeds, outcome)
      for seed in seeds:
        self.store.put(**base, seed=seed, status="failed",
                       error="".join(traceback.format_exception_only(outcome)))
      return
    for seed, result in zip(seeds, outcome):
      self.store.put(**base, seed=seed, status="done", val_auc=result["val_auc"],
                     val_loss=result["val_loss"], train_seconds=result.get("seconds"))

  def _start_ahead(self, queue: list) -> None:
    """Fills idle workers with the next candidates in best-first order (their results wait in the
    store until the order reaches them), never planning past `max_candidates`."""
    room = self.executor.workers - len(self._pending)
    planned = len(self.trained) + len({key[0] for key in self._pending})
    for entry in self._in_turn(queue):
      if room <= 0 or planned >= self.max_candidates:
        return
      if entry.hash in self.trained or entry.expand_only:
        continue
      cand = self.make(entry.spec, entry.parent_hash, entry.reduction)
      jobs = [job for job in self._jobs(cand, self.seeds)
              if executors.job_key(entry.spec, job) not in self._pending]
      for job in jobs[:room]:
        self._submit(cand, job)
      room -= len(jobs[:room])
      planned += 1

  def out_of_budget(self) -> bool:
    return (len(self.trained) >= self.max_candidates
            or time.time() - self.started > self.max_seconds)

  # -- the report's Algorithm 1 --------------------------------------------------------------
  def algorithm1(self, root: spec_lib.ModelSpec, beta: float) -> Candidate | None:
    """Depth-first, stop at the first feasible candidate with val AUC >= beta (report 4.1)."""
    def recurse(cand: Candidate) -> Candidate | None:
      if self.out_of_budget():
        return None
      if cand.hash in self.trained:
        cand = self.trained[cand.hash]
      else:
        self.evaluate(cand, self.seeds[:1])
      if not cand.aucs or cand.mean_auc < beta:
        return None
      if cand.feasible:
        return cand
      for option in reductions_lib.valid(cand.spec, self.moves):
        found = recurse(self.make(option.spec, cand.hash, option.description))
        if found is not None:
          return found
      return None
    return recurse(self.make(root, None, "baseline"))

  # -- the default: best-first -----------------------------------------------------------------
  def _gap(self, spec: spec_lib.ModelSpec) -> float:
    """The constraints' overshoot, or for a net that fits, cost / the nearest of the limits and
    band bounds above it: each band's dearest nets come first, as the budget's do."""
    overshoot = self.constraints.overshoot(spec)
    macs = spec_lib.total_macs(spec)
    above = [macs / bound for bound in self.bands if bound >= macs]
    return max([overshoot] + above) if overshoot <= 1 else overshoot

  def _in_turn(self, queue: list[Queued]) -> list[Queued]:
    """`queue`'s entries in the order best-first takes them: by priority, except that with
    `bands` the next is the first of the band with the fewest candidates trained so far (the
    dearest band on a tie), so each band of the front gets its share of the candidates: a root
    with many reductions near the budget would otherwise spend them all there. Nets expanded
    without training take no share."""
    ordered = sorted(queue)
    if not self.bands:
      return ordered
    by_band = collections.defaultdict(list)
    for entry in reversed(ordered):           # each band's list ends with its first entry
      by_band[entry.band].append(entry)
    shares = collections.Counter(mac_band(cand.cost.macs, self.bands)
                                 for cand in self.trained.values())
    out = []
    while by_band:
      band = min(by_band, key=lambda band: (shares[band], -band))
      entry = by_band[band].pop()
      if not by_band[band]:
        del by_band[band]
      shares[band] += entry.hash not in self.trained and not entry.expand_only
      out.append(entry)
    return out

  def _priority(self, overshoot: float, parent_quality: float, beta: float) -> float:
    """Lower first. Distance to the tightest limit in halvings (an admissible count of the
    reductions still needed, each at most /4 ~ 2 halvings, so /2), minus how far the parent
    cleared beta. Nets under every limit count their distance too, so the cheaper nets of the
    front come after those near the limit, not never."""
    halvings = abs(math.log2(max(overshoot, 1e-9))) / 2.0
    return halvings - 4.0 * (parent_quality - beta) / max(1e-6, 1.0 - beta)

  def best_first(self, root: spec_lib.ModelSpec, beta: float,
                 root_quality: float) -> list[Candidate]:
    """Explores until the candidate/time budget is spent; returns every trained candidate."""
    seen = {root.canonical_hash()}
    queue: list[Queued] = []
    counter = 0

    def push_children(spec, parent_hash, quality):
      nonlocal counter
      for option in reductions_lib.valid(spec, self.moves):
        child_hash = option.spec.canonical_hash()
        if child_hash not in seen:
          seen.add(child_hash)
          counter += 1
          queue.append(Queued(
              self._priority(self._gap(option.spec), quality, beta), counter, option.spec,
              parent_hash, option.description, quality,
              mac_band(spec_lib.total_macs(option.spec), self.bands), child_hash,
              self.constraints.overshoot(option.spec) > self.train_above_budget))

    push_children(root, root.canonical_hash(), root_quality)
    while queue and not self.out_of_budget():
      entry = self._in_turn(queue)[0]
      queue.remove(entry)
      spec = entry.spec
      if entry.expand_only:   # too big to choose
        push_children(spec, entry.hash, entry.parent_quality)
        continue
      cand = self.make(spec, entry.parent_hash, entry.reduction)
      if self.executor.workers > 1:
        for job in self._jobs(cand, self.seeds):
          self._submit(cand, job)
        self._refill = lambda: self._start_ahead(queue)
        self._refill()
      cand = self.evaluate(cand)
      if cand.aucs and cand.score(self.margin) >= beta:
        push_children(spec, cand.hash,
                      cand.score(self.margin))  # reductions only lose quality: prune below beta
    self._refill = lambda: None
    while self._pending:   # trainings started ahead: keep what they cost (a resume reuses them)
      self._drain(until=next(iter(self._pending)))
    return list(self.trained.values())

  # -- toward a cost no trained candidate meets ----------------------------------------------
  def toward(self, fits, beta: float) -> Candidate | None:
    """Short-trains the first untrained feasible reduction that `fits` (a predicate on a
    Candidate, e.g. no costlier than a reference on one plane) of the trained candidates that
    cleared `beta`, the best by short val AUC first, then of the reductions of the best three;
    the candidate, or None when none fits. Outside `max_candidates`: it answers a cost that
    best-first's order did not reach."""
    parents = sorted((cand for cand in self.trained.values()
                      if cand.aucs and cand.score(self.margin) >= beta),
                     key=lambda cand: -cand.mean_auc)
    children = [reductions_lib.valid(cand.spec, self.moves) for cand in parents]
    grandchildren = [(option.spec, reductions_lib.valid(option.spec, self.moves))
                     for options in children[:3] for option in options]
    levels = [(cand.spec, options) for cand, options in zip(parents, children)] + grandchildren
    for parent, options in levels:
      for option in options:
        cand = self.make(option.spec, parent.canonical_hash(), option.description)
        if cand.hash not in self.trained and cand.feasible and fits(cand):
          return self.evaluate(cand)
    return None


def summary_rows(cands: list[Candidate]) -> str:
  return json.dumps([c.row() for c in cands], indent=1)

"""A searched net and its short trainings, and how the search ranks and picks among them.

`Candidate` is one architecture with its val AUCs over seeds (4-epoch trainings of the search
recipe). The picks: the Pareto front of quality against the board costs, and the
one-standard-error rule (the cheapest net within one SE of the best mean), per MAC band when the
front is cut into bands so that its finalists span the costs.
"""

from __future__ import annotations

import bisect
import dataclasses
import math

import numpy as np

from smile_jax.cost import board, ops as ops_lib
from smile_jax.models import spec as spec_lib


def standard_error(values) -> float:
  """The standard error of the mean of `values` (0 with fewer than two)."""
  if len(values) < 2:
    return 0.0
  return float(np.std(values, ddof=1)) / math.sqrt(len(values))


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
    """The candidate as summary.json holds it; a finalist's adds its full runs (full_training)."""
    return {
        "name": self.spec.name,
        "hash": self.hash,
        "parent": self.parent_hash,
        "reduction": self.reduction,
        "short_val_auc": self.mean_auc,
        "short_val_aucs": list(self.aucs),
        "feasible": self.feasible,
        "spec": self.spec.to_dict()
    } | board.board_cost(self.spec).to_dict()


def board_costs(cand: Candidate) -> tuple:
  """(MACs, peak RAM, estimated flash, estimated latency or 0): what the front trades off."""
  costs = board.board_cost(cand.spec)
  return (costs.macs, costs.peak_ram_bytes, costs.est_flash_bytes, costs.latency_ms or 0.0)


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
  judges again (short training ranks the good nets poorly: RESULTS.md, "the search")."""
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

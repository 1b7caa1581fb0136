"""Best-first search over the reduction graph: the default strategy, which fixes Algorithm 1's
faults.

It explores in an A*-like order (`priority`: distance to the tightest limit in halvings, less
how far the parent cleared the cut-off), never trains one architecture twice (canonical spec
hash), decides on mean - margin x standard error over several seeds, keeps going after the first
success until its candidate budget is spent, and with MAC bands lets each band take its turn
(`in_turn`), so the front's cheap end is explored as its dear end is. Nets far above the budget
are expanded without training (their quality is taken from their parent): no time goes into
training nets that cannot be chosen. `toward` looks for a net under a cost no trained candidate
meets (a reference net's, judging.py).
"""

from __future__ import annotations

import collections
import math
from typing import NamedTuple

from smile_jax.models import spec as spec_lib
from smile_jax.search import reductions
from smile_jax.search.candidates import Candidate, mac_band
from smile_jax.search.scheduler import Scheduler


class Queued(NamedTuple):
  """A net waiting in the queue; ordered by priority (lower first), then arrival."""
  priority: float
  counter: int
  spec: spec_lib.ModelSpec
  parent_hash: str
  reduction: str
  parent_quality: float
  band: int           # mac_band
  hash: str
  expand_only: bool   # over `train_above_budget`: expanded, never trained


def priority(overshoot: float, parent_quality: float, beta: float) -> float:
  """Lower first. Distance to the tightest limit in halvings (an admissible count of the
  reductions still needed, each at most /4 ~ 2 halvings, so /2), minus how far the parent
  cleared beta. Nets under every limit count their distance too, so the cheaper nets of the
  front come after those near the limit, not never."""
  halvings = abs(math.log2(max(overshoot, 1e-9))) / 2.0
  return halvings - 4.0 * (parent_quality - beta) / max(1e-6, 1.0 - beta)


class BestFirst:
  """`margin`: standard errors off the mean a candidate must clear beta by to be expanded;
  `moves`: reductions.MOVES; `bands`: MAC bounds below the budget whose nets are explored as
  those near the budget are, each band taking its share of the candidates; nets over
  `train_above_budget` x the constraints are expanded, never trained."""

  def __init__(self, scheduler: Scheduler, *, margin: float, moves: str, bands: tuple,
               train_above_budget: float):
    self.scheduler, self.margin, self.moves = scheduler, margin, moves
    self.bands = tuple(sorted(bands))
    self.train_above_budget = train_above_budget

  def gap(self, spec: spec_lib.ModelSpec) -> float:
    """The constraints' overshoot, or for a net that fits, cost / the nearest of the limits and
    band bounds above it: each band's dearest nets come first, as the budget's do."""
    overshoot = self.scheduler.constraints.overshoot(spec)
    macs = spec_lib.total_macs(spec)
    above = [macs / bound for bound in self.bands if bound >= macs]
    return max([overshoot] + above) if overshoot <= 1 else overshoot

  def in_turn(self, queue: list[Queued]) -> list[Queued]:
    """`queue`'s entries in the order they are taken: by priority, except that with `bands` the
    next is the first of the band with the fewest candidates trained so far (the dearest band
    on a tie), so each band of the front gets its share of the candidates: a root with many
    reductions near the budget would otherwise spend them all there. Nets expanded without
    training take no share."""
    ordered = sorted(queue)
    if not self.bands:
      return ordered
    trained = self.scheduler.trained
    by_band = collections.defaultdict(list)
    for entry in reversed(ordered):           # each band's list ends with its first entry
      by_band[entry.band].append(entry)
    shares = collections.Counter(mac_band(cand.cost.macs, self.bands)
                                 for cand in trained.values())
    out = []
    while by_band:
      band = min(by_band, key=lambda band: (shares[band], -band))
      entry = by_band[band].pop()
      if not by_band[band]:
        del by_band[band]
      shares[band] += entry.hash not in trained and not entry.expand_only
      out.append(entry)
    return out

  def _start_ahead(self, queue: list[Queued]) -> None:
    trained = self.scheduler.trained
    self.scheduler.start_ahead(
        self.scheduler.make(entry.spec, entry.parent_hash, entry.reduction)
        for entry in self.in_turn(queue)
        if entry.hash not in trained and not entry.expand_only)

  def run(self, root: spec_lib.ModelSpec, beta: float, root_quality: float) -> list[Candidate]:
    """Explores until the candidate budget is spent; returns every trained candidate."""
    scheduler = self.scheduler
    seen = {root.canonical_hash()}
    queue: list[Queued] = []

    def push_children(spec, parent_hash, quality):
      for option in reductions.valid(spec, self.moves):
        child_hash = option.spec.canonical_hash()
        if child_hash not in seen:
          seen.add(child_hash)
          queue.append(Queued(
              priority(self.gap(option.spec), quality, beta), len(seen), option.spec,
              parent_hash, option.description, quality,
              mac_band(spec_lib.total_macs(option.spec), self.bands), child_hash,
              scheduler.constraints.overshoot(option.spec) > self.train_above_budget))

    push_children(root, root.canonical_hash(), root_quality)
    while queue and not scheduler.out_of_budget():
      entry = self.in_turn(queue)[0]
      queue.remove(entry)
      if entry.expand_only:   # too big to choose
        push_children(entry.spec, entry.hash, entry.parent_quality)
        continue
      cand = scheduler.make(entry.spec, entry.parent_hash, entry.reduction)
      if scheduler.executor.workers > 1:
        scheduler.submit(cand, scheduler.seeds)
        scheduler.refill = lambda: self._start_ahead(queue)
        scheduler.refill()
      cand = scheduler.evaluate(cand)
      if cand.aucs and cand.score(self.margin) >= beta:
        # Reductions only lose quality: prune below beta.
        push_children(entry.spec, cand.hash, cand.score(self.margin))
    scheduler.finish_started()
    return list(scheduler.trained.values())

  def toward(self, fits, beta: float) -> Candidate | None:
    """Short-trains the first untrained feasible reduction that `fits` (a predicate on a
    Candidate, e.g. no costlier than a reference on one plane) of the trained candidates that
    cleared `beta`, the best by short val AUC first, then of the reductions of the best three;
    the candidate, or None when none fits. Outside `max_candidates`: it answers a cost that
    the best-first order did not reach."""
    scheduler = self.scheduler
    parents = sorted((cand for cand in scheduler.trained.values()
                      if cand.aucs and cand.score(self.margin) >= beta),
                     key=lambda cand: -cand.mean_auc)
    children = [reductions.valid(cand.spec, self.moves) for cand in parents]
    grandchildren = [(option.spec, reductions.valid(option.spec, self.moves))
                     for options in children[:3] for option in options]
    levels = [(cand.spec, options) for cand, options in zip(parents, children)] + grandchildren
    for parent, options in levels:
      for option in options:
        cand = scheduler.make(option.spec, parent.canonical_hash(), option.description)
        if cand.hash not in scheduler.trained and cand.feasible and fits(cand):
          return scheduler.evaluate(cand)
    return None

"""The report's Algorithm 1 as written (section 4.1): depth-first over the reductions.

One short training per candidate (the first seed), prune below the cut-off beta, stop at the
first feasible candidate above it. Without the report's hand-picked order of reductions it halves
the first conv again and again and never reaches the budget (RESULTS.md, "the report's models"):
best_first.py is the default.
"""

from __future__ import annotations

from smile_jax.models import spec as spec_lib
from smile_jax.search import reductions
from smile_jax.search.candidates import Candidate
from smile_jax.search.scheduler import Scheduler


def algorithm1(scheduler: Scheduler, root: spec_lib.ModelSpec, beta: float,
               moves: str) -> Candidate | None:
  """The first feasible candidate with val AUC >= beta, depth first; None when there is none
  within the scheduler's candidate budget."""
  def recurse(cand: Candidate) -> Candidate | None:
    if scheduler.out_of_budget():
      return None
    if cand.hash in scheduler.trained:
      cand = scheduler.trained[cand.hash]
    else:
      scheduler.evaluate(cand, scheduler.seeds[:1])
    if not cand.aucs or cand.mean_auc < beta:
      return None
    if cand.feasible:
      return cand
    for option in reductions.valid(cand.spec, moves):
      found = recurse(scheduler.make(option.spec, cand.hash, option.description))
      if found is not None:
        return found
    return None
  return recurse(scheduler.make(root, None, "baseline"))

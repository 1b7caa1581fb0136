"""Judging searched nets against hand-designed references on the front, from full-training rows.

A row (full_training.py) holds a net's full trainings: val AUC, the figure every verdict reads
(the mean over its seeds, `mean_val_auc`), and its board costs. A searched net *dominates* a
reference on a plane of FRONT_COSTS when its mean val AUC is no lower and that cost and its MACs
no higher (a tie is no loss: the reference's own architecture, found by the search, counts).
Where no finalist dominates a reference, the search answers with a *challenger* (the best
searched net that could), looks *toward* a cost no trained net meets, and settles *near ties*
with more seeds; `choose` ships the one-SE pick over full training. Pure functions: the training
is full_training.py's, the looking best_first.py's.
"""

from __future__ import annotations

import dataclasses
import math

from smile_jax.cost import board
from smile_jax.search import candidates

# The planes the front is judged on: val AUC against each of these costs (a row's fields).
FRONT_COSTS = ("est_latency_ms_48mhz", "est_flash_bytes")


def mean_val_auc(row: dict) -> float:
  """A seeded row's val AUC as the mean over its seeds (the one seed's without `seeds`)."""
  seeds = row.get("seeds") or [row]
  return sum(run["val_auc"] for run in seeds) / len(seeds)


def dominators(reference: dict, finalists: list[dict]) -> dict[str, list[str]]:
  """Per cost of FRONT_COSTS, the names of the finalists (full-training rows) that dominate
  `reference` on the (val AUC, cost) plane: mean val AUC over seeds no lower, that cost and MACs
  no higher. The reference net itself, found by the search, counts: a tie is no loss."""
  return {cost: [row["name"] for row in finalists
                 if mean_val_auc(row) >= mean_val_auc(reference)
                 and no_costlier(row, reference, cost)]
          for cost in FRONT_COSTS}


def no_costlier(costs: dict, reference: dict, cost: str) -> bool:
  """Whether `costs` (a row's, or board.board_cost(...).to_dict()) are no higher than
  `reference`'s in MACs and in `cost` (one of FRONT_COSTS; none counts as 0)."""
  return (costs["macs"] <= reference["macs"]
          and (costs[cost] or 0.0) <= (reference[cost] or 0.0))


def challengers(references: list[dict], judged: list[dict], cands, count: int) -> list:
  """The search's answer to each (reference, plane of FRONT_COSTS) that no full-trained row of
  `judged` dominates: of `cands` (trained, feasible, not yet trained in full) no costlier than
  the reference on that plane and in MACs, the best by short-training val AUC, to be trained in
  full like the finalists and chosen from with them (a reference the finalists miss, e.g. one
  of smaller flash than any finalist, or one short training ranked low, then meets the best net
  that could beat it), and first the reference's own architecture when the search reached it
  (it takes the reference's runs, `retrain_finalists`: no training): short training cannot
  rank nets a few thousandths apart and may rate it below another. One net answering
  several (reference, plane)s is taken once; at most `count` in all, in the order of
  `references` (0: none)."""
  out = []
  for reference in references:
    for cost, names in dominators(reference, judged).items():
      fits = [cand for cand in cands if fits_under(reference, cost)(cand)]
      if names or not fits:
        continue
      own = [cand for cand in fits if cand.hash == reference.get("hash")]
      for cand in own + [max(fits, key=lambda cand: cand.mean_auc)]:
        out += [cand] if cand not in out else []
  return out[:count]


def fits_under(reference: dict, cost: str):
  """A predicate: whether a candidate's board costs are no higher than `reference`'s in MACs
  and in `cost` (one of FRONT_COSTS)."""
  def fits(cand) -> bool:
    return no_costlier(board.board_cost(cand.spec).to_dict(), reference, cost)
  return fits


def unanswered(references: list[dict], judged: list[dict], cands) -> list[tuple[dict, str]]:
  """(reference, cost) for each plane of FRONT_COSTS on which no row of `judged` dominates the
  reference and no candidate of `cands` fits under it (`fits_under`): where the search has yet
  to look (BestFirst.toward)."""
  return [(reference, cost) for reference in references
          for cost, names in dominators(reference, judged).items()
          if not names and not any(fits_under(reference, cost)(cand) for cand in cands)]


def unreached(references: list[dict], judged: list[dict], cands) -> list[dict]:
  """The references that no row of `judged` dominates on some plane of FRONT_COSTS and whose
  own architecture (their `hash`) no candidate of `cands` is: the search may hold it a
  reduction or two from the nets it trained, where best-first's order did not go (a root above
  the budget spends its turns near the bounds). `BestFirst.toward(is_net(reference))` trains it,
  and `challengers` then takes the reference's runs for it."""
  trained = {cand.hash for cand in cands}
  return [reference for reference in references
          if reference.get("hash") not in trained
          and not all(dominators(reference, judged).values())]


def is_net(reference: dict):
  """A predicate: whether a candidate is `reference`'s own architecture."""
  return lambda cand: cand.hash == reference.get("hash")


def near_ties(references: list[dict], judged: list[dict]) -> list[tuple[dict, dict]]:
  """(reference, rival) for each (reference, plane of FRONT_COSTS) that no row of `judged`
  dominates but where the best-by-mean row no costlier on that plane and in MACs (the rival)
  trails it by less than the standard error of the two means' difference (seeds' spread): a
  verdict the seeds' noise could turn, which more seeds should settle (`settle_near_ties`).
  Each pair once."""
  out = []
  for reference in references:
    for cost, names in dominators(reference, judged).items():
      rivals = [row for row in judged if no_costlier(row, reference, cost)]
      if names or not rivals:
        continue
      rival = max(rivals, key=mean_val_auc)
      gap = mean_val_auc(reference) - mean_val_auc(rival)
      if (gap < math.hypot(standard_error(reference), standard_error(rival))
          and (reference, rival) not in out):
        out.append((reference, rival))
  return out


def standard_error(row: dict) -> float:
  """The standard error of a seeded row's mean val AUC (0 with fewer than two seeds)."""
  return candidates.standard_error([run["val_auc"] for run in row.get("seeds") or [row]])


def choose(finalists, finals: dict):
  """The net the search ships: the one-standard-error rule (candidates.one_se_choice) over the
  full-training val AUCs, one per seed, of the finalists (and challengers: searched nets trained
  in full as well), so short training only nominates."""
  judged = [dataclasses.replace(cand, aucs=[run["val_auc"] for run in finals[cand.hash]["seeds"]])
            for cand in finalists]
  picked = candidates.one_se_choice(judged)
  return next(cand for cand in finalists if cand.hash == picked[0].hash) if picked else None

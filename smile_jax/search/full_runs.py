"""The search's full-recipe trainings: the teacher, the finalists and the hand-designed reference
nets, each a finished run directory (train.run.train_evaluate_report) summarised as one row.

A row holds what the front table, Figure 3 and summary.json show: the run directory and seed,
val and test AUC (`val_auc` is the figure choices are made on: the mean over datasets when the
split mixes several, evaluate.choice_auc), and per dataset when there are several; a finalist's
or a reference's is its best val seed's, with every seed's AUCs in `seeds`. Test figures are
reported, never used to choose. Every run resumes from its checkpoints, so a killed search
loses at most one epoch of one of them.
"""

from __future__ import annotations

import dataclasses
import math
import os

from smile_jax.train import run as run_lib
from smile_jax.cost import board
from smile_jax.eval import evaluate
from smile_jax.models import spec as spec_lib, zoo
from smile_jax.search import search as search_lib
from smile_jax.train import distill


def full_recipe(config):
  """The run recipe candidates and finalists train with: `config.run` with `config.search.recipe`
  (nested overrides, may be empty) applied on top."""
  cfg = config.run.copy_and_resolve_references()
  cfg.update(config.search.get("recipe", {}))
  return cfg


def full_run(cfg, run_dir: str, spec: spec_lib.ModelSpec, data) -> dict:
  """One training with recipe `cfg`, evaluated on val and test; its row (module docstring)."""
  summary = run_lib.train_evaluate_report(cfg, run_dir, spec=spec, data=data).summary
  val, test = evaluate.split_row(summary, "val"), evaluate.split_row(summary, "test")
  row = {"name": spec.name, "run_dir": os.path.abspath(run_dir), "seed": cfg.train.seed,
         "val_auc": evaluate.choice_auc(val), "test_auc": evaluate.choice_auc(test),
         "val_auc_pooled": val["auc"], "test_auc_pooled": test["auc"]}
  if "auc_by_dataset" in val:
    row |= {"val_auc_by_dataset": val["auc_by_dataset"],
            "test_auc_by_dataset": test["auc_by_dataset"]}
  return row


# What a row keeps of each seed's run (`seeded_runs`): the spread the tables show.
SEED_KEYS = ("seed", "val_auc", "test_auc", "val_auc_by_dataset", "test_auc_by_dataset")


def seeded_runs(config, run_dir: str, spec: spec_lib.ModelSpec, data, seeds: int) -> dict:
  """`seeds` full-recipe trainings of `spec` (in run_dir, run_dir_s1, ...): the row of the seed
  with the best val AUC (the one shipped), with `seeds`, every seed's AUCs (SEED_KEYS)."""
  best, per_seed = None, []
  for seed in range(seeds):
    cfg = full_recipe(config)
    cfg.train.seed = seed
    row = full_run(cfg, run_dir + (f"_s{seed}" if seed else ""), spec, data)
    per_seed.append({key: row[key] for key in SEED_KEYS if key in row})
    if best is None or row["val_auc"] > best["val_auc"]:
      best = row
  return best | {"seeds": per_seed, "run_base": os.path.abspath(run_dir)}


def mean_val_auc(row: dict) -> float:
  """A seeded row's val AUC as the mean over its seeds (the one seed's without `seeds`)."""
  seeds = row.get("seeds") or [row]
  return sum(run["val_auc"] for run in seeds) / len(seeds)


# The planes the front is judged on: val AUC against each of these costs (a row's fields).
FRONT_COSTS = ("est_latency_ms_48mhz", "flash_bytes")


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
  to look (search.Search.toward)."""
  return [(reference, cost) for reference in references
          for cost, names in dominators(reference, judged).items()
          if not names and not any(fits_under(reference, cost)(cand) for cand in cands)]


def unreached(references: list[dict], judged: list[dict], cands) -> list[dict]:
  """The references that no row of `judged` dominates on some plane of FRONT_COSTS and whose
  own architecture (their `hash`) no candidate of `cands` is: the search may hold it a
  reduction or two from the nets it trained, where best-first's order did not go (a root above
  the budget spends its turns near the bounds). `Search.toward(is_net(reference))` trains it,
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
  return search_lib.standard_error([run["val_auc"] for run in row.get("seeds") or [row]])


def settle_near_ties(config, data_for, references: list[dict], judged: list[dict],
                     seeds: int) -> dict[str, dict]:
  """Both sides of each near tie (`near_ties`) of `references` with `judged` (rows with their
  `hash`) trained on to `seeds` seeds where they were trained (`run_base`; the seeds they have
  resume as finished runs): hash -> the `seeded_runs` fields to update every row of that net
  with (a row's name and costs stay). Empty with `seeds` 0 or no near tie."""
  todo = {}
  for pair in near_ties(references, judged) if seeds else ():
    for row in pair:
      if len(row.get("seeds") or [row]) < seeds:
        todo.setdefault(row["hash"], row)
  out = {}
  for spec_hash, row in todo.items():
    spec = distill.read_spec(row["run_base"])
    out[spec_hash] = seeded_runs(config, row["run_base"], spec, data_for(spec), seeds)
    del out[spec_hash]["name"]
  return out


def same_net_runs(trained: dict, spec_hash: str, name: str, seeds: int) -> dict | None:
  """The row of `trained` (hash -> `seeded_runs` row) for this architecture, if it has `seeds`
  seeds or more, under `name` and naming the net it was trained as (`same_net_as`): the same
  recipe and seeds would train the same weights again. None when there is none."""
  row = trained.get(spec_hash)
  if row is None or len(row["seeds"]) < seeds:
    return None
  return row | {"name": name, "same_net_as": row["name"]}


def retrain_finalists(config, workdir: str, data_for, finalists,
                      trained: dict | None = None) -> dict:
  """Full-recipe retraining of each finalist, `search.finalist_seeds` times: hash -> its
  `seeded_runs` row, or the row of the same architecture in `trained` (hash -> row, e.g. the
  references'; `same_net_runs`)."""
  seeds = config.search.get("finalist_seeds", 1)
  return {cand.hash: same_net_runs(trained or {}, cand.hash, cand.spec.name, seeds)
          or seeded_runs(config, os.path.join(workdir, "finalists", cand.hash), cand.spec,
                         data_for(cand.spec), seeds)
          for cand in finalists}


def choose(finalists, finals: dict):
  """The net the search ships: the one-standard-error rule (search.one_se_choice) over the
  full-training val AUCs, one per seed, of the finalists (and challengers: searched nets trained
  in full as well), so short training only nominates."""
  judged = [dataclasses.replace(cand, aucs=[run["val_auc"] for run in finals[cand.hash]["seeds"]])
            for cand in finalists]
  picked = search_lib.one_se_choice(judged)
  return next(cand for cand in finalists if cand.hash == picked[0].hash) if picked else None


def train_references(config, workdir: str, data_for, input_shape,
                     finals: dict | None = None) -> list[dict]:
  """The hand-designed nets of `search.references` (zoo names), full recipe,
  `search.reference_seeds` seeds, each with its board costs: the markers the front is judged
  against; a reference whose architecture `finals` (hash -> `seeded_runs` row, e.g. the
  finalists') holds takes that row (`same_net_runs`)."""
  rows = []
  seeds = config.search.get("reference_seeds", 1)
  for name in config.search.get("references", ()):
    spec = zoo.get(name, input_shape)
    spec_hash = spec.canonical_hash()
    row = (same_net_runs(finals or {}, spec_hash, name, seeds)
           or seeded_runs(config, os.path.join(workdir, "references", name), spec,
                          data_for(spec), seeds))
    rows.append(row | {"hash": spec_hash} | board.board_cost(spec).to_dict())
  return rows


def train_teacher(config, workdir: str, data) -> dict | None:
  """The teacher stage: `search.teacher.model` trained with the full recipe and the teacher's own
  overrides `search.teacher.recipe` (no distillation of its own) for `search.teacher.epochs`, or
  the trained run at `search.teacher.run_dir`; its logits on the train split stored for the
  students (distill.py). None when there is none."""
  tcfg = config.search.get("teacher", {})
  if not tcfg or not (tcfg.get("model") or tcfg.get("run_dir")):
    return None
  cfg = full_recipe(config)
  cfg.update(tcfg.get("recipe", {}))
  cfg.train.update({"teacher": "", "distill_weight": 0.0, "epochs": tcfg.get("epochs", 20)})
  run_dir = tcfg.get("run_dir") or os.path.join(workdir, "teacher")
  if tcfg.get("run_dir"):
    spec = distill.read_spec(run_dir)
  else:
    spec = zoo.get(tcfg.model, data.train.images.shape[1:])
  row = full_run(cfg, run_dir, spec, data)
  if not os.path.exists(os.path.join(run_dir, distill.LOGITS_FILE)):
    distill.write_teacher_logits(run_dir, data.train)
  return row | {"macs": spec_lib.total_macs(spec)}


def with_teacher(config, teacher: dict | None):
  """`config` whose recipe distils from `teacher` (a `train_teacher` row) when it has a weight."""
  if teacher is None or not config.search.recipe.get("train", {}).get("distill_weight", 0.0):
    return config
  out = config.copy_and_resolve_references()
  with out.unlocked():   # launchers lock their configs; this field is filled in, not a typo
    out.search.recipe.train.teacher = teacher["run_dir"]
  return out

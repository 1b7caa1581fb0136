"""The search's full-recipe trainings: the teacher, the finalists and the hand-designed reference
nets, each a finished run directory (train/run.py) summarised as one row.

A row holds what the tables, Figure 3 and summary.json show: the run directory and seed, val and
test AUC (`val_auc` is the figure choices are made on: the mean over datasets when the split
mixes several, evaluate.choice_auc), and per dataset when there are several; a finalist's or a
reference's is its best val seed's, with every seed's AUCs in `seeds`. Test figures are
reported, never used to choose. Every run resumes from its checkpoints, so a killed search loses
at most one epoch of one of them.
"""

from __future__ import annotations

import os

from smile_jax.cost import board
from smile_jax.eval import evaluate
from smile_jax.models import spec as spec_lib, zoo
from smile_jax.search import judging
from smile_jax.train import distill, run as run_lib

# What a row keeps of each seed's run (`seeded_runs`): the spread the tables show.
SEED_KEYS = ("seed", "val_auc", "test_auc", "val_auc_by_dataset", "test_auc_by_dataset")


def full_recipe(config):
  """The run recipe candidates and finalists train with: `config.run` with `config.search.recipe`
  (nested overrides, may be empty) applied on top."""
  cfg = config.run.copy_and_resolve_references()
  cfg.update(config.search.recipe)
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
  seeds = config.search.finalist_seeds
  return {cand.hash: same_net_runs(trained or {}, cand.hash, cand.spec.name, seeds)
          or seeded_runs(config, os.path.join(workdir, "finalists", cand.hash), cand.spec,
                         data_for(cand.spec), seeds)
          for cand in finalists}


def train_references(config, workdir: str, data_for, input_shape,
                     finals: dict | None = None) -> list[dict]:
  """The hand-designed nets of `search.references` (zoo names), full recipe,
  `search.reference_seeds` seeds, each with its board costs: the markers the front is judged
  against; a reference whose architecture `finals` (hash -> `seeded_runs` row, e.g. the
  finalists') holds takes that row (`same_net_runs`)."""
  rows = []
  seeds = config.search.reference_seeds
  for name in config.search.references:
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
  tcfg = config.search.teacher
  if not (tcfg.model or tcfg.run_dir):
    return None
  cfg = full_recipe(config)
  cfg.update(tcfg.recipe)
  cfg.train.update({"teacher": "", "distill_weight": 0.0, "epochs": tcfg.epochs})
  run_dir = tcfg.run_dir or os.path.join(workdir, "teacher")
  if tcfg.run_dir:
    spec = distill.read_spec(run_dir)
  else:
    spec = zoo.get(tcfg.model, data.train.images.shape[1:])
  row = full_run(cfg, run_dir, spec, data)
  if not os.path.exists(os.path.join(run_dir, distill.LOGITS_FILE)):
    distill.write_teacher_logits(run_dir, data.train)
  return row | {"macs": spec_lib.total_macs(spec)}


def with_teacher(config, teacher: dict | None):
  """`config` whose recipe distils from `teacher` (a `train_teacher` row) when it has a weight."""
  if teacher is None or not config.search.recipe.train.distill_weight:
    return config
  out = config.copy_and_resolve_references()
  with out.unlocked():   # launchers lock their configs; this field is filled in, not a typo
    out.search.recipe.train.teacher = teacher["run_dir"]
  return out


def settle_near_ties(config, data_for, references: list[dict], judged: list[dict],
                     seeds: int) -> dict[str, dict]:
  """Both sides of each near tie (judging.near_ties) of `references` with `judged` (rows with their
  `hash`) trained on to `seeds` seeds where they were trained (`run_base`; the seeds they have
  resume as finished runs): hash -> the `seeded_runs` fields to update every row of that net
  with (a row's name and costs stay). Empty with `seeds` 0 or no near tie."""
  todo = {}
  for pair in judging.near_ties(references, judged) if seeds else ():
    for row in pair:
      if len(row.get("seeds") or [row]) < seeds:
        todo.setdefault(row["hash"], row)
  out = {}
  for spec_hash, row in todo.items():
    spec = distill.read_spec(row["run_base"])
    out[spec_hash] = seeded_runs(config, row["run_base"], spec, data_for(spec), seeds)
    del out[spec_hash]["name"]
  return out

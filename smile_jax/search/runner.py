"""Running a search for real: short trainings, the store, finalists, Figure 3 and the report.

`run_search(config, workdir)` is what `experiments.search` (and the main job) call. Layout:
  runs.sqlite            the run store (one row per candidate and seed)
  candidates/<hash>/s<seed>/   each short training (checkpointed, so a kill mid-training resumes)
  teacher/               the teacher stage (`search.teacher`), its train logits for distillation
  finalists/<name>/      full retrainings of the best feasible candidates (val and test metrics)
  references/<name>/     the hand-designed nets of `search.references`, trained like finalists
  search_figure.png      report Figure 3 (search.presentation): the candidates and the front;
                         the finalists and references after full training
  search.md, search_summary.json, chosen_spec.json (the spec later stages compile)
The test split is touched once, at the end, by the finalists' evaluation only.
"""

from __future__ import annotations

import dataclasses
import os
import time

from smile_jax.io import jsonfile
from smile_jax.cost import board
from smile_jax.data import run_data
from smile_jax.models import spec as spec_lib, zoo
from smile_jax.search import executors, full_runs, presentation, reductions, search as search_lib
from smile_jax.search.store import RunStore
from smile_jax.train import distill, loop, seeds as seeds_lib


def short_recipe(config):
  """The search recipe cut to a candidate's short training."""
  cfg = full_runs.full_recipe(config)
  cfg.train.epochs = config.search.epochs
  cfg.train.warmup_epochs = config.search.warmup_epochs
  return cfg


# Options that came after run stores were made: while a switch is 0 its fields change nothing
# and are left out of the fingerprint, so a store made before them still matches.
INERT_WHEN_OFF = {"augment.scale": ("augment.scale",),
                  "augment.brightness_contrast_p": ("augment.brightness_contrast_p",
                                                    "augment.brightness", "augment.contrast")}


# Stores made before the teacher was fingerprinted by its logits recorded only whether there was
# one; such a store is taken as made with this run's teacher (RunStore's `legacy`).
LEGACY_FINGERPRINT = {"teacher": True}


def stored_recipe(config) -> dict:
  """What a candidate's short training depends on, flattened to `section.field` keys (paths that
  name where things are, not what they hold, and INERT_WHEN_OFF's fields while off, left out;
  the teacher by its logits' digest): the run store's fingerprint."""
  cfg = short_recipe(config).to_dict()
  teacher = cfg["train"].get("teacher") or False
  where = {"data.data_dir", "data.tfds_dir", "data.split_manifest", "train.teacher"}
  flat = {f"{section}.{key}": value for section in ("data", "train", "augment")
          for key, value in cfg[section].items()}
  where |= {field for switch, fields in INERT_WHEN_OFF.items() if not flat.get(switch)
            for field in fields}
  return {key: list(v) if isinstance(v, tuple) else v for key, v in flat.items()
          if key not in where} | {"teacher": teacher and distill.logits_digest(teacher)}


def root_spec(root: str, input_shape) -> spec_lib.ModelSpec:
  """The search's root: a zoo name, or the path of a spec JSON (its own input shape kept)."""
  if root.endswith(".json"):
    if not os.path.exists(root):
      raise FileNotFoundError(f"search root {root} not found: give a zoo name "
                              f"({sorted(zoo.ZOO)}) or the path of a spec JSON")
    with open(root) as file:
      return spec_lib.ModelSpec.from_json(file.read())
  return zoo.get(root, input_shape)


def data_by_input(data: run_data.RunData):
  """input shape -> the run's data fitted to it (a candidate may take a lower resolution), each
  made once."""
  fitted = {tuple(data.train.images.shape[1:]): data}

  def data_for(spec: spec_lib.ModelSpec) -> run_data.RunData:
    if spec.input_shape not in fitted:
      fitted[spec.input_shape] = run_data.fit_to(data, spec.input_shape)
    return fitted[spec.input_shape]
  return data_for


def short_trainer_many(config, data_for):
  """All seeds of a candidate in one training loop (smile_jax/train/seeds.py), stepped as
  `config.search.parallel_seeds` says."""
  def train_many(spec: spec_lib.ModelSpec, seeds) -> list[dict]:
    return seeds_lib.train_seeds(short_recipe(config), spec, tuple(seeds), data_for(spec),
                                 stepping=config.search.parallel_seeds)
  return train_many


def short_trainer(config, workdir: str, data_for):
  """A `Trainer`: `config.search.epochs` of the search recipe; returns the best epoch's val AUC."""
  def train(spec: spec_lib.ModelSpec, seed: int) -> dict:
    cfg = short_recipe(config)
    cfg.train.seed = seed
    t0 = time.time()
    result = loop.train_and_evaluate(
        cfg,
        os.path.join(workdir, "candidates", spec.canonical_hash(), f"s{seed}"),
        spec=spec,
        data=data_for(spec),
        verbose=False)
    best = result.history[result.best_epoch - 1]
    return {"val_auc": best["val_auc"], "val_loss": best["val_loss"], "seconds": time.time() - t0}
  return train


def make_executor(config, workdir: str, data: run_data.RunData, data_for):
  """`config.search.executor`: 'local' trains in this process (a candidate's seeds in one loop,
  or one seed after another, checkpointed under candidates/); 'ray' sends each candidate to a Ray
  task."""
  sc = config.search
  together = sc.parallel_seeds != "sequential"
  if sc.get("executor", "local") == "local":
    return executors.LocalExecutor(short_trainer(config, workdir, data_for),
                                   short_trainer_many(config, data_for) if together else None)
  recipe = short_recipe(config)
  return executors.RayExecutor(recipe, data, distill.recipe_teacher(recipe.train, data.train),
                               stepping=sc.parallel_seeds if together else "",
                               address=sc.ray_address, workers=sc.workers,
                               threads=sc.threads_per_worker)


@dataclasses.dataclass(frozen=True)
class SearchResult:
  summary: dict             # search_summary.json's content
  front_table: str          # the Pareto front as a Markdown table
  reference_table: str = ""  # the reference nets and the teacher, when there are any
  finalist_table: str = ""   # the finalists after full training, when there are several

  def section(self, figure_path: str = "search_figure.png") -> tuple[str, str]:
    """(heading, body) of the search's report section; `figure_path` relative to the report."""
    summary = self.summary
    finalists = ("\n\n### Finalists (full training; the one-SE rule over their seeds chose)\n\n"
                 f"{self.finalist_table}" if self.finalist_table else "")
    references = ("\n\n### Reference nets and teacher (same recipe, same run)\n\n"
                  f"{self.reference_table}" if self.reference_table else "")
    body = (
        f"Baseline val AUC {summary['baseline_val_auc']:.3f}, cut-off "
        f"{summary['quality_cutoff']:.3f}, budget "
        f"{summary['budget_macs']:,} MACs; {summary['candidates_trained']} candidates trained in "
        f"{summary['wall_time_s'] / 60:.1f} min.\n\n### Pareto front (feasible candidates)\n\n"
        f"{self.front_table}{finalists}{references}\n\n![search]({figure_path})")
    return f"Reduction search ({summary['mode']}, report Figure 3)", body


def check_config(config) -> None:
  """Fails on a search config that cannot run, naming the field, before any training."""
  sc = config.search
  if not sc.root.endswith(".json") and sc.root not in zoo.ZOO:
    raise ValueError(f"config.search.root: unknown model {sc.root!r}; give a zoo name "
                     f"({sorted(zoo.ZOO)}) or the path of a spec JSON")
  data_cfg = config.run.data
  try:   # an unknown layer in a JSON root, or an input the root cannot take
    spec_lib.infer_shapes(root_spec(sc.root, (data_cfg.image_size, data_cfg.image_size,
                                              data_cfg.channels)))
  except spec_lib.SpecError as e:
    raise spec_lib.SpecError(f"config.search.root = {sc.root!r}: {e}") from None
  choices = {"mode": ("best_first", "algorithm1"), "choice": ("best_score", "one_se"),
             "moves": tuple(reductions.MOVES),
             "parallel_seeds": seeds_lib.STEPPING + ("sequential",), "executor": ("local", "ray")}
  for field, allowed in choices.items():
    if sc.get(field, allowed[0]) not in allowed:
      raise ValueError(f"config.search.{field} must be one of {allowed}, got {sc.get(field)!r}")
  if sc.get("executor", "local") == "ray":
    if sc.workers < 1 or sc.threads_per_worker < 0:
      raise ValueError(f"config.search.workers must be >= 1 (got {sc.workers}) and "
                       f"threads_per_worker >= 0 (got {sc.threads_per_worker})")
    executors.check_ray()
  bands = tuple(sc.get("bands", ()))
  if bands and (list(bands) != sorted(set(bands)) or bands[0] <= 0
                or bands[-1] >= sc.budget_macs or sc.get("choice") != "one_se"):
    raise ValueError(f"config.search.bands = {bands}: MAC bounds, increasing, each between 0 and "
                     f"the budget ({sc.budget_macs:,}), with config.search.choice = 'one_se'")
  for name in sc.get("references", ()):
    if name not in zoo.ZOO:
      raise ValueError(f"config.search.references: {name!r} is not a zoo model {sorted(zoo.ZOO)}")
  teacher = sc.get("teacher", {})
  if teacher.get("model") and teacher.model not in zoo.ZOO:
    raise ValueError(f"config.search.teacher.model: {teacher.model!r} is not a zoo model")
  if teacher.get("run_dir") and not os.path.isdir(teacher.run_dir):
    raise distill.TeacherError(f"config.search.teacher.run_dir = {teacher.run_dir!r} does not "
                               "exist: train it (configs/teacher.py) or clear the field")
  recipe_train = full_runs.full_recipe(config).train
  if recipe_train.distill_weight and not (teacher.get("model") or teacher.get("run_dir")):
    raise distill.TeacherError("config.search.recipe.train.distill_weight > 0 needs a teacher: "
                               "set config.search.teacher.model (or .run_dir)")


def explore(search: search_lib.Search, sc, root: spec_lib.ModelSpec):
  """The search proper under `config.search` (`sc`): AUC0, the cut-off beta and the finalists."""
  if sc.baseline_auc > 0:
    baseline_auc = sc.baseline_auc
  else:
    baseline_auc = search.evaluate(search.make(root, None, "baseline"),
                                   search.seeds[:1]).mean_auc
  beta = search_lib.quality_cutoff(baseline_auc, sc.keep)
  if sc.mode == "algorithm1":
    found = search.algorithm1(root, beta)
    return baseline_auc, beta, [found] if found else []
  search.best_first(root, beta, baseline_auc)
  ok = [c for c in search.trained.values() if c.feasible and c.aucs and c.score(sc.margin) >= beta]
  if sc.get("choice", "best_score") == "one_se":
    return baseline_auc, beta, search_lib.banded_choice(ok, tuple(sc.get("bands", ())),
                                                        sc.finalists)
  return baseline_auc, beta, sorted(ok, key=lambda c: -c.score(sc.margin))[:sc.finalists]


def look_toward(search, executor, beta: float, wanted: list) -> None:
  """For each predicate of `wanted` (on a Candidate: a cost no trained candidate fits under,
  full_runs.unanswered; a reference's own net, full_runs.unreached) that no trained candidate
  meets, one reduction short-trained that does (Search.toward), in order, so a net trained for
  one can lead to the next; on `executor`, closed afterwards. The challengers can then answer
  them."""
  search.executor = executor
  try:
    for fits in wanted:
      if not any(fits(cand) for cand in search.trained.values() if cand.feasible and cand.aucs):
        search.toward(fits, beta)
  finally:
    executor.close()


def run_search(config, workdir: str) -> SearchResult:
  """Runs `config.search.mode` from `config.search.root`; writes search_summary.json and
  search.md."""
  check_config(config)
  os.makedirs(workdir, exist_ok=True)
  t0 = time.time()
  sc = config.search
  data = run_data.load(full_runs.full_recipe(config).data, workdir)
  root = root_spec(sc.root, data.train.images.shape[1:])
  data_for = data_by_input(data)
  teacher = full_runs.train_teacher(config, workdir, data)
  config = full_runs.with_teacher(config, teacher)
  constraints = search_lib.Constraints(sc.budget_macs, sc.max_peak_ram_bytes, sc.max_flash_bytes,
                                       max_latency_ms=sc.get("max_latency_ms", 0.0),
                                       latency_margin=sc.get("latency_margin", 0.0))
  store = RunStore(os.path.join(workdir, "runs.sqlite"), stored_recipe(config),
                   legacy=LEGACY_FINGERPRINT)
  seeds = tuple(range(sc.seeds if sc.mode == "best_first" else 1))
  executor = make_executor(config, workdir, data, data_for)
  search = search_lib.Search(
      executor,
      store,
      constraints,
      seeds=seeds,
      margin=sc.margin,
      epochs=sc.epochs,
      train_above_budget=sc.train_above_budget,
      max_candidates=sc.max_candidates,
      max_seconds=sc.max_minutes * 60,
      moves=sc.get("moves", "report"),
      bands=tuple(sc.get("bands", ())),
      on_trained=lambda c: print(
          f"[search {(time.time() - t0) / 60:5.1f} min] {c.spec.name}: {c.cost.macs:,} MACs, "
          f"val AUC {c.mean_auc:.4f} over {len(c.aucs)} seed(s) ({c.reduction})",
          flush=True))
  try:
    baseline_auc, beta, finalists = explore(search, sc, root)
  finally:
    executor.close()
  cands = [c for c in search.trained.values() if c.aucs]
  finals = full_runs.retrain_finalists(config, workdir, data_for, finalists)
  final_rows = [c.row() | finals[c.hash] for c in finalists]
  references = full_runs.train_references(config, workdir, data_for, root.input_shape, finals)
  wanted = []
  if sc.get("challengers", 0):
    feasible = [c for c in cands if c.feasible]
    # The costs first: a reference's own net, once trained, fits under it and would stop the
    # search from looking for a net that beats it there.
    wanted = ([full_runs.fits_under(reference, cost)
               for reference, cost in full_runs.unanswered(references, final_rows, feasible)]
              + [full_runs.is_net(reference)
                 for reference in full_runs.unreached(references, final_rows, feasible)])
  if wanted:
    look_toward(search, make_executor(config, workdir, data, data_for), beta, wanted)
    cands = [c for c in search.trained.values() if c.aucs]
  front = search_lib.pareto_front([c for c in cands if c.feasible], sc.margin)
  challengers = full_runs.challengers(
      references, final_rows, [c for c in cands if c.feasible and c.hash not in finals],
      sc.get("challengers", 0))
  finals |= full_runs.retrain_finalists(config, workdir, data_for, challengers,
                                        {row["hash"]: row for row in references})
  challenger_rows = [c.row() | finals[c.hash] for c in challengers]
  more = full_runs.settle_near_ties(config, data_for, references, final_rows + challenger_rows,
                                    sc.get("tie_seeds", 0))
  finals = {key: row | more.get(key, {}) for key, row in finals.items()}
  final_rows, challenger_rows, references = [
      [row | more.get(row["hash"], {}) for row in rows]
      for rows in (final_rows, challenger_rows, references)]
  references = [row | {"dominated_by": full_runs.dominators(row, final_rows + challenger_rows)}
                for row in references]
  chosen = full_runs.choose(finalists + challengers, finals)
  presentation.figure3(cands, front, beta, sc.budget_macs,
                       os.path.join(workdir, "search_figure.png"), chosen, finals, references,
                       teacher)
  if chosen is not None:
    with open(os.path.join(workdir, "chosen_spec.json"), "w") as file:
      file.write(chosen.spec.to_json())
  summary = {
      "mode": sc.mode, "root": sc.root, "budget_macs": sc.budget_macs,
      "baseline_val_auc": baseline_auc, "quality_cutoff": beta, "candidates_trained": len(cands),
      "trainings_run": search.trainings, "wall_time_s": time.time() - t0,
      "chosen": None if chosen is None else {
          "spec": chosen.spec.to_dict(), "hash": chosen.hash, "short_val_auc": chosen.mean_auc,
      } | finals[chosen.hash] | board.board_cost(chosen.spec).to_dict(),
      "front": [c.row() | finals.get(c.hash, {}) for c in front],
      "finalists": final_rows,
      "challengers": challenger_rows,
      "references": references,
      "teacher": teacher,
  }
  jsonfile.dump(summary, os.path.join(workdir, "search_summary.json"), indent=1)
  result = SearchResult(summary, presentation.front_table(front, finals),
                        presentation.reference_table(references, teacher)
                        if references or teacher else "",
                        presentation.finalist_table(finalists + challengers, finals, chosen,
                                                    challengers)
                        if len(finalists + challengers) > 1 else "")
  heading, body = result.section()
  with open(os.path.join(workdir, "search.md"), "w") as file:
    file.write(f"# {heading}: from {sc.root}\n\n{body}\n")
  store.close()
  return result

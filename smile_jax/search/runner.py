"""The search stage end to end: short trainings, the finalists, the references, Figure 3, the report.

`run_search(config, workdir)` is what `experiments.search` (and the main job) call. Its stages:
`explore` (a strategy over the short trainings: the candidates and the finalists they nominate),
`judge` (full training of the finalists and the references, challengers and near ties: the
verdicts and the shipped net), then the summary, Figure 3 and search.md. Layout:
  runs.sqlite            the run store (one row per candidate and seed)
  teacher/               the teacher stage (`search.teacher`), its train logits for distillation
  finalists/<hash>/      full retrainings of the nominated candidates (val and test metrics)
  references/<name>/     the hand-designed nets of `search.references`, trained like finalists
  search_figure.png      report Figure 3 (presentation.py)
  search.md, search_summary.json, chosen_spec.json (the spec later stages compile)
The test split is touched once, at the end, by the full trainings' evaluation only.
"""

from __future__ import annotations

import dataclasses
import os
import time

from smile_jax.cost import board
from smile_jax.data import run_data
from smile_jax.io import jsonfile
from smile_jax.models import spec as spec_lib, zoo
from smile_jax.search import (algorithm1, best_first, candidates, constraints, executors,
                              full_training, judging, presentation, reductions, scheduler,
                              short_training)
from smile_jax.search.store import RunStore
from smile_jax.train import distill


def root_spec(root: str, input_shape) -> spec_lib.ModelSpec:
  """The search's root: a zoo name, or the path of a spec JSON (its own input shape kept)."""
  if root.endswith(".json"):
    if not os.path.exists(root):
      raise FileNotFoundError(f"search root {root} not found: give a zoo name "
                              f"({sorted(zoo.ZOO)}) or the path of a spec JSON")
    with open(root) as file:
      return spec_lib.ModelSpec.from_json(file.read())
  return zoo.get(root, input_shape)


CHOICES = {"mode": ("best_first", "algorithm1"), "choice": ("best_score", "one_se"),
           "moves": tuple(reductions.MOVES), "executor": ("local", "ray")}


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
  for field, allowed in CHOICES.items():
    if sc[field] not in allowed:
      raise ValueError(f"config.search.{field} must be one of {allowed}, got {sc[field]!r}")
  if sc.executor == "ray":
    if sc.workers < 1 or sc.threads_per_worker < 0:
      raise ValueError(f"config.search.workers must be >= 1 (got {sc.workers}) and "
                       f"threads_per_worker >= 0 (got {sc.threads_per_worker})")
    executors.check_ray()
  bands = tuple(sc.bands)
  if bands and (list(bands) != sorted(set(bands)) or bands[0] <= 0
                or bands[-1] >= sc.budget_macs or sc.choice != "one_se"):
    raise ValueError(f"config.search.bands = {bands}: MAC bounds, increasing, each between 0 and "
                     f"the budget ({sc.budget_macs:,}), with config.search.choice = 'one_se'")
  for name in sc.references:
    if name not in zoo.ZOO:
      raise ValueError(f"config.search.references: {name!r} is not a zoo model {sorted(zoo.ZOO)}")
  teacher = sc.teacher
  if teacher.model and teacher.model not in zoo.ZOO:
    raise ValueError(f"config.search.teacher.model: {teacher.model!r} is not a zoo model")
  if teacher.run_dir and not os.path.isdir(teacher.run_dir):
    raise distill.TeacherError(f"config.search.teacher.run_dir = {teacher.run_dir!r} does not "
                               "exist: train it (configs/teacher.py) or clear the field")
  if sc.recipe.train.distill_weight and not (teacher.model or teacher.run_dir):
    raise distill.TeacherError("config.search.recipe.train.distill_weight > 0 needs a teacher: "
                               "set config.search.teacher.model (or .run_dir)")


@dataclasses.dataclass
class Explored:
  """What the short trainings found."""
  scheduler: scheduler.Scheduler  # every trained candidate
  strategy: best_first.BestFirst  # also what looks toward an unmet cost (judge)
  baseline_auc: float             # AUC0
  beta: float                     # the quality cut-off
  finalists: list                 # the candidates nominated for full training


def explore(config, data, data_for, store: RunStore, root: spec_lib.ModelSpec,
            on_trained) -> Explored:
  """The search proper under `config.search`: AUC0, the cut-off beta, the strategy's candidates
  and the finalists they nominate."""
  sc = config.search
  seeds = tuple(range(sc.seeds if sc.mode == "best_first" else 1))
  sched = _scheduler(config, data, data_for, store, seeds, on_trained)
  strategy = best_first.BestFirst(sched, margin=sc.margin, moves=sc.moves,
                                  bands=tuple(sc.bands),
                                  train_above_budget=sc.train_above_budget)
  try:
    if sc.baseline_auc > 0:
      baseline_auc = sc.baseline_auc
    else:
      baseline_auc = sched.evaluate(sched.make(root, None, "baseline"),
                                         seeds[:1]).mean_auc
    beta = constraints.quality_cutoff(baseline_auc, sc.keep)
    if sc.mode == "algorithm1":
      found = algorithm1.algorithm1(sched, root, beta, sc.moves)
      return Explored(sched, strategy, baseline_auc, beta, [found] if found else [])
    strategy.run(root, beta, baseline_auc)
  finally:
    sched.executor.close()
  ok = [c for c in sched.trained.values()
        if c.feasible and c.aucs and c.score(sc.margin) >= beta]
  if sc.choice == "one_se":
    finalists = candidates.banded_choice(ok, tuple(sc.bands), sc.finalists)
  else:
    finalists = sorted(ok, key=lambda c: -c.score(sc.margin))[:sc.finalists]
  return Explored(sched, strategy, baseline_auc, beta, finalists)


def _scheduler(config, data, data_for, store, seeds, on_trained) -> scheduler.Scheduler:
  sc = config.search
  return scheduler.Scheduler(
      short_training.make_executor(config, data, data_for), store,
      constraints.Constraints.from_config(sc), seeds=seeds, epochs=sc.epochs,
      max_candidates=sc.max_candidates, max_seconds=sc.max_minutes * 60, on_trained=on_trained)


@dataclasses.dataclass
class Judged:
  """What full training said: rows are full_training.py's, keyed by candidate hash in `finals`."""
  trained: list                   # every candidate with short-training AUCs
  front: list                     # the feasible Pareto front of those
  finalists: list                 # nominated candidates ...
  challengers: list               # ... and the searched nets that answer a reference
  finals: dict                    # hash -> full-training row, for both
  references: list[dict]          # reference rows, each with `dominated_by`
  chosen: candidates.Candidate | None   # the candidate shipped (None when no finalist)

  def rows(self, cands) -> list[dict]:
    return [cand.row() | self.finals[cand.hash] for cand in cands]


def look_toward(config, data, data_for, explored: Explored, wanted: list) -> None:
  """For each predicate of `wanted` (on a Candidate: a cost no trained candidate fits under,
  judging.unanswered; a reference's own net, judging.unreached) that no trained candidate
  meets, one reduction short-trained that does (BestFirst.toward), in order, so a net trained
  for one can lead to the next; on a fresh executor, closed afterwards."""
  sched = explored.scheduler
  sched.executor = short_training.make_executor(config, data, data_for)
  try:
    for fits in wanted:
      if not any(fits(cand) for cand in sched.trained.values()
                 if cand.feasible and cand.aucs):
        explored.strategy.toward(fits, explored.beta)
  finally:
    sched.executor.close()


def _unmet(config, references, final_rows, explored: Explored) -> list:
  """The costs no trained candidate fits under, then the references' own nets not trained
  (when challengers are on): what the search looks toward. The costs first: a reference's own
  net, once trained, fits under it and would stop the search from looking for one beating it."""
  if not config.search.challengers:
    return []
  feasible = [c for c in explored.scheduler.trained.values() if c.aucs and c.feasible]
  return ([judging.fits_under(reference, cost)
           for reference, cost in judging.unanswered(references, final_rows, feasible)]
          + [judging.is_net(reference)
             for reference in judging.unreached(references, final_rows, feasible)])


def judge(config, workdir: str, data, data_for, explored: Explored,
          root: spec_lib.ModelSpec) -> Judged:
  """Full training of the finalists and references; the challengers where no finalist beats a
  reference, near ties settled with more seeds; the verdicts and the net shipped."""
  sc = config.search
  finalists = explored.finalists
  finals = full_training.retrain_finalists(config, workdir, data_for, finalists)
  final_rows = [c.row() | finals[c.hash] for c in finalists]
  references = full_training.train_references(config, workdir, data_for, root.input_shape,
                                              finals)
  wanted = _unmet(config, references, final_rows, explored)
  if wanted:
    look_toward(config, data, data_for, explored, wanted)
  trained = [c for c in explored.scheduler.trained.values() if c.aucs]
  front = candidates.pareto_front([c for c in trained if c.feasible], sc.margin)
  challengers = judging.challengers(
      references, final_rows, [c for c in trained if c.feasible and c.hash not in finals],
      sc.challengers)
  finals |= full_training.retrain_finalists(config, workdir, data_for, challengers,
                                            {row["hash"]: row for row in references})
  challenger_rows = [c.row() | finals[c.hash] for c in challengers]
  more = full_training.settle_near_ties(config, data_for, references,
                                        final_rows + challenger_rows, sc.tie_seeds)
  finals = {key: row | more.get(key, {}) for key, row in finals.items()}
  judged = [row | more.get(row["hash"], {}) for row in final_rows + challenger_rows]
  references = [row | more.get(row["hash"], {}) for row in references]
  references = [row | {"dominated_by": judging.dominators(row, judged)} for row in references]
  chosen = judging.choose(finalists + challengers, finals)
  return Judged(trained, front, finalists, challengers, finals, references, chosen)


def summarize(config, explored: Explored, judged: Judged, teacher, seconds: float) -> dict:
  """search_summary.json's content."""
  sc, chosen = config.search, judged.chosen
  return {
      "mode": sc.mode, "root": sc.root, "budget_macs": sc.budget_macs,
      "baseline_val_auc": explored.baseline_auc, "quality_cutoff": explored.beta,
      "candidates_trained": len(judged.trained), "trainings_run": explored.scheduler.trainings,
      "wall_time_s": seconds,
      "chosen": None if chosen is None else {
          "spec": chosen.spec.to_dict(), "hash": chosen.hash, "short_val_auc": chosen.mean_auc,
      } | judged.finals[chosen.hash] | board.board_cost(chosen.spec).to_dict(),
      "front": [c.row() | judged.finals.get(c.hash, {}) for c in judged.front],
      "finalists": judged.rows(judged.finalists),
      "challengers": judged.rows(judged.challengers),
      "references": judged.references,
      "teacher": teacher,
  }


@dataclasses.dataclass(frozen=True)
class SearchResult:
  summary: dict             # search_summary.json's content
  front_table: str          # the Pareto front as a Markdown table
  reference_table: str = ""  # the reference nets and the teacher, when there are any
  finalist_table: str = ""   # the finalists after full training, when there are several

  @classmethod
  def of(cls, summary: dict, judged: Judged, teacher) -> SearchResult:
    finalists = judged.finalists + judged.challengers
    return cls(summary, presentation.front_table(judged.front, judged.finals),
               presentation.reference_table(judged.references, teacher)
               if judged.references or teacher else "",
               presentation.finalist_table(finalists, judged.finals, judged.chosen,
                                           judged.challengers)
               if len(finalists) > 1 else "")

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


def run_search(config, workdir: str) -> SearchResult:
  """Runs `config.search.mode` from `config.search.root`; writes search_summary.json,
  search.md, search_figure.png and chosen_spec.json."""
  check_config(config)
  os.makedirs(workdir, exist_ok=True)
  t0 = time.time()
  data = run_data.load(full_training.full_recipe(config).data, workdir)
  root = root_spec(config.search.root, data.train.images.shape[1:])
  data_for = short_training.data_by_input(data)
  teacher = full_training.train_teacher(config, workdir, data)
  config = full_training.with_teacher(config, teacher)

  def on_trained(c):
    print(f"[search {(time.time() - t0) / 60:5.1f} min] {c.spec.name}: {c.cost.macs:,} MACs, "
          f"val AUC {c.mean_auc:.4f} over {len(c.aucs)} seed(s) ({c.reduction})", flush=True)

  store = RunStore(os.path.join(workdir, "runs.sqlite"), short_training.stored_recipe(config))
  try:
    explored = explore(config, data, data_for, store, root, on_trained)
    judged = judge(config, workdir, data, data_for, explored, root)
  finally:
    store.close()
  presentation.figure3(judged.trained, judged.front, explored.beta, config.search.budget_macs,
                       os.path.join(workdir, "search_figure.png"), judged.chosen, judged.finals,
                       judged.references, teacher)
  if judged.chosen is not None:
    with open(os.path.join(workdir, "chosen_spec.json"), "w") as file:
      file.write(judged.chosen.spec.to_json())
  summary = summarize(config, explored, judged, teacher, time.time() - t0)
  jsonfile.dump(summary, os.path.join(workdir, "search_summary.json"), indent=1)
  result = SearchResult.of(summary, judged, teacher)
  heading, body = result.section()
  with open(os.path.join(workdir, "search.md"), "w") as file:
    file.write(f"# {heading}: from {config.search.root}\n\n{body}\n")
  return result

"""Running a search for real: short trainings, the store, finalists, Figure 3 and the report.

`run_search(config, workdir)` is what `experiments.search` (and the main job) call. Layout:
  runs.sqlite            the run store (one row per candidate and seed)
  candidates/<hash>/s<seed>/   each short training (checkpointed, so a kill mid-training resumes)
  finalists/<name>/      full retrainings of the best feasible candidates (val and test metrics)
  search_figure.png      report Figure 3: val AUC vs MACs, the cut-off, the budget, the front
  search.md, search_summary.json, chosen_spec.json (the spec later stages compile)
The test split is touched once, at the end, by the finalists' evaluation only.
"""

from __future__ import annotations

import dataclasses
import os
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from smile_jax import jsonfile, runs  # noqa: E402
from smile_jax.cost import board  # noqa: E402
from smile_jax.data import run_data  # noqa: E402
from smile_jax.eval import evaluate  # noqa: E402
from smile_jax.models import spec as spec_lib, zoo  # noqa: E402
from smile_jax.search import search as search_lib  # noqa: E402
from smile_jax.search.store import RunStore  # noqa: E402
from smile_jax.train import loop, seeds as seeds_lib  # noqa: E402


def search_recipe(config):
  """The run recipe candidates and finalists train with: `config.run` with `config.search.recipe`
  (nested overrides, may be empty) applied on top."""
  cfg = config.run.copy_and_resolve_references()
  cfg.update(config.search.get("recipe", {}))
  return cfg


def short_recipe(config):
  """The search recipe cut to a candidate's short training."""
  cfg = search_recipe(config)
  cfg.train.epochs = config.search.epochs
  cfg.train.warmup_epochs = config.search.warmup_epochs
  return cfg


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
  """All seeds of a candidate in one vmapped training (smile_jax/train/seeds.py)."""
  def train_many(spec: spec_lib.ModelSpec, seeds) -> list[dict]:
    return seeds_lib.train_seeds(short_recipe(config), spec, tuple(seeds), data_for(spec))
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


def figure3(cands, front, beta: float, budget: int, path: str, chosen=None) -> str:
  fig, ax = plt.subplots(figsize=(7, 4.5))
  ax.scatter([c.cost.macs for c in cands], [c.mean_auc for c in cands], s=14, c="C0", alpha=0.6,
             label="candidates (mean val AUC over seeds)")
  ax.plot([c.cost.macs for c in front], [c.mean_auc for c in front], "o-", color="C3", ms=5,
          label="Pareto front (feasible)")
  if chosen is not None:
    ax.scatter([chosen.cost.macs], [chosen.mean_auc], marker="*", s=180, c="gold", edgecolors="k",
               zorder=5, label=f"chosen: {chosen.spec.name}")
  ax.axhline(beta, color="k", ls="--", lw=1, label=f"quality cut-off {beta:.3f}")
  ax.axvline(budget, color="k", ls=":", lw=1, label=f"budget {budget / 1e6:.2f} M MACs")
  ax.set_xscale("log")
  ax.set(xlabel="MACs per inference (log)", ylabel="val AUC (short training)",
         title="Search: val AUC vs cost (report Figure 3)")
  ax.legend(fontsize=7, loc="lower right")
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)
  return path


def _num(value) -> str:
  return "-" if value is None else f"{value:.3f}"


def front_table(front, finals: dict) -> str:
  """Markdown table of the front; full-recipe val/test AUC only for the retrained finalists."""
  lines = [
      "| candidate | reduction | MACs | est. latency (int8, 48 MHz) | peak RAM (int8) | "
      "est. flash (int8) | val AUC (short, mean ± sd) | val AUC (full) | test AUC (full) |",
      "|---|---|--:|--:|--:|--:|--:|--:|--:|"
  ]
  for cand in front:
    final = finals.get(cand.hash, {})
    sd = (sum((a - cand.mean_auc) ** 2 for a in cand.aucs) / max(1, len(cand.aucs) - 1)) ** 0.5
    costs = board.board_cost(cand.spec, cand.cost)
    latency = "-" if costs.latency_ms is None else f"{costs.latency_ms:.0f} ms"
    lines.append(
        f"| {cand.spec.name} | {cand.reduction} | {costs.macs:,} | {latency} | "
        f"{costs.peak_ram_bytes:,} B | {costs.flash_bytes:,} B | {cand.mean_auc:.3f} ± {sd:.3f} | "
        f"{_num(final.get('val_auc'))} | {_num(final.get('test_auc'))} |")
  return "\n".join(lines)


def retrain_finalists(config, workdir: str, data_for, finalists) -> dict:
  """Full-recipe retraining of each finalist, `search.finalist_seeds` times; per finalist, the seed
  with the best val AUC is kept (test metrics are computed for the finalists only, never used to
  choose)."""
  out = {}
  for cand in finalists:
    for seed in range(config.search.get("finalist_seeds", 1)):
      run_dir = os.path.join(workdir, "finalists", cand.hash + (f"_s{seed}" if seed else ""))
      cfg = search_recipe(config)
      cfg.train.seed = seed
      summary = runs.train_evaluate_report(cfg, run_dir, spec=cand.spec,
                                           data=data_for(cand.spec)).summary
      row = {"run_dir": os.path.abspath(run_dir), "seed": seed,
             "val_auc": evaluate.split_row(summary, "val")["auc"],
             "test_auc": evaluate.split_row(summary, "test")["auc"]}
      if cand.hash not in out or row["val_auc"] > out[cand.hash]["val_auc"]:
        out[cand.hash] = row
  return out


@dataclasses.dataclass(frozen=True)
class SearchResult:
  summary: dict             # search_summary.json's content
  front_table: str          # the Pareto front as a Markdown table

  def section(self, figure_path: str = "search_figure.png") -> tuple[str, str]:
    """(heading, body) of the search's report section; `figure_path` relative to the report."""
    summary = self.summary
    body = (
        f"Baseline val AUC {summary['baseline_val_auc']:.3f}, cut-off "
        f"{summary['quality_cutoff']:.3f}, budget "
        f"{summary['budget_macs']:,} MACs; {summary['candidates_trained']} candidates trained in "
        f"{summary['wall_time_s'] / 60:.1f} min.\n\n### Pareto front (feasible candidates)\n\n"
        f"{self.front_table}\n\n![search]({figure_path})")
    return f"Reduction search ({summary['mode']}, report Figure 3)", body


def run_search(config, workdir: str) -> SearchResult:
  """Runs `config.search.mode` from `config.search.root`; writes search_summary.json and
  search.md."""
  os.makedirs(workdir, exist_ok=True)
  t0 = time.time()
  sc = config.search
  data = run_data.load(config.run.data, workdir)
  root = root_spec(sc.root, data.train.images.shape[1:])
  data_for = data_by_input(data)
  constraints = search_lib.Constraints(sc.budget_macs, sc.max_peak_ram_bytes, sc.max_flash_bytes,
                                       max_latency_ms=sc.get("max_latency_ms", 0.0))
  store = RunStore(os.path.join(workdir, "runs.sqlite"))
  seeds = tuple(range(sc.seeds if sc.mode == "best_first" else 1))
  vmapped = sc.get("parallel_seeds") == "vmap"
  search = search_lib.Search(
      short_trainer(config, workdir, data_for),
      store,
      constraints,
      seeds=seeds,
      margin=sc.margin,
      epochs=sc.epochs,
      train_above_budget=sc.train_above_budget,
      max_candidates=sc.max_candidates,
      max_seconds=sc.max_minutes * 60,
      train_many=short_trainer_many(config, data_for) if vmapped else None,
      moves=sc.get("moves", "report"),
      on_trained=lambda c: print(
          f"[search {(time.time() - t0) / 60:5.1f} min] {c.spec.name}: {c.cost.macs:,} MACs, "
          f"val AUC {c.mean_auc:.4f} over {len(c.aucs)} seed(s) ({c.reduction})",
          flush=True))
  if sc.baseline_auc > 0:
    baseline_auc = sc.baseline_auc
  else:
    baseline_auc = search.evaluate(search.make(root, None, "baseline"), seeds[:1]).mean_auc
  beta = search_lib.quality_cutoff(baseline_auc, sc.keep)
  if sc.mode == "algorithm1":
    found = search.algorithm1(root, beta)
    finalists = [found] if found else []
  elif sc.mode == "best_first":
    search.best_first(root, beta, baseline_auc)
    ok = [
        c for c in search.trained.values() if c.feasible and c.aucs and c.score(sc.margin) >= beta
    ]
    if sc.get("choice", "best_score") == "one_se":
      finalists = search_lib.one_se_choice(ok, sc.finalists)
    else:
      finalists = sorted(ok, key=lambda c: -c.score(sc.margin))[:sc.finalists]
  else:
    raise ValueError(f"config.search.mode must be 'best_first' or 'algorithm1', got {sc.mode!r}")
  cands = [c for c in search.trained.values() if c.aucs]
  front = search_lib.pareto_front([c for c in cands if c.feasible], sc.margin)
  finals = retrain_finalists(config, workdir, data_for, finalists)
  chosen = max(finalists, key=lambda c: finals[c.hash]["val_auc"]) if finalists else None
  figure3(cands, front, beta, sc.budget_macs, os.path.join(workdir, "search_figure.png"), chosen)
  if chosen is not None:
    with open(os.path.join(workdir, "chosen_spec.json"), "w") as file:
      file.write(chosen.spec.to_json())
  summary = {
      "mode": sc.mode, "root": sc.root, "budget_macs": sc.budget_macs,
      "baseline_val_auc": baseline_auc, "quality_cutoff": beta, "candidates_trained": len(cands),
      "trainings_run": search.trainings, "wall_time_s": time.time() - t0,
      "chosen": None if chosen is None else {
          "name": chosen.spec.name, "spec": chosen.spec.to_dict(),
          "val_auc": finals[chosen.hash]["val_auc"], "test_auc": finals[chosen.hash]["test_auc"],
          "short_val_auc": chosen.mean_auc, "run_dir": finals[chosen.hash]["run_dir"],
      } | board.board_cost(chosen.spec, chosen.cost).to_dict(),
      "front": [c.row() | finals.get(c.hash, {}) for c in front],
  }
  jsonfile.dump(summary, os.path.join(workdir, "search_summary.json"), indent=1)
  result = SearchResult(summary, front_table(front, finals))
  heading, body = result.section()
  with open(os.path.join(workdir, "search.md"), "w") as file:
    file.write(f"# {heading}: from {sc.root}\n\n{body}\n")
  store.close()
  return result

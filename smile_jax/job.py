"""The main job, end to end: data -> split -> the report's models -> baselines -> search ->
deploy of the chosen net to the Apollo3 (compile, QEMU parity, profile) -> report.

`run_main_job(config, workdir)` is what `experiments.main` calls and what tests call with a smoke
config. Every step reuses what an earlier, interrupted job left: built datasets, the split
manifest, and each model's run directory (which resumes from its checkpoints).

Workdir: `split.json`, `augmentations.png`, `runs/<model>/` (one training run each),
`baselines/<name>/metrics.json`, `search/`, `deploy/` (compile/deploy.py), `report.md` + figures,
`summary.json`.
"""

from __future__ import annotations

import json
import os

import ml_collections
import numpy as np

from compile import deploy as deploy_lib, deploy_report, firmware
from smile_jax import runs
from smile_jax.cost import hardware
from smile_jax.data import augment, builders, run_data
from smile_jax.eval import baselines as baselines_lib, evaluate, report
from smile_jax.search import runner


def _train(config, name: str, workdir: str, manifest: str) -> dict:
  cfg = config.run.copy_and_resolve_references()
  cfg.model = name
  cfg.data.split_manifest = manifest
  return runs.train_evaluate_report(cfg, os.path.join(workdir, "runs", name))


def _baselines(config, data: run_data.RunData, workdir: str) -> list[dict]:
  """Each baseline scored on val and test into `baselines/<name>/`, laid out like a run's metrics."""
  smiled_dir = os.path.join(data.dataset.summary["source"], "smileD")
  summaries = []
  for name, score_fn in baselines_lib.available(config.baselines, smiled_dir).items():
    out_dir = os.path.join(workdir, "baselines", name)
    if not os.path.exists(os.path.join(out_dir, "metrics.json")):
      os.makedirs(out_dir, exist_ok=True)
      evals = {s: evaluate.SplitEval(s, getattr(data, s).labels, score_fn(getattr(data, s).images))
               for s in ("val", "test")}
      evaluate.write(out_dir, evaluate.summarize(name, None, evals, config.run.eval,
                                                 {"run_dir": os.path.abspath(out_dir)}), evals)
    summaries.append(evaluate.read(out_dir)[0])
  return summaries


def _data_section(data: run_data.RunData, extra: list[dict]) -> str:
  lines = ["| dataset | images | smiling | skipped files | faces found |", "|---|--:|--:|--:|--:|"]
  for s in [data.dataset.summary] + extra:
    lines.append(f"| {s['dataset']} ({s['config']}) | {s['examples']:,} | "
                 f"{100 * s['smiling'] / max(1, s['examples']):.1f}% | {len(s['skipped'])} | "
                 f"{100 * s['face_detection_rate']:.1f}% |")
  split = ", ".join(f"{n} {len(getattr(data, n).labels):,} ({100 * getattr(data, n).labels.mean():.1f}% smiling)"
                    for n in ("train", "val", "test"))
  skipped = [f"- `{k['path']}`: {k['reason']}" for s in [data.dataset.summary] + extra for k in s["skipped"][:20]]
  return "\n".join(lines + ["", f"Split (`{os.path.basename(data.manifest_path)}`): {split}.",
                            "", *(["Skipped files (first 20 per dataset):", ""] + skipped if skipped else [])])


def run_main_job(config, workdir: str) -> dict:
  """Runs the whole job; returns the summary.json content."""
  os.makedirs(workdir, exist_ok=True)
  if config.deploy.enabled:
    firmware.check_toolchain()   # fail before an hour of training, not after
  manifest = os.path.join(workdir, "split.json")
  data = run_data.load(config.run.data, workdir)  # builds the dataset, writes the manifest
  extra = []
  if config.cross_dataset:
    other = builders.build(config.cross_dataset, run_data.tfds_dir(config.run.data.tfds_dir),
                           config.run.data.data_dir or None, config.run.data.image_size,
                           config.run.data.max_per_class)
    extra.append(other.summary)
  pick = np.random.default_rng(0).choice(len(data.train.images), config.augment_figure_images, replace=False)
  augment.example_grid(augment.build(config.run.augment), data.train.images[pick],
                       os.path.join(workdir, "augmentations.png"))

  net_summaries = [_train(config, name, workdir, manifest) for name in config.models]
  base_summaries = _baselines(config, data, workdir)

  drop_base = config.drop_baseline if config.drop_baseline in config.models else \
      max(net_summaries, key=lambda s: evaluate.split_row(s, "val")["auc"])["model"]
  histories = {}
  for s in net_summaries:
    with open(os.path.join(s["run_dir"], "history.json")) as f:
      histories[s["model"]] = json.load(f)
  test_scores = {}
  for s in net_summaries + base_summaries:
    _, evals = evaluate.read(s["run_dir"])
    test_scores[s["model"]] = (evals["test"].labels, evals["test"].scores)
  report.write_report(
      workdir, "smile_jax main job", net_summaries + base_summaries, histories, test_scores,
      baseline=drop_base,
      sections=[("Data", _data_section(data, extra)),
                ("Augmentations (report Figure 1)", "![augmentations](augmentations.png)")])

  sections = []
  chosen = config.chosen if config.chosen in config.models else config.models[0]
  chosen_run_dir = os.path.join(os.path.abspath(workdir), "runs", chosen)
  search_summary = None
  if config.search.enabled:
    search_summary = _search(config, workdir, manifest, net_summaries)
    if search_summary["chosen"]:
      chosen_run_dir = search_summary["chosen"]["run_dir"]
    with open(os.path.join(workdir, "search", "search.md")) as f:
      body = f.read().split("\n", 1)[1].replace("](search_figure.png)", "](search/search_figure.png)")
    sections.append((f"Reduction search ({config.search.mode}, report Figure 3)", body))
  deployed = None
  if config.deploy.enabled:
    deployed = deploy_lib.deploy_run(chosen_run_dir, os.path.join(workdir, "deploy"), config.deploy)
    path = deploy_report.write(os.path.join(workdir, "deploy"), deployed, config.deploy.energy,
                               hardware.get("apollo3-report").ops_per_second)
    with open(path) as f:
      heading, body = f.read().split("\n", 1)
    sections.append((heading.lstrip("# "), body.replace("### ", "#### ")))
  if sections:
    with open(os.path.join(workdir, "report.md"), "a") as f:
      f.write("".join(f"\n## {h}\n\n{b}\n" for h, b in sections))
  summary = {
      "dataset": data.dataset.name,
      "split_manifest": os.path.abspath(manifest),
      "models": [
          {"name": s["model"], "split": r["split"], "auc": r["auc"], "accuracy": r["accuracy"],
           "precision": r["precision"], "recall": r["recall"], "macs": s["macs"],
           "params": s["params"], "run_dir": s.get("run_dir")}
          for s in net_summaries + base_summaries for r in s["splits"]],
      "chosen_run_dir": chosen_run_dir,
      "datasets": {s["dataset"]: {k: s[k] for k in ("examples", "faces_found", "face_detection_rate")}
                   | {"skipped": len(s["skipped"])} for s in [data.dataset.summary] + extra},
  }
  if search_summary is not None:
    summary["search"] = {k: search_summary[k] for k in
                         ("mode", "budget_macs", "candidates_trained", "wall_time_s", "chosen", "front")}
  if deployed is not None:
    summary["deploy"] = [{k: b[k] for k in DEPLOY_KEYS} for b in deployed["builds"]]
  with open(os.path.join(workdir, "summary.json"), "w") as f:
    json.dump(summary, f, indent=1)
  return summary


DEPLOY_KEYS = ("board", "dtype", "macs", "instructions", "cycles", "cycles_per_mac", "latency_ms_48mhz",
               "flash_bytes", "ram_bytes", "parity_max_abs_diff", "test_auc", "fits_sparkfun_edge",
               "kernels", "arena_bytes", "latency_ms_96mhz", "float_test_auc")


def _search(config, workdir: str, manifest: str, net_summaries: list[dict]) -> dict:
  """Runs the reduction search on the job's split; the root's val AUC from the job is AUC0."""
  cfg = ml_collections.ConfigDict({"run": config.run.to_dict(), "search": config.search.to_dict()})
  cfg.run.data.split_manifest = manifest
  trained = {s["model"]: s for s in net_summaries}
  if cfg.search.baseline_auc <= 0 and cfg.search.root in trained:
    cfg.search.baseline_auc = evaluate.split_row(trained[cfg.search.root], "val")["auc"]
  return runner.run_search(cfg, os.path.join(workdir, "search"))

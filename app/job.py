"""The main job, end to end: data -> split -> the report's models -> baselines -> search ->
deploy of the chosen net to the Apollo3 (compile, QEMU parity, profile) -> the robot's pipeline
(face locator, the whole pipeline deployed, the robot's-eye frames) -> report.

`run_main_job(config, workdir)` is what `experiments.main` calls and what tests call with a smoke
config. Every step reuses what an earlier, interrupted job left: built datasets, the split
manifest, and each model's run directory (which resumes from its checkpoints).

Workdir: `split.json`, `augmentations.png`, `runs/<model>/` (one training run each),
`baselines/<name>/metrics.json`, `search/`, `deploy/` (app/deploy.py; `deploy/pipeline/`: the
robot's whole pipeline), `locator/` (app/locator.py), `report.md` + figures, `summary.json`.
"""

from __future__ import annotations

import os

import ml_collections
import numpy as np

from compile import deploy_report, firmware
from app import deploy as deploy_lib, robot as robot_lib
from smile_jax.io import jsonfile
from smile_jax.train import run as run_lib
from smile_jax.cost import hardware
from smile_jax.data import augment, builders, run_data
from smile_jax.eval import baselines as baselines_lib, evaluate, report
from smile_jax.search import runner


def _train(config, name: str, workdir: str, manifest: str) -> run_lib.RunOutcome:
  cfg = config.run.copy_and_resolve_references()
  cfg.model = name
  cfg.data.split_manifest = manifest
  return run_lib.train_evaluate_report(cfg, os.path.join(workdir, "runs", name))


def _baselines(config, data: run_data.RunData, workdir: str) -> list[tuple[dict, dict]]:
  """Each baseline scored on val and test into `baselines/<name>/`, laid out like a run's metrics;
  (metrics.json content, split -> SplitEval) each. A finished one (an earlier job) is read back."""
  smiled_dir = os.path.join(data.dataset.summary["source"], "smileD")
  out = []
  for name, score_fn in baselines_lib.available(config.baselines, smiled_dir).items():
    out_dir = os.path.join(workdir, "baselines", name)
    if os.path.exists(os.path.join(out_dir, "metrics.json")):
      out.append(evaluate.read(out_dir))
      continue
    os.makedirs(out_dir, exist_ok=True)
    evals = {s: evaluate.SplitEval(s, getattr(data, s).labels, score_fn(getattr(data, s).images))
             for s in ("val", "test")}
    summary = evaluate.summarize(name, None, evals, config.run.eval,
                                 {"run_dir": os.path.abspath(out_dir)})
    evaluate.write(out_dir, summary, evals)
    out.append((summary, evals))
  return out


def _data_section(data: run_data.RunData, extra: list[dict]) -> str:
  lines = ["| dataset | images | smiling | skipped files | faces found |", "|---|--:|--:|--:|--:|"]
  for summary in [data.dataset.summary] + extra:
    lines.append(
        f"| {summary['dataset']} ({summary['config']}) | {summary['examples']:,} | "
        f"{100 * summary['smiling'] / max(1, summary['examples']):.1f}% | "
        f"{len(summary['skipped'])} | "
        f"{100 * summary['face_detection_rate']:.1f}% |")
  split = ", ".join(
      f"{n} {len(getattr(data, n).labels):,} ({100 * getattr(data, n).labels.mean():.1f}% smiling)"
      for n in ("train", "val", "test"))
  skipped = [
      f"- `{k['path']}`: {k['reason']}" for summary in [data.dataset.summary] + extra
      for k in summary["skipped"][:20]
  ]
  dup = data.duplicates
  copies = (
      "Duplicates: not checked (this manifest predates duplicate detection; delete it to "
      "re-split)." if dup is None else
      f"Duplicates: {dup['images_with_copies']} images are exact or near copies of another "
      f"(256-bit difference hash within {dup['max_distance']} bits), in {dup['groups']} groups; "
      "each group is kept in one split, so no copy of a photo is both trained on and tested.")
  return "\n".join(lines + [
      "", f"Split (`{os.path.basename(data.manifest_path)}`): {split}.", "", copies, "", *(
          ["Skipped files (first 20 per dataset):", ""] + skipped if skipped else [])
  ])


def _datasets(config, workdir: str) -> tuple[run_data.RunData, list[dict]]:
  """The run's data (built, split: the manifest written), the cross dataset's build summary,
  and the augmentation figure."""
  data = run_data.load(config.run.data, workdir)
  extra = []
  if config.cross_dataset:
    other = builders.build(config.cross_dataset, run_data.tfds_dir(config.run.data.tfds_dir),
                           config.run.data.data_dir or None, config.run.data.image_size,
                           config.run.data.max_per_class)
    extra.append(other.summary)
  pick = np.random.default_rng(0).choice(len(data.train.images), config.augment_figure_images,
                                         replace=False)
  augment.example_grid(augment.build(config.run.augment), data.train.images[pick],
                       os.path.join(workdir, "augmentations.png"))
  return data, extra


def run_main_job(config, workdir: str) -> dict:
  """Runs the whole job; returns the summary.json content (with absolute paths)."""
  os.makedirs(workdir, exist_ok=True)
  if config.deploy.enabled:
    firmware.check_toolchain()   # fail before an hour of training, not after
  manifest = os.path.join(workdir, "split.json")
  data, extra = _datasets(config, workdir)
  nets = [_train(config, name, workdir, manifest) for name in config.models]
  net_summaries = [n.summary for n in nets]
  baselines = _baselines(config, data, workdir)
  sections = [("Data", _data_section(data, extra)),
              ("Augmentations (report Figure 1)", "![augmentations](augmentations.png)")]
  chosen = config.chosen if config.chosen in config.models else config.models[0]
  chosen_run_dir = os.path.join(os.path.abspath(workdir), "runs", chosen)
  search = None
  if config.search.enabled:
    search = _search(config, workdir, manifest, net_summaries)
    if search.summary["chosen"]:
      chosen_run_dir = search.summary["chosen"]["run_dir"]
    sections.append(search.section(figure_path="search/search_figure.png"))
  deployed = None
  if config.deploy.enabled:
    deployed = deploy_lib.deploy_run(chosen_run_dir, os.path.join(workdir, "deploy"), config.deploy)
    sections.append(
        deploy_report.write(
            os.path.join(workdir, "deploy"), deployed, config.deploy.energy,
            hardware.get("apollo3-report").ops_per_second))
  robot = None
  if config.deploy.enabled and config.robot.enabled:
    robot = robot_lib.run_robot_stage(config, workdir, chosen_run_dir)
    sections.append(robot.section)
  _report(config, workdir, nets, baselines, sections)
  summary = _summary(data, extra, manifest, net_summaries + [b for b, _ in baselines],
                     chosen_run_dir, search, deployed)
  if robot is not None:
    summary["device_pipeline"] = robot.summary
  jsonfile.dump(summary, os.path.join(workdir, "summary.json"), indent=1)
  return summary


def _report(config, workdir: str, nets, baselines, sections) -> None:
  net_summaries = [n.summary for n in nets]
  drop_base = config.drop_baseline if config.drop_baseline in config.models else \
      max(net_summaries, key=lambda s: evaluate.split_row(s, "val")["auc"])["model"]
  test_scores = {s["model"]: (evals["test"].labels, evals["test"].scores)
                 for s, evals in [(n.summary, n.evals) for n in nets] + baselines}
  report.write_report(workdir, "smile_jax main job", net_summaries + [b for b, _ in baselines],
                      {n.summary["model"]: n.history for n in nets}, test_scores,
                      baseline=drop_base, sections=sections)


def _summary(data, extra, manifest, summaries, chosen_run_dir, search, deployed) -> dict:
  """summary.json's content: per model and split its metrics, the chosen run, the datasets, the
  search's and the deployment's figures."""
  summary = {
      "dataset": data.dataset.name,
      "split_manifest": os.path.abspath(manifest),
      "models": [{"name": s["model"], "dataset": data.dataset.name, "split": r["split"],
                  "auc": r["auc"], "accuracy": r["accuracy"], "precision": r["precision"],
                  "recall": r["recall"], "macs": s["macs"], "params": s["params"],
                  "run_dir": s["run_dir"]} for s in summaries for r in s["splits"]],
      "chosen_run_dir": chosen_run_dir,
      "datasets": {s["dataset"]: {k: s[k] for k in ("examples", "faces_found",
                                                    "face_detection_rate")}
                   | {"skipped": len(s["skipped"])} for s in [data.dataset.summary] + extra},
  }
  if search is not None:
    summary["search"] = {k: search.summary[k] for k in SEARCH_KEYS}
  if deployed is not None:
    summary["deploy"] = [{k: b.get(k) for k in DEPLOY_KEYS} for b in deployed["builds"]]
  return summary


SEARCH_KEYS = ("mode", "budget_macs", "candidates_trained", "wall_time_s", "chosen", "front",
               "finalists", "references", "teacher")
DEPLOY_KEYS = ("board", "dtype", "macs", "instructions", "cycles", "cycles_per_mac",
               "latency_ms_48mhz", "linked_flash_bytes", "linked_ram_bytes", "parity_max_abs_diff", "test_auc",
               "test_auc_by_dataset",
               "fits_sparkfun_edge", "kernels", "arena_bytes", "latency_ms_96mhz", "float_test_auc",
               "dsp_kernels", "arena_lower_bound_bytes", "stack_bytes_measured",
               "stall_cycles_48mhz", "stall_cycles_96mhz", "weights_in_sram", "model_ram_bytes",
               # int8 only (null for float): measured by the firmware, and the CMSIS-NN peer.
               "firmware_test_auc", "firmware_test_auc_by_dataset", "cmsis_nn_cycles_per_mac")


def _search(config, workdir: str, manifest: str, net_summaries: list[dict]) -> runner.SearchResult:
  """Runs the reduction search on the job's split; the root's val AUC from the job is AUC0."""
  cfg = ml_collections.ConfigDict({"run": config.run.to_dict(), "search": config.search.to_dict()})
  cfg.run.data.split_manifest = manifest
  trained = {s["model"]: s for s in net_summaries}
  if cfg.search.baseline_auc <= 0 and cfg.search.root in trained:
    cfg.search.baseline_auc = evaluate.split_row(trained[cfg.search.root], "val")["auc"]
  return runner.run_search(cfg, os.path.join(workdir, "search"))

"""Evaluating a trained run on its val and test splits, as the report's Table 2 does, and more.

Per split: AUC with a bootstrap 95% interval, accuracy / precision / recall at 0.5 (Table 2's
threshold) and at the threshold that maximises val accuracy, average precision, and the curves.
`evaluate_run` writes `metrics.json` and `scores_{split}.npz`; the report is made from those.
"""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np

from smile_jax.io import jsonfile
from smile_jax.models import infer
from smile_jax.eval import metrics
from smile_jax.models import spec as spec_lib


@dataclasses.dataclass
class SplitEval:
  split: str
  labels: np.ndarray
  scores: np.ndarray
  domains: np.ndarray | None = None   # the dataset of each image, when a split mixes several

  def by_dataset(self) -> dict[str, float] | None:
    """AUC per dataset when the split holds more than one, else None."""
    if self.domains is None or len(set(self.domains.tolist())) < 2:
      return None
    return metrics.auc_by_group(self.labels, self.scores, self.domains)

  def summary(self, threshold: float, val_threshold: float, bootstrap: int, seed: int) -> dict:
    at = metrics.at_threshold(self.labels, self.scores, threshold)
    at_val = metrics.at_threshold(self.labels, self.scores, val_threshold)
    lo, hi = metrics.bootstrap_auc_ci(self.labels, self.scores, bootstrap, seed)
    by_dataset = self.by_dataset()
    mixed = {} if by_dataset is None else {
        "auc_by_dataset": by_dataset, "mean_dataset_auc": float(np.mean(list(by_dataset.values())))}
    return mixed | {
        "split": self.split, "n": int(len(self.labels)), "positives": int(self.labels.sum()),
        "auc": metrics.roc_auc(self.labels, self.scores), "auc_ci95": [lo, hi],
        "average_precision": metrics.average_precision(self.labels, self.scores),
        "log_loss": metrics.log_loss(self.labels, self.scores),
        "threshold": threshold, "accuracy": at.accuracy, "precision": at.precision,
        "recall": at.recall, "f1": at.f1,
        "val_threshold": val_threshold, "accuracy_at_val_threshold": at_val.accuracy,
        "precision_at_val_threshold": at_val.precision, "recall_at_val_threshold": at_val.recall,
    }


def summarize(name: str, spec: spec_lib.ModelSpec | None, evals: dict[str, SplitEval], eval_cfg,
              extra: dict | None = None) -> dict:
  """metrics.json content for one model: a row per split plus the model's cost."""
  val_threshold = metrics.best_accuracy_threshold(evals["val"].labels, evals["val"].scores) \
      if "val" in evals else eval_cfg.threshold
  rows = [e.summary(eval_cfg.threshold, val_threshold, eval_cfg.bootstrap_samples,
                    eval_cfg.bootstrap_seed) for e in evals.values()]
  out = {"model": name, "splits": rows,
         "macs": spec_lib.total_macs(spec) if spec else None,
         "params": spec_lib.total_params(spec) if spec else None}
  out.update(extra or {})
  return out


def split_row(summary: dict, split: str) -> dict:
  """One split's row of a metrics.json summary."""
  return next(r for r in summary["splits"] if r["split"] == split)


def choice_auc(row: dict) -> float:
  """The AUC choices are made on: the mean over datasets when a split mixes several (each domain
  weighs alike), else the AUC (the same figure training keeps its best epoch by)."""
  return row.get("mean_dataset_auc", row["auc"])


def write(workdir: str, summary: dict, evals: dict[str, SplitEval]) -> None:
  jsonfile.dump(summary, os.path.join(workdir, "metrics.json"), indent=1)
  for split, split_eval in evals.items():
    domains = {} if split_eval.domains is None else {"domains": split_eval.domains}
    np.savez(
        os.path.join(workdir, f"scores_{split}.npz"),
        labels=split_eval.labels,
        scores=split_eval.scores,
        **domains)


def read(workdir: str) -> tuple[dict, dict[str, SplitEval]]:
  summary = jsonfile.load(os.path.join(workdir, "metrics.json"))
  evals = {}
  for row in summary["splits"]:
    scores_npz = np.load(os.path.join(workdir, f"scores_{row['split']}.npz"))
    evals[row["split"]] = SplitEval(row["split"], scores_npz["labels"], scores_npz["scores"],
                                    scores_npz["domains"] if "domains" in scores_npz else None)
  return summary, evals


def read_history(workdir: str) -> list[dict]:
  """A finished run's per-epoch history (history.json)."""
  with open(os.path.join(workdir, "history.json")) as file:
    return json.load(file)


def evaluate_run(result, config, workdir: str) -> tuple[dict, dict[str, SplitEval]]:
  """Scores a `TrainResult`'s kept weights on val and test; writes metrics.json and the scores,
  and returns (metrics.json content, split -> SplitEval)."""
  evals = {}
  for split in ("val", "test"):
    part = getattr(result.data, split)
    scores, _ = infer.predict_scores(result.state.apply_fn, result.variables, part.images,
                                    config.train.eval_batch_size)
    evals[split] = SplitEval(split, part.labels, scores, part.domain)
  summary = summarize(result.spec.name, result.spec, evals, config.eval,
                      {"best_epoch": result.best_epoch, "run_dir": os.path.abspath(workdir)})
  write(workdir, summary, evals)
  return summary, evals

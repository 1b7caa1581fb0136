"""The Markdown report of a run or a job: the report's Table 2, its figures, and the data notes.

`write_report` takes `metrics.json` summaries (nets and non-neural baselines alike), the training
histories, and the test scores; it writes `report.md` and the PNG figures beside it.

"AUC drop" follows the report: the relative loss of AUC - 0.5 against the baseline model,
1 - (AUC - 0.5) / (AUC_baseline - 0.5), on the same split.
"""

from __future__ import annotations

import os

from smile_jax.eval import plots


def _fmt(value, spec: str = ".3f") -> str:
  if value is None:
    return "-"
  if isinstance(value, int):
    return f"{value:,}"
  return format(value, spec)


def auc_drop(auc: float, baseline_auc: float) -> float:
  return 1.0 - (auc - 0.5) / (baseline_auc - 0.5)


def table2(summaries: list[dict], baseline: str | None) -> str:
  """Table 2: model, set, AUC [95% CI], AUC drop, accuracy / precision / recall at 0.5, params,
  MACs."""
  base = {
      row["split"]: row["auc"] for summary in summaries if summary["model"] == baseline
      for row in summary["splits"]
  }
  lines = ["| model | set | AUC [95% CI] | AUC drop | accuracy | precision | recall | "
           "acc. @ val thr. | parameters | MACs / inference |",
           "|---|---|---|--:|--:|--:|--:|--:|--:|--:|"]
  for summary in summaries:
    for row in summary["splits"]:
      drop = auc_drop(row["auc"], base[row["split"]]) if row["split"] in base else None
      lo, hi = row["auc_ci95"]
      # A split of several datasets: the pooled AUC, then each dataset's.
      per_dataset = "".join(f"; {name} {auc:.3f}"
                            for name, auc in row.get("auc_by_dataset", {}).items())
      lines.append(
          f"| {summary['model']} | {row['split']} | {row['auc']:.3f} [{lo:.3f}, {hi:.3f}]"
          f"{per_dataset} | "
          f"{'-' if drop is None else f'{100 * drop:.0f}%'} | {row['accuracy']:.3f} | "
          f"{row['precision']:.3f} | {row['recall']:.3f} | "
          f"{row['accuracy_at_val_threshold']:.3f} | {_fmt(summary.get('params'))} | "
          f"{_fmt(summary.get('macs'))} |")
  return "\n".join(lines)


def write_report(workdir: str, title: str, summaries: list[dict], histories: dict[str, list[dict]],
                 test_scores: dict[str, tuple], baseline: str | None = None,
                 sections: list[tuple[str, str]] = ()) -> str:
  """Writes `report.md` (+ loss/ROC/PR PNGs) in `workdir`; returns its path.

  `test_scores`: model -> (labels, scores) on the test split; `sections`: extra (heading, markdown).
  """
  figures = []
  if histories:
    figures.append(("Loss curves (Figure 2)",
                    plots.loss_curves(histories, os.path.join(workdir, "loss_curves.png"))))
  if test_scores:
    figures.append(
        ("ROC, test (Figure 5)", plots.roc_curves(test_scores,
                                                  os.path.join(workdir, "roc_test.png"))))
    figures.append(("Precision-recall, test (Figure 4)",
                    plots.pr_curves(test_scores, os.path.join(workdir, "pr_test.png"))))
  parts = [
      f"# {title}", "", "## Results (report Table 2)", "",
      f"Threshold 0.5 for accuracy, precision and recall, as in the report; the column "
      f"\"acc. @ val thr.\" uses the threshold that maximises accuracy on val. AUC drop is "
      f"relative to **{baseline or 'none'}** (1 - (AUC - 0.5) / (AUC_baseline - 0.5)). "
      f"MACs are per 64x64 inference at batch 1. Non-neural baselines score with brightness or "
      f"cascade neighbour counts, not probabilities: read their accuracy at the val threshold.", "",
      table2(summaries, baseline), ""
  ]
  for heading, body in sections:
    parts += [f"## {heading}", "", body, ""]
  if figures:
    parts += ["## Figures", ""]
    parts += [f"### {name}\n\n![{name}]({os.path.basename(path)})\n" for name, path in figures]
  path = os.path.join(workdir, "report.md")
  with open(path, "w") as file:
    file.write("\n".join(parts))
  return path


def write_run_report(workdir: str, summary: dict, history: list[dict], evals: dict,
                     sections: list[tuple[str, str]] = ()) -> str:
  """The report of one training run: its metrics, loss curves and test curves, then `sections`."""
  name = summary["model"]
  test = {name: (evals["test"].labels, evals["test"].scores)} if "test" in evals else {}
  return write_report(workdir, f"Run: {name}", [summary], {name: history}, test, baseline=None,
                      sections=sections)

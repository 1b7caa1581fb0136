"""How a search is shown: report Figure 3 (two panels) and the Markdown tables of its front, its
reference nets and its teacher.

Left panel: every trained candidate's short-training val AUC against MACs, the feasible Pareto
front, the cut-off and the budget (the report's Figure 3). Right panel: what full training gave,
against the estimated int8 latency on the Apollo3 at 48 MHz: the retrained finalists and the
hand-designed reference nets of the same run, labelled, so a reader sees whether the search beat
them; the teacher, far off that axis, is a dashed line.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from smile_jax.cost import board  # noqa: E402
from smile_jax.search.judging import mean_val_auc  # noqa: E402


def figure3(cands, front, beta: float, budget: int, path: str, chosen=None, finals=None,
            references=(), teacher=None) -> str:
  """Writes the figure to `path`. `finals`: hash -> full-run row; `references`: their rows."""
  fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
  left.scatter([c.cost.macs for c in cands], [c.mean_auc for c in cands], s=14, c="C0",
               alpha=0.6, label="candidates (mean val AUC over seeds)")
  left.plot([c.cost.macs for c in front], [c.mean_auc for c in front], "o-", color="C3", ms=5,
            label="Pareto front (feasible)")
  if chosen is not None:
    left.scatter([chosen.cost.macs], [chosen.mean_auc], marker="*", s=180, c="gold",
                 edgecolors="k", zorder=5, label=f"chosen: {chosen.spec.name}")
  left.axhline(beta, color="k", ls="--", lw=1, label=f"quality cut-off {beta:.3f}")
  left.axvline(budget, color="k", ls=":", lw=1, label=f"budget {budget / 1e6:.2f} M MACs")
  left.set_xscale("log")
  left.set(xlabel="MACs per inference (log)", ylabel="val AUC (short training)",
           title="Search: val AUC vs cost (report Figure 3)")
  left.legend(fontsize=7, loc="lower right")

  by_hash = {c.hash: c for c in cands}
  for cand_hash, row in (finals or {}).items():
    latency = board.board_cost(by_hash[cand_hash].spec).latency_ms or 0.0
    is_chosen = chosen is not None and cand_hash == chosen.hash
    right.scatter([latency], [mean_val_auc(row)], marker="*" if is_chosen else "o",
                  s=180 if is_chosen else 40, c="gold" if is_chosen else "C3", edgecolors="k",
                  zorder=5)
    right.annotate(row["name"], (latency, mean_val_auc(row)), fontsize=7, xytext=(4, 4),
                   textcoords="offset points")
  for row in references:
    latency = row["est_latency_ms_48mhz"] or 0.0
    right.scatter([latency], [mean_val_auc(row)], marker="s", s=36, c="C2", edgecolors="k")
    right.annotate(row["name"], (latency, mean_val_auc(row)), fontsize=7, xytext=(4, -10),
                   textcoords="offset points")
  if teacher is not None:
    right.axhline(teacher["val_auc"], color="C1", ls="--", lw=1,
                  label=f"{_teacher_name(teacher)} ({teacher['macs'] / 1e6:.0f} M MACs)")
    right.legend(fontsize=7, loc="lower right")
  right.set(xlabel="estimated int8 latency at 48 MHz (ms)",
            ylabel="val AUC (full training, mean over seeds)",
            title="Full training: finalists (circles, star: chosen), references (squares)")
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)
  return path


def _teacher_name(teacher: dict) -> str:
  name = teacher["name"]
  return "teacher" if name == "teacher" else f"{name} (teacher)"


def _num(value) -> str:
  return "-" if value is None else f"{value:.3f}"


def auc_cell(row: dict, split: str) -> str:
  """A full run's AUC on `split`, with each dataset's after it when the split mixes several."""
  value = _num(row.get(f"{split}_auc"))
  by_dataset = row.get(f"{split}_auc_by_dataset")
  if not by_dataset:
    return value
  return value + " (" + ", ".join(f"{name} {auc:.3f}" for name, auc in by_dataset.items()) + ")"


def _cost_cells(costs: board.BoardCost) -> str:
  latency = "-" if costs.latency_ms is None else f"{costs.latency_ms:.0f} ms"
  return (f"{costs.macs:,} | {latency} | {costs.peak_ram_bytes:,} B | "
          f"{costs.est_flash_bytes:,} B")


COST_HEADER = "MACs | est. latency (int8, 48 MHz) | peak RAM (int8) | est. flash (int8)"


def mean_sd(values, digits: int = 4) -> str:
  """`mean ± sd` (sample sd; 0 for one value) of seeds' AUCs."""
  mean = sum(values) / len(values)
  sd = (sum((v - mean) ** 2 for v in values) / max(1, len(values) - 1)) ** 0.5
  return f"{mean:.{digits}f} ± {sd:.{digits}f}"


def front_table(front, finals: dict) -> str:
  """Markdown table of the front; full-recipe val/test AUC only for the retrained finalists (val:
  the mean over datasets when there are several, then each dataset's)."""
  lines = [f"| candidate | reduction | {COST_HEADER} | val AUC (short, mean ± sd) | "
           "val AUC (full) | test AUC (full) |", "|---|---|--:|--:|--:|--:|--:|--:|--:|"]
  for cand in front:
    final = finals.get(cand.hash, {})
    lines.append(
        f"| {cand.spec.name} | {cand.reduction} | "
        f"{_cost_cells(board.board_cost(cand.spec))} | "
        f"{mean_sd(cand.aucs, 3)} | {auc_cell(final, 'val')} | {auc_cell(final, 'test')} |")
  return "\n".join(lines)


def spread_cell(row: dict, split: str) -> str:
  """A seeded row's AUC on `split` as mean ± sd over its seeds (full_training.seeded_runs), each
  dataset's after it; a row of one seed as `auc_cell`."""
  seeds = row.get("seeds", [])
  if len(seeds) < 2:
    return auc_cell(row, split)
  cell = f"{mean_sd([run[f'{split}_auc'] for run in seeds])} ({len(seeds)} seeds)"
  names = seeds[0].get(f"{split}_auc_by_dataset", {})
  if names:
    cell += " (" + ", ".join(
        f"{name} {mean_sd([run[f'{split}_auc_by_dataset'][name] for run in seeds])}"
        for name in names) + ")"
  return cell


def finalist_table(finalists, finals: dict, chosen=None, challengers=()) -> str:
  """Markdown table of the finalists after full training, over their seeds: val AUC (what the
  one-SE choice reads, judging.choose) and test AUC, reported, as mean ± sd; `challengers`
  (judging.challengers, among `finalists`) are marked, and a net that took a reference's
  runs (full_training.same_net_runs) names it."""
  lines = [f"| finalist | {COST_HEADER} | val AUC (short) | val AUC (full) | test AUC (full) |",
           "|---|--:|--:|--:|--:|--:|--:|--:|"]
  for cand in finalists:
    final = finals[cand.hash]
    mark = " (chosen)" if chosen is not None and cand.hash == chosen.hash else ""
    mark += " (challenger)" if cand in challengers else ""
    mark += f" (= {final['same_net_as']})" if final.get("same_net_as") else ""
    lines.append(
        f"| {cand.spec.name}{mark} | {_cost_cells(board.board_cost(cand.spec))} | "
        f"{cand.mean_auc:.3f} | {spread_cell(final, 'val')} | {spread_cell(final, 'test')} |")
  return "\n".join(lines)


def _names(names) -> str:
  return ", ".join(names) if names else "none"


def reference_table(references: list[dict], teacher: dict | None) -> str:
  """Markdown rows of the reference nets (and the teacher), trained with the finalists' recipe;
  a reference that is a finalist's net (full_training.train_references) names it."""
  lines = [f"| net | {COST_HEADER} | val AUC (full) | test AUC (full) | dominated by "
           "(val, latency) | dominated by (val, flash) |", "|---|--:|--:|--:|--:|--:|--:|--|--|"]
  for row in references:
    costs = board.BoardCost(row["macs"], row["est_flash_bytes"], row["peak_ram_bytes"],
                            row["est_latency_ms_48mhz"])
    by = row.get("dominated_by", {})
    same = f", = {row['same_net_as']}" if row.get("same_net_as") else ""
    lines.append(f"| {row['name']} (reference{same}) | {_cost_cells(costs)} | "
                 f"{spread_cell(row, 'val')} | {spread_cell(row, 'test')} | "
                 f"{_names(by.get('est_latency_ms_48mhz'))} | {_names(by.get('est_flash_bytes'))} |")
  if teacher is not None:
    lines.append(f"| {_teacher_name(teacher)} | {teacher['macs']:,} | - | - | - | "
                 f"{auc_cell(teacher, 'val')} | {auc_cell(teacher, 'test')} | | |")
  return "\n".join(lines)

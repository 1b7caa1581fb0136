r"""How well the search's proxy ranks nets: short-training val AUC vs full-training val AUC.

  .venv/bin/python -m benchmarks.proxy_quality --config=configs/search.py:compact \
      --workdir=runs/search --nets=8 [--json=proxy.json]

Reads the candidates a finished (or partial) search stored in `<workdir>/runs.sqlite`, picks
`--nets` of them spread evenly over their short-training val AUC (mean over seeds), trains each
with the search's full recipe (one seed, `<workdir>/proxy/<hash>/`, resumable), and prints the
Spearman rank correlation between the two AUCs with a table and a scatter plot
(`<workdir>/proxy_quality.png`). A high correlation says the search's ranking of short trainings
is the ranking full training would give; a low one says its choices are partly noise.
`--config` must be the search's config (the same recipe, datasets and teacher).
"""

import json
import os

import numpy as np
from absl import flags
from ml_collections import config_flags
from scipy import stats

from experiments import cli
from smile_jax.data import run_data
from smile_jax.models import spec as spec_lib
from smile_jax.search import full_training, short_training
from smile_jax.search.store import RunStore

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", "configs/search.py:compact", "The search's config.")
flags.DEFINE_string("workdir", None, "A search directory (holds runs.sqlite).")
flags.DEFINE_integer("nets", 8, "Candidates to train fully.")
flags.DEFINE_string("json", "", "Also write the table as JSON here.")
flags.mark_flags_as_required(["workdir"])


def spread_pick(rows: list[dict], count: int) -> list[dict]:
  """`count` rows evenly spaced in rank of short val AUC (all of them when there are fewer)."""
  ranked = sorted(rows, key=lambda row: row["short_val_auc"])
  if len(ranked) <= count:
    return ranked
  return [ranked[int(round(i))] for i in np.linspace(0, len(ranked) - 1, count)]


def candidates(store: RunStore) -> list[dict]:
  """Each stored candidate with every seed done: its spec and mean short val AUC."""
  by_hash: dict = {}
  for row in store.all():
    by_hash.setdefault(row["hash"], []).append(row)
  out = []
  for rows in by_hash.values():
    done = [row["val_auc"] for row in rows if row["status"] == "done"]
    if done and len(done) == len(rows):
      out.append({"spec": spec_lib.ModelSpec.from_json(rows[0]["spec_json"]),
                  "short_val_auc": float(np.mean(done)), "seeds": len(done)})
  return out


def main(_):
  config, workdir = FLAGS.config, FLAGS.workdir
  store = RunStore(os.path.join(workdir, "runs.sqlite"))
  picked = spread_pick(candidates(store), FLAGS.nets)
  store.close()
  if len(picked) < 3:
    raise SystemExit(f"{workdir}/runs.sqlite holds {len(picked)} finished candidates; a rank "
                     "correlation needs at least 3: run the search first")
  data = run_data.load(full_training.full_recipe(config).data, workdir)
  config = full_training.with_teacher(config, full_training.train_teacher(config, workdir, data))
  data_for = short_training.data_by_input(data)
  rows = []
  for row in picked:
    spec = row["spec"]
    full = full_training.full_run(full_training.full_recipe(config),
                                  os.path.join(workdir, "proxy", spec.canonical_hash()), spec,
                                  data_for(spec))
    rows.append({"name": spec.name, "macs": spec_lib.total_macs(spec),
                 "short_val_auc": row["short_val_auc"], "full_val_auc": full["val_auc"]})
  rho, p_value = stats.spearmanr([r["short_val_auc"] for r in rows],
                                 [r["full_val_auc"] for r in rows])
  print(f"Proxy quality over {len(rows)} nets ({config.search.epochs}-epoch short trainings, "
        f"{config.search.seeds} seeds, vs {config.run.train.epochs}-epoch full, 1 seed):\n")
  print("| net | MACs | val AUC (short, mean) | val AUC (full) |\n|---|--:|--:|--:|")
  for row in rows:
    print(f"| {row['name']} | {row['macs']:,} | {row['short_val_auc']:.4f} | "
          f"{row['full_val_auc']:.4f} |")
  print(f"\nSpearman rank correlation: {rho:.2f} (p = {p_value:.3f})")
  _plot(rows, rho, os.path.join(workdir, "proxy_quality.png"))
  if FLAGS.json:
    with open(FLAGS.json, "w") as file:
      json.dump({"spearman": rho, "p_value": p_value, "nets": rows}, file, indent=1)


def _plot(rows, rho: float, path: str) -> None:
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  fig, ax = plt.subplots(figsize=(5, 4))
  ax.scatter([r["short_val_auc"] for r in rows], [r["full_val_auc"] for r in rows])
  for row in rows:
    ax.annotate(row["name"].split("~")[-1], (row["short_val_auc"], row["full_val_auc"]),
                fontsize=6)
  ax.set(xlabel="val AUC, short training (mean over seeds)", ylabel="val AUC, full training",
         title=f"Search proxy: Spearman {rho:.2f}")
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)
  print(f"figure: {path}")


if __name__ == "__main__":
  cli.run(main)

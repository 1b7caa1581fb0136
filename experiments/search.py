r"""Runs the reduction search; writes runs.sqlite, Figure 3, search.md and chosen_spec.json.

  .venv/bin/python -m experiments.search --config=configs/search.py --workdir=runs/search
  .venv/bin/python -m experiments.search --config=configs/search.py:algorithm1 --workdir=runs/alg1
"""

from absl import flags
from ml_collections import config_flags

from experiments import cli
from smile_jax.search import runner

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", "configs/search.py", "Search config.", lock_config=True)
flags.DEFINE_string("workdir", None, "Search directory (resumable).")
flags.mark_flags_as_required(["workdir"])


def main(argv):
  del argv
  summary = runner.run_search(FLAGS.config, FLAGS.workdir).summary
  print(
      f"{summary['mode']}: {summary['candidates_trained']} candidates in "
      f"{summary['wall_time_s'] / 60:.1f} min; "
      f"cut-off {summary['quality_cutoff']:.3f}")
  if summary["chosen"]:
    chosen = summary["chosen"]
    print(
        f"chosen {chosen['name']}: {chosen['macs']:,} MACs, val AUC {chosen['val_auc']:.4f}, test "
        f"AUC {chosen['test_auc']:.4f}")
  else:
    print("no feasible candidate cleared the cut-off")


if __name__ == "__main__":
  cli.run(main)

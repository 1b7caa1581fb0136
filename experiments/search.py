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
  s = runner.run_search(FLAGS.config, FLAGS.workdir).summary
  print(f"{s['mode']}: {s['candidates_trained']} candidates in {s['wall_time_s'] / 60:.1f} min; "
        f"cut-off {s['quality_cutoff']:.3f}")
  if s["chosen"]:
    c = s["chosen"]
    print(
        f"chosen {c['name']}: {c['macs']:,} MACs, val AUC {c['val_auc']:.4f}, test AUC "
        f"{c['test_auc']:.4f}"
    )
  else:
    print("no feasible candidate cleared the cut-off")


if __name__ == "__main__":
  cli.run(main)

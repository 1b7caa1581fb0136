r"""Trains and evaluates one model; writes checkpoints, metrics.json and report.md in --workdir.

  .venv/bin/python -m experiments.train --config=configs/default.py --workdir=runs/embedded
  .venv/bin/python -m experiments.train --config=configs/alexnet.py --workdir=runs/alexnet \
      --config.data.split_manifest=runs/main/split.json

Re-running the same command resumes from the workdir's last checkpoint.
"""

from absl import flags
from ml_collections import config_flags

from experiments import cli
from smile_jax.train import run as run_lib
from smile_jax.eval import evaluate

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", None, "Training config file.", lock_config=True)
flags.DEFINE_string("workdir", None, "Directory for checkpoints, metrics and the report.")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
  del argv
  summary = run_lib.train_evaluate_report(FLAGS.config, FLAGS.workdir).summary
  test = evaluate.split_row(summary, "test")
  print(f"{summary['model']}: test AUC {test['auc']:.4f}, accuracy {test['accuracy']:.4f}; "
        f"report: {FLAGS.workdir}/report.md")


if __name__ == "__main__":
  cli.run(main)

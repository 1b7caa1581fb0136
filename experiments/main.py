r"""The main job: datasets, the report's models trained and evaluated, report.md and summary.json.

  .venv/bin/python -m experiments.main --config=configs/main.py --workdir=runs/main
  .venv/bin/python -m experiments.main --config=configs/main.py:full --workdir=runs/full

Re-running the same command resumes: finished models are not retrained.
"""

from absl import flags
from ml_collections import config_flags

from experiments import cli
from app import job

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", "configs/main.py", "Main job config.", lock_config=True)
flags.DEFINE_string("workdir", "runs/main", "Directory for everything the job writes.")


def main(argv):
  del argv
  summary = job.run_main_job(FLAGS.config, FLAGS.workdir)
  for row in summary["models"]:
    if row["split"] == "test":
      print(f"{row['name']:>16}: test AUC {row['auc']:.4f}  accuracy {row['accuracy']:.4f}")
  print(f"report: {FLAGS.workdir}/report.md; chosen run: {summary['chosen_run_dir']}")


if __name__ == "__main__":
  cli.run(main)

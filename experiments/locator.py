r"""Builds the robot's face locator: draws frames, trains, chooses the threshold on val frames.

  .venv/bin/python -m experiments.locator --config=configs/locator.py --workdir=runs/locator \
      --config.locator.split_run=runs/main

Re-running the same command resumes (the drawn frames and the checkpoints stay in --workdir).
"""

from absl import flags
from ml_collections import config_flags

from app import locator
from experiments import cli

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", None, "Locator config file.", lock_config=True)
flags.DEFINE_string("workdir", None, "Directory for frames, checkpoints and locator.json.")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
  del argv
  build = locator.build_locator(FLAGS.config, FLAGS.workdir)
  val = build.val
  print(f"{build.summary['model']} ({build.summary['macs']:,} MACs): val frames faces found "
        f"{val.faces_found:.1%}, false faces {val.false_per_frame:.2f} per frame, "
        f"{val.false_per_empty_frame:.2f} per no-face frame at threshold {build.threshold}; "
        f"{FLAGS.workdir}/locator.json")


if __name__ == "__main__":
  cli.run(main)

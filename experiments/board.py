r"""Streams a deployed run's test split (or a folder of photos) through a board's firmware over
the serial protocol: QEMU here, the SparkFun Edge on its USB-serial port. See configs/board.py.

  .venv/bin/python -m experiments.board --workdir=runs/main --port=qemu
  .venv/bin/python -m experiments.board --workdir=runs/main --port=/dev/ttyUSB0 --images=photos/
"""

import os

from absl import flags
from ml_collections import config_flags

from experiments import cli
from app import board
from smile_jax.eval import predict

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", "configs/board.py", "Board-run configuration.")
flags.DEFINE_string("workdir", None, "Deployed training run (or main job) directory.")
flags.DEFINE_string("port", "qemu", "'qemu', or the board's serial port (e.g. /dev/ttyUSB0).")
flags.DEFINE_string("images", None, "A folder of photos instead of the run's test split.")
flags.DEFINE_string("output", None, "Output directory (default: <run>/board).")
flags.mark_flags_as_required(["workdir"])


def main(argv):
  del argv
  run_dir = predict.resolve_run_dir(FLAGS.workdir)
  out_dir = FLAGS.output or os.path.join(run_dir, "board")
  summary = board.board_run(run_dir, board.deploy_dir_of(FLAGS.workdir), FLAGS.port, out_dir,
                            FLAGS.config, FLAGS.images)
  print(board.markdown(summary))
  print(f"report: {os.path.join(out_dir, 'board.md')}")


if __name__ == "__main__":
  cli.run(main)

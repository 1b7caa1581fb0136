r"""Streams a deployed run's test split (or a folder of photos) through a board's firmware over
the serial protocol: QEMU here, the SparkFun Edge on its USB-serial port. See configs/board.py.

  .venv/bin/python -m experiments.board --workdir=runs/main --port=qemu
  .venv/bin/python -m experiments.board --workdir=runs/main --port=/dev/ttyUSB0 --images=photos/
"""

import os

from absl import flags

from experiments import cli
from app import board

FLAGS = flags.FLAGS
cli.define_run_and_output_flags("configs/board.py", "Board-run configuration.", "board")
flags.DEFINE_string("port", "qemu", "'qemu', or the board's serial port (e.g. /dev/ttyUSB0).")
flags.DEFINE_string("images", None, "A folder of photos instead of the run's test split.")


def main(argv):
  del argv
  run_dir, out_dir = cli.run_and_output_dirs("board")
  summary = board.board_run(run_dir, board.deploy_dir_of(FLAGS.workdir), FLAGS.port, out_dir,
                            FLAGS.config, FLAGS.images)
  print(board.markdown(summary))
  print(f"report: {os.path.join(out_dir, 'board.md')}")


if __name__ == "__main__":
  cli.run(main)

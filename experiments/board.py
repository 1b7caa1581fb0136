r"""Streams a deployed run's test split (or a folder of photos) through a board's firmware over
the serial protocol: QEMU here, the SparkFun Edge on its USB-serial port. See configs/board.py.

  .venv/bin/python -m experiments.board --workdir=runs/main --port=qemu
  .venv/bin/python -m experiments.board --workdir=runs/main --port=/dev/ttyUSB0 --images=photos/
  .venv/bin/python -m experiments.board --workdir=runs/main --port=qemu --images=frames/ \
      --pipeline=device

--pipeline=device streams whole camera frames (each image framed as the robot's camera frames
it) to a firmware running the robot's whole pipeline (face locator, crops, smile net; --locator,
a main job's own by default); board.json adds the agreement with the host reference.
"""

import os

from absl import flags

from app import board, board_pipeline, device_pipeline
from configs import deploy as deploy_config
from experiments import cli

FLAGS = flags.FLAGS
cli.define_run_and_output_flags("configs/board.py", "Board-run configuration.", "board")
flags.DEFINE_string("port", "qemu", "'qemu', or the board's serial port (e.g. /dev/ttyUSB0).")
flags.DEFINE_string("images", None, "A folder of photos instead of the run's test split.")
flags.DEFINE_enum("pipeline", "host", ["host", "device"],
                  "Face crops to the smile net alone, or whole frames to the robot's pipeline.")
flags.DEFINE_string("locator", "", "A built face locator (default: <workdir>/locator).")


def main(argv):
  del argv
  run_dir, out_dir = cli.run_and_output_dirs("board")
  if FLAGS.pipeline == "device":
    if not FLAGS.images:
      raise flags.ValidationError("--pipeline=device needs --images (camera frames or photos)")
    pipeline = device_pipeline.load_job(FLAGS.workdir, run_dir, deploy_config.get_config(),
                                        FLAGS.locator)
    frames, names = board_pipeline.folder_frames(FLAGS.images)
    summary = board_pipeline.board_frames(pipeline, frames, names, FLAGS.port,
                                          os.path.join(out_dir, "pipeline"), FLAGS.config)
    print(board_pipeline.markdown(summary))
  else:
    summary = board.board_run(run_dir, board.deploy_dir_of(FLAGS.workdir), FLAGS.port, out_dir,
                              FLAGS.config, FLAGS.images)
    print(board.markdown(summary))
  report_dir = os.path.join(out_dir, "pipeline") if FLAGS.pipeline == "device" else out_dir
  print(f"report: {os.path.join(report_dir, 'board.md')}")


if __name__ == "__main__":
  cli.run(main)

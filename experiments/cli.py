"""What every launcher shares: `run(main)`, which is `absl.app.run` with quiet logging by default,
and the flags and folders of the launchers that act on a trained run.

Libraries under the launchers (orbax's handler registry and metadata stores, absl, jax) log dozens
of INFO lines per run; a user wants warnings and our own progress. `--verbosity=0` (or 1 for
debug) shows everything again.
"""

import os

from absl import app, flags, logging
from ml_collections import config_flags

FLAGS = flags.FLAGS


def run(main) -> None:
  def quiet_main(argv):
    if not FLAGS["verbosity"].present:
      logging.set_verbosity(logging.WARNING)
    return main(argv)
  app.run(quiet_main)


def run_and_output_dirs(default_output: str) -> tuple[str, str]:
  """(the trained run of --workdir, a training run or a main job naming its chosen run; the
  output folder: --output, else <run>/`default_output`), for the launchers that take both."""
  # Imported here: it loads JAX and orbax, which the light launchers (merge_labels) never need.
  from smile_jax.eval import predict  # noqa: PLC0415
  run_dir = predict.resolve_run_dir(FLAGS.workdir)
  return run_dir, FLAGS.output or os.path.join(run_dir, default_output)


def define_run_and_output_flags(config_file: str, config_help: str, output: str) -> None:
  """--config (default `config_file`), --workdir (a trained run, or a main job) and --output
  (default <run>/`output`): the flags of the launchers that act on a trained run."""
  config_flags.DEFINE_config_file("config", config_file, config_help)
  flags.DEFINE_string("workdir", None, "Trained run (or main job) directory.")
  flags.DEFINE_string("output", None, f"Output directory (default: <run>/{output}).")
  flags.mark_flags_as_required(["workdir"])

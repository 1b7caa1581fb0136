"""What every launcher shares: `run(main)`, which is `absl.app.run` with quiet logging by default.

Libraries under the launchers (orbax's handler registry and metadata stores, absl, jax) log dozens
of INFO lines per run; a user wants warnings and our own progress. `--verbosity=0` (or 1 for
debug) shows everything again.
"""

from absl import app, flags, logging

FLAGS = flags.FLAGS


def run(main) -> None:
  def quiet_main(argv):
    if not FLAGS["verbosity"].present:
      logging.set_verbosity(logging.WARNING)
    return main(argv)
  app.run(quiet_main)

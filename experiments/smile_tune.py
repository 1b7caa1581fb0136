r"""Fine-tunes a trained run's smile net on face crops made the device's way (app/robot_smile.py).

  .venv/bin/python -m experiments.smile_tune --config=configs/smile_tune.py \
      --workdir=runs/smile_tune --config.smile_tune.run=runs/main

Re-running the same command resumes (the crops and the checkpoints stay in --workdir). The device
pipeline takes the tuned net with `--smile=<workdir>` (benchmarks/robot_eye.py).
"""

from absl import flags
from ml_collections import config_flags

from app import robot_smile
from experiments import cli
from smile_jax.eval import predict

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", None, "Tuning config file.", lock_config=True)
flags.DEFINE_string("workdir", None, "Directory for crops, checkpoints and tune.json.")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
  del argv
  if not FLAGS.config.smile_tune.run:
    raise flags.ValidationError("--config.smile_tune.run is empty: name a trained run or main job")
  summary = robot_smile.tune_smile(FLAGS.config, FLAGS.workdir,
                                   predict.resolve_run_dir(FLAGS.config.smile_tune.run))
  print(f"val AUC on device crops: {summary['val_auc_before']:.4f} -> "
        f"{summary['val_auc_after']:.4f} (epoch {summary['best_epoch']}); "
        f"{'adopted' if summary['adopted'] else 'not adopted'}; {FLAGS.workdir}/tune.json")


if __name__ == "__main__":
  cli.run(main)

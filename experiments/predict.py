r"""Scores every image under --images with a trained run; writes CSV `path,face_found,score`.

  .venv/bin/python -m experiments.predict --workdir=runs/main --images=photos/ --output=scores.csv

--workdir is a training run, or a main job's directory (its summary.json names the chosen run).
score = probability of "smiling"; an unreadable image gets an empty score and a warning.
"""

from absl import flags

from experiments import cli
from smile_jax.eval import predict

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "Trained run (or main job) directory.")
flags.DEFINE_string("images", None, "Folder of images, searched recursively.")
flags.DEFINE_string("output", None, "CSV file to write.")
flags.mark_flags_as_required(["workdir", "images", "output"])


def main(argv):
  del argv
  counts = predict.predict_folder(FLAGS.workdir, FLAGS.images, FLAGS.output)
  print(f"scored {counts['scored']} of {counts['files']} images ({counts['faces_found']} with a "
        f"detected face, {counts['unreadable']} unreadable) -> {FLAGS.output}")


if __name__ == "__main__":
  cli.run(main)

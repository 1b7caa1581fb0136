r"""Scores every image under --images with a trained run; writes a CSV.

  .venv/bin/python -m experiments.predict --workdir=runs/main --images=photos/ --output=scores.csv
  .venv/bin/python -m experiments.predict --workdir=runs/main --images=frames/ --output=scores.csv \
      --pipeline=device

--workdir is a training run, or a main job's directory (its summary.json names the chosen run).
`--pipeline=host` (the default): OpenCV's face detection and crop, then the float net; rows
`path,face_found,score`. `--pipeline=device`: what the robot computes, bit for bit: each image is
a camera frame (gray, scaled to cover 324 x 244 and centre-cropped), the int8 face locator
(--locator; a main job's own by default), the device's crops and the int8 smile net; rows
`path,face_found,score,faces,box`, the score the best face's (0 with no face). score =
probability of "smiling"; an unreadable image gets empty fields and a warning naming it.
"""

from absl import flags

from app import device_pipeline
from configs import deploy as deploy_config
from experiments import cli
from smile_jax.eval import predict

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "Trained run (or main job) directory.")
flags.DEFINE_string("images", None, "Folder of images, searched recursively.")
flags.DEFINE_string("output", None, "CSV file to write.")
flags.DEFINE_enum("pipeline", "host", ["host", "device"], "Whose pipeline scores the images.")
flags.DEFINE_string("locator", "", "A built face locator (default: <workdir>/locator).")
flags.mark_flags_as_required(["workdir", "images", "output"])


def main(argv):
  del argv
  if FLAGS.pipeline == "device":
    pipeline = device_pipeline.load_job(FLAGS.workdir, FLAGS.workdir, deploy_config.get_config(),
                                        FLAGS.locator)
    counts = device_pipeline.predict_folder(pipeline, FLAGS.images, FLAGS.output)
  else:
    counts = predict.predict_folder(FLAGS.workdir, FLAGS.images, FLAGS.output)
  print(f"scored {counts['scored']} of {counts['files']} images ({counts['faces_found']} with a "
        f"{'found' if FLAGS.pipeline == 'device' else 'detected'} face, {counts['unreadable']} "
        f"unreadable) -> {FLAGS.output}")


if __name__ == "__main__":
  cli.run(main)

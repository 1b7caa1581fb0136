r"""The robot's-eye benchmark: a trained net scored on camera frames by each pipeline, side by side.

  .venv/bin/python -m benchmarks.robot_eye --workdir=runs/main --output=runs/main/robot_eye
  # ~3 min on 2 cores with the defaults (the test split; 100 frames with no face and 100 with two)

The run's (or the main job's chosen run's) test photos, SMILEsmileD's face crops and GENKI-4K's
photos by the run's split manifests, are drawn into 324 x 244 sensor frames at three distances
(smile_jax/data/camera_frames.py), with frames holding no face and two. Each pipeline scores them:
`centre_square` (the firmware before it could find faces), `host` (OpenCV's face detection and
crop, as experiments.predict) and, with --pipelines and --locator, `device` (the robot's int8
pipeline: the learned face locator, the device's crop, the int8 smile net; compile/
face_pipeline.py) and `located` (the same locator and crop in float, the float smile net); or
`viola_jones` (the fixed-point Haar cascade, smile_jax/data/viola_jones.py; ~1.5 s a frame).
Prints, per frame kind, the AUC, the share of true faces found and the false faces per frame
(with --cost_frames, the device pipeline's cycles per stage); writes robot_eye.json and robot_eye_samples.png to
--output. Choices are made on --split=val; the test split is the default because it is what the
report quotes.
"""

import functools
import json
import os

import numpy as np
from absl import app, flags

from app import device_pipeline, robot
from compile import pipeline_firmware
from configs import deploy as deploy_config
from smile_jax.data import face_map, frame_sets, viola_jones
from smile_jax.eval import predict, robot_eye
from smile_jax.io import jsonfile
from smile_jax.models import infer, net, zoo

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "A training run, or a main job (its chosen run).")
flags.DEFINE_string("output", "", "Folder for robot_eye.json and the sample picture.")
flags.DEFINE_string("data_dir", "", "Raw datasets (default $SMILE_JAX_DATA_DIR or ../shared/datasets).")
flags.DEFINE_string("split", "test", "Which split's photos to draw (val for choices).")
flags.DEFINE_integer("per_class", 0, "At most this many photos per class and dataset (0: all).")
flags.DEFINE_integer("extra_frames", 100, "Frames with no face, and as many with two faces.")
flags.DEFINE_integer("seed", 0, "Frame seed.")
flags.DEFINE_list("pipelines", ["centre_square", "host"],
                  "Of centre_square, host, device (the learned locator's int8 pipeline, with "
                  "--locator), located (its float locator, the float smile net), viola_jones "
                  "(the fixed-point Haar cascade's reference).")
flags.DEFINE_string("locator", "", "A built face locator (experiments.locator's workdir).")
flags.DEFINE_string("smile", "", "The device pipeline's tuned smile net (a main job's "
                    "robot_smile/; default: the run's net).")
flags.DEFINE_integer("cost_frames", 0, "With the device pipeline: cycles per stage of this many "
                     "face frames in unicorn (its firmware built in --output).")
flags.DEFINE_integer("every", 1, "Score every N-th frame only (the numpy locator is slow).")


def _float_locator(locator_dir: str):
  """The built locator in float: frame -> boxes at its chosen threshold."""
  summary = jsonfile.load(os.path.join(locator_dir, "locator.json"))
  spec = zoo.LOCATORS[summary["model"]]()
  variables, apply = infer.restore_variables(locator_dir, spec), net.build(spec).apply
  return lambda frame: face_map.decode(infer.predict_logits(
      apply, variables, face_map.locator_input(frame)[None, ..., None], 1)[0],
      summary["threshold"])


def _print_costs(frames, pipeline, results) -> None:
  """The device pipeline's estimated cycles per stage: the median face frame and the worst."""
  fw = pipeline_firmware.build(pipeline, os.path.join(FLAGS.output or ".", "pipeline"))
  median, worst = robot.stage_costs(fw, frames, results, FLAGS.cost_frames)
  for name, cost in (("median face frame", median), ("worst frame", worst)):
    print(f"{name}: {cost.ms_48mhz:.1f} ms at 48 MHz (estimated, flash stalls included): " +
          ", ".join(f"{k} {v:,} (+{cost.stalls.get(k, 0):,} stall) cycles"
                    for k, v in cost.cycles.items()))


def main(_):
  run_dir = predict.resolve_run_dir(FLAGS.workdir)
  predictor = predict.Predictor.from_run(run_dir)
  size = predictor.spec.input_shape[0]
  sources = frame_sets.run_sources(run_dir, FLAGS.split, FLAGS.per_class, FLAGS.data_dir)
  frames = frame_sets.frame_set(sources, FLAGS.extra_frames, FLAGS.seed)
  frames = frames[::FLAGS.every]
  images = [f.image for f in frames]

  @functools.cache
  def device():
    """The device pipeline and its results on the frames, computed once (answers and costs)."""
    pipeline = device_pipeline.load(FLAGS.locator, run_dir, deploy_config.get_config(),
                                    FLAGS.smile)
    return pipeline, pipeline.run(np.stack(images))

  def haar_locator():
    return viola_jones.Locator(viola_jones.Cascade.from_opencv()).find
  known = {"centre_square": lambda: robot_eye.centre_square(predictor.score_crops, size),
           "host": lambda: robot_eye.host(predictor.score_crops, size),
           "device": lambda: lambda _: device_pipeline.answers(*device()),
           "located": lambda: robot_eye.located(_float_locator(FLAGS.locator),
                                                predictor.score_crops, size),
           "viola_jones": lambda: robot_eye.located(haar_locator(), predictor.score_crops, size)}
  unknown = sorted(set(FLAGS.pipelines) - set(known))
  if unknown:
    raise app.UsageError(f"--pipelines: unknown {unknown}; choose from {sorted(known)}")
  answers = {name: known[name]()(images) for name in FLAGS.pipelines}
  results = {name: robot_eye.measure(frames, a) for name, a in answers.items()}
  print(f"{len(frames)} frames of the {FLAGS.split} split, run {run_dir}\n")
  print(robot_eye.table(results))
  if "device" in FLAGS.pipelines and FLAGS.cost_frames:
    _print_costs(frames, *device())
  if FLAGS.output:
    os.makedirs(FLAGS.output, exist_ok=True)
    with open(os.path.join(FLAGS.output, "robot_eye.json"), "w") as file:
      json.dump({name: {k: s.to_dict() for k, s in r.items()} for name, r in results.items()},
                file, indent=1)
    robot_eye.sample_sheet(frames, answers[FLAGS.pipelines[-1]],
                           os.path.join(FLAGS.output, "robot_eye_samples.png"))


if __name__ == "__main__":
  flags.mark_flag_as_required("workdir")
  app.run(main)

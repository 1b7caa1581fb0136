r"""The smile-back demo: face box, score and the robot's LED smile drawn on each frame.

  .venv/bin/python -m experiments.demo --workdir=runs/main --input=photo.jpg
  .venv/bin/python -m experiments.demo --workdir=runs/main --input=photos/          # a folder
  .venv/bin/python -m experiments.demo --workdir=runs/main --input=clip.mp4         # a video
  .venv/bin/python -m experiments.demo --workdir=runs/main --input=0                # camera 0
  .venv/bin/python -m experiments.demo --workdir=runs/main --input=photos/ --device=emulator
  .venv/bin/python -m experiments.demo --workdir=runs/main --input=clip.mp4 --pipeline=device

--device=emulator scores each face with the int8 firmware under QEMU (after experiments.deploy)
and prints the Cortex-M4 latency estimated there. --pipeline=device shows what the robot sees and
does: each frame as its camera frames it (324 x 244 gray), the faces its locator found (the
best-scoring thickest) and the best face's score, in the device's integers. Output: <run>/demo/<input>_<device>/ (annotated
PNGs or an annotated .mp4, and scores.csv), or --output.
"""

from absl import flags

from app import demo, device_pipeline
from configs import deploy as deploy_config
from experiments import cli

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "Trained run (or main job) directory.")
flags.DEFINE_string("input", None, "An image, a folder of images, a video file, or a camera index.")
flags.DEFINE_string("output", None, "Output folder (default: <run>/demo/<input>_<device>).")
flags.DEFINE_enum("device", "host", ["host", "emulator"],
                  "Score on the host (JAX) or the emulated Cortex-M4.")
flags.DEFINE_enum("pipeline", "host", ["host", "device"],
                  "The host's face detection and crop, or the robot's own pipeline.")
flags.DEFINE_string("locator", "", "A built face locator (default: <workdir>/locator).")
flags.DEFINE_integer("max_frames", 0,
                     "Stop after this many frames (0: all; a camera runs until stopped).")
flags.mark_flags_as_required(["workdir", "input"])


def main(argv):
  del argv
  pipeline = None
  if FLAGS.pipeline == "device":
    pipeline = device_pipeline.load_job(FLAGS.workdir, FLAGS.workdir, deploy_config.get_config(),
                                        FLAGS.locator)
  out = demo.run_demo(FLAGS.workdir, FLAGS.input, FLAGS.output, FLAGS.device, FLAGS.max_frames,
                      pipeline)
  print(
      f"{out['frames']} frame(s), {out['faces_found']} with a face, smile LEDs on in "
      f"{out['smiling']} "
      f"(threshold {out['threshold']:.3f}, {out['device']}) -> {out['output']}")


if __name__ == "__main__":
  cli.run(main)

r"""The smile-back demo: face box, score and the robot's LED smile drawn on each frame.

  .venv/bin/python -m experiments.demo --workdir=runs/main --input=photo.jpg
  .venv/bin/python -m experiments.demo --workdir=runs/main --input=photos/          # a folder
  .venv/bin/python -m experiments.demo --workdir=runs/main --input=clip.mp4         # a video
  .venv/bin/python -m experiments.demo --workdir=runs/main --input=0                # camera 0
  .venv/bin/python -m experiments.demo --workdir=runs/main --input=photos/ --device=emulator

--device=emulator scores each face with the int8 firmware under QEMU (after experiments.deploy)
and prints the Cortex-M4 latency estimated there. Output: <run>/demo/<input>_<device>/ (annotated
PNGs or an annotated .mp4, and scores.csv), or --output.
"""

from absl import flags

from experiments import cli
from app import demo

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "Trained run (or main job) directory.")
flags.DEFINE_string("input", None, "An image, a folder of images, a video file, or a camera index.")
flags.DEFINE_string("output", None, "Output folder (default: <run>/demo/<input>_<device>).")
flags.DEFINE_enum("device", "host", ["host", "emulator"],
                  "Score on the host (JAX) or the emulated Cortex-M4.")
flags.DEFINE_integer("max_frames", 0,
                     "Stop after this many frames (0: all; a camera runs until stopped).")
flags.mark_flags_as_required(["workdir", "input"])


def main(argv):
  del argv
  out = demo.run_demo(FLAGS.workdir, FLAGS.input, FLAGS.output, FLAGS.device, FLAGS.max_frames)
  print(
      f"{out['frames']} frame(s), {out['faces_found']} with a face, smile LEDs on in "
      f"{out['smiling']} "
      f"(threshold {out['threshold']:.3f}, {out['device']}) -> {out['output']}")


if __name__ == "__main__":
  cli.run(main)

r"""Packs a deployed run's SparkFun Edge firmware for Ambiq's secure bootloader and uploads it over
the board's USB-serial port (compile/ambiq_image.py, compile/ambiq_upload.py: written from
AmbiqSuite's documented formats; not yet tried on a board).

  .venv/bin/python -m experiments.flash --workdir=runs/main --port=/dev/ttyUSB0
  .venv/bin/python -m experiments.flash --workdir=runs/main --pack_only   # just the blobs

Put the board in its bootloader first: hold button 14, tap RST, keep holding 14 while this runs.
The bootloader's baud rate is 921600 on boards as SparkFun ships them (115200 on some: --baud).
`--firmware=serial` (default) flashes the firmware that serves the board protocol on UART0, for
`experiments.board --port=...`; `--firmware=camera` the smile net's loop (boot self-test on a
compiled-in face, then HM01B0 frames -> centre square -> model -> smile LEDs); `--firmware=pipeline`
the robot that finds the face itself (a main job's deploy/pipeline/: every frame through the face
locator, the crops and the net); `--image=PATH` any Edge .bin. Writes firmware_image.bin (the image
blob, linked at 0xC000) and firmware_wired.bin (the wired-update blob that is uploaded) beside
that firmware's .bin.
"""

import os

from absl import flags
from tqdm import tqdm

from experiments import cli
from compile import ambiq_image, ambiq_upload, board_link
from app import board

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "Deployed training run (or main job) directory.")
flags.DEFINE_string("port", None, "The board's serial port, e.g. /dev/ttyUSB0.")
flags.DEFINE_integer("baud", 921600, "The bootloader's baud rate.")
flags.DEFINE_bool("pack_only", False, "Write the blobs, upload nothing.")
flags.DEFINE_enum("firmware", "serial", ["serial", "camera", "pipeline"],
                  "The board-protocol firmware, the smile net's camera loop, or the robot's "
                  "whole pipeline on every camera frame (a main job's deploy/pipeline/).")
flags.DEFINE_string("image", "", "Flash this Edge .bin instead (e.g. the pipeline's serial image "
                    "that experiments.board --pipeline=device builds).")
flags.mark_flags_as_required(["workdir"])


def main(argv):
  del argv
  deploy_dir = board.deploy_dir_of(FLAGS.workdir)
  int8_dir = os.path.join(deploy_dir, "int8")
  pipeline_bin = os.path.join(deploy_dir, "pipeline", "sparkfun_edge", "firmware.bin")
  if FLAGS.image or FLAGS.firmware == "pipeline":
    binary = FLAGS.image or pipeline_bin
    if not os.path.exists(binary):
      raise FileNotFoundError(f"{binary} not found: run the main job (its robot stage builds the "
                              "pipeline's image) or give --image=an existing .bin")
  elif not os.path.exists(os.path.join(int8_dir, "sparkfun_edge", "firmware.bin")):
    raise FileNotFoundError(f"{int8_dir}/sparkfun_edge/firmware.bin not found: deploy the run "
                            f"first (python -m experiments.deploy --workdir={FLAGS.workdir}); a "
                            "net too large for the board gets no Edge image")
  elif FLAGS.firmware == "serial":
    deployed = board.deployed_int8(deploy_dir)      # the route and placement deploy checked
    binary = board_link.build_uart_firmware(
        int8_dir, os.path.join(int8_dir, "sparkfun_edge_uart"), deployed["kernels"],
        board="sparkfun-edge-uart", weights_in_sram=deployed["weights_in_sram"]).bin
  else:
    binary = os.path.join(int8_dir, "sparkfun_edge", "firmware.bin")
  edge_dir = os.path.dirname(binary)
  with open(binary, "rb") as file:
    image = ambiq_image.image_blob(file.read())
  wired = ambiq_image.wired_update_blob(image)
  for name, blob in (("firmware_image.bin", image), ("firmware_wired.bin", wired)):
    with open(os.path.join(edge_dir, name), "wb") as file:
      file.write(blob)
  print(f"packed {binary}: image blob {len(image):,} B, wired-update blob {len(wired):,} B")
  if FLAGS.pack_only:
    return
  if not FLAGS.port:
    raise ValueError("--port is required to upload (or pass --pack_only)")
  with board_link.SerialLink(FLAGS.port, FLAGS.baud) as link, tqdm(
      total=len(wired), unit="B", unit_scale=True, desc="uploading") as bar:
    status = ambiq_upload.upload(link, wired, progress=lambda done, _: bar.update(done - bar.n))
  print(f"bootloader version {status['version']}: uploaded and reset into the new image")


if __name__ == "__main__":
  cli.run(main)

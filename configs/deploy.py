r"""Deploying a trained run to the Apollo3 (SparkFun Edge): compile, build, check, measure.

Launch (2 cores, CPU; needs the Arm toolchain and QEMU from the README's set-up):
  .venv/bin/python -m experiments.deploy --config=configs/deploy.py --workdir=runs/main
(`--workdir` is a training run, or a main job whose summary.json names the chosen run.)
Writes <run>/deploy/{int8,float32}/ (model.c, kernels.c/.o, firmware .elf/.bin for both boards),
deploy.json and deploy.md.
"""

import ml_collections

from smile_jax.cost import hardware


def get_config():
  config = ml_collections.ConfigDict()
  config.dtypes = ("int8", "float32")
  config.kernels = "llvm"              # "llvm" (TVM's Thumb-2 object) or "c" (TVM's C, gcc -O2)
  # int8 convs and dense layers on SMLAD (compile/dsp/): 1.56 est. cycles/MAC
  # on the chosen net of runs/search_distilled against 3.92 scalar, bit-exact. The latency
  # profile the search estimates with (smile_jax/cost/apollo3_emulated.json) is fitted on the
  # same kernels (configs/fit_latency.py reads this field): refit it when changing this.
  config.dsp_kernels = True
  # Where the Edge firmware keeps the weights (compile/weights_placement.py): "auto" (SRAM when
  # they fit and the flash-cache model says it saves stall cycles), "always" or "never" (flash).
  # Chosen net of runs/search_distilled (509,338 core cycles): weights in flash, 513 code + 2,328
  # data line misses a warm inference, est. 5,682 stall cycles (+1.1%) at RD_WAIT 1 (48 MHz),
  # 11,364 (+2.2%) at RD_WAIT 3 (96 MHz); in SRAM, no misses at all (the code alone fits the
  # cache), for 29.3 KB more RAM.
  config.weights_in_sram = "auto"
  # The RAM the model may take on the board (arena + measured stack + weights copied to SRAM);
  # under "auto" the weights stay in flash when SRAM would pass it. 0: no limit but the board's.
  config.max_model_ram_bytes = 0
  config.range_images = 512         # training images for the int8 activation ranges
  config.percentile = 99.99            # of |activation|, per tensor
  config.parity_images = 8             # test images the float build runs through QEMU
  # The int8 firmware runs the whole test split under QEMU (bit-exact parity on every image);
  # its test AUC comes from its own outputs. False: the first `parity_images` only.
  config.firmware_test_auc = True
  # CMSIS-NN (the peer of compile/cmsis_nn.py, for deploy.json's cmsis_nn_cycles_per_mac): a
  # folder with CMSIS-NN/ and CMSIS-Core/; "" = $SMILE_JAX_THIRD_PARTY_DIR, else
  # ../shared/third_party. Missing: the field is null.
  config.cmsis_nn_dir = ""
  config.seed = 0

  config.energy = ml_collections.ConfigDict()
  config.energy.active_ua_per_mhz = hardware.APOLLO3_ACTIVE_UA_PER_MHZ   # sources in hardware.py
  # An Artemis (same Apollo3) user's deep-sleep measurement (same notes, 5.3).
  config.energy.sleep_ua = 2.5
  # HM01B0 camera, ~1-2 mW while streaming (same notes); the robot watches all the time.
  config.energy.camera_mw = 1.5
  config.energy.battery_mah = 225.0    # CR2032
  config.energy.supply_volts = hardware.SUPPLY_VOLTS
  config.energy.inferences_per_s = 1.0
  return config

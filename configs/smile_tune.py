r"""The robot's smile net (app/robot_smile.py): a trained run's net fine-tuned on face crops made
the device's way (camera frames of its train photos, cropped by jittered true boxes), its epoch
and its adoption chosen on such crops of its val photos.

  .venv/bin/python -m experiments.smile_tune --config=configs/smile_tune.py \
      --workdir=runs/smile_tune --config.smile_tune.run=runs/main

On the main job's chosen net (compact~fa9e7bad), val AUC on device crops of the val photos
0.851 -> 0.942 (2 copies x 6 epochs: 0.918); ~4 min on 2 cores. See RESULTS.md, "The robot's eye".
"""

import ml_collections


def get_config():
  config = ml_collections.ConfigDict()
  config.smile_tune = tune = ml_collections.ConfigDict()
  tune.run = ""                 # a trained smile run or main job (its chosen run)
  tune.per_class = 0            # train photos per class and dataset (0: all)
  tune.copies = 4               # crops of each train photo, each from its own frame
  # The jitter matches the main job's locator on val frames: its matched boxes' centres are off
  # by s.d. 0.073 of the side, their sides by s.d. 0.238 in log2 (2026-12-08).
  tune.shift = 0.07             # the box centre's jitter, x the box's side (per axis, s.d.)
  tune.log2_scale = 0.24        # the box side's jitter, log2 (s.d.)
  tune.epochs = 20
  tune.batch_size = 64
  tune.peak_lr = 0.01
  tune.warmup_epochs = 2
  tune.seed = 0
  return config

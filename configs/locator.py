r"""The robot's face locator (smile_jax/models/zoo.py face_locator; app/locator.py): frames drawn
from a trained run's train photos, its heat threshold chosen on frames of its val photos.

  .venv/bin/python -m experiments.locator --config=configs/locator.py --workdir=runs/locator \
      --config.locator.split_run=runs/main

Result and time on 2 cores: see RESULTS.md, "The face locator".
"""

import ml_collections


def get_config():
  config = ml_collections.ConfigDict()
  config.locator = locator = ml_collections.ConfigDict()
  locator.model = "face_locator"      # a zoo.LOCATORS name
  locator.split_run = ""              # a smile run or main job: the split the frames come from
  locator.data_dir = ""               # raw datasets (empty: the run's)
  locator.train_frames = 32000
  locator.val_frames = 800
  locator.frame_seed = 0
  locator.flip = False                # mirror a random half of the frames each epoch
  locator.epochs = 40
  locator.batch_size = 64
  locator.peak_lr = 0.05
  locator.warmup_epochs = 2
  locator.momentum = 0.9
  locator.nesterov = True
  locator.weight_decay = 5e-4
  locator.seed = 0
  locator.eval_batch_size = 500
  locator.threshold = 0.0             # the heat logit for the per-epoch val figures
  locator.max_false_per_frame = 0.03  # false faces per no-face val frame the threshold allows
  return config

r"""The report's training recipe for one model (default: the Embedded 3-layer net, Table 3).

Launch (2 cores, CPU: ~3 min including the first dataset build). Measured on SMILEsmileD, split
seed 0 (duplicates grouped): val AUC 0.934, test AUC 0.945 (the per-image split gave 0.936 / 0.948).
  .venv/bin/python -m experiments.train --config=configs/default.py --workdir=runs/embedded

Override anything from the command line, e.g. `--config.train.epochs=5 --config.model=alexnet`.
Recipe (report sections 3.2, 3.3, 4.2.1): softmax cross-entropy, SGD + Nesterov momentum 0.8, peak
LR
0.05 after a linear warmup of 10 epochs, cosine decay to 0 after, 20 epochs, batch 64, class
balancing by repetition, the report's augmentations. Weight decay is ours (the report is silent).
"""

import ml_collections


def get_config():
  config = ml_collections.ConfigDict()
  config.model = "embedded"       # a zoo name (smile_jax/models/zoo.py) ...
  config.spec_json = ""           # ... or a ModelSpec JSON file, which wins when set
  config.data = _data()
  config.train = _train()
  config.augment = _augment()
  config.eval = ml_collections.ConfigDict()
  config.eval.threshold = 0.5
  config.eval.bootstrap_samples = 1000
  config.eval.bootstrap_seed = 0
  return config


def _data():
  # Empty paths mean: $SMILE_JAX_DATA_DIR or ../shared/datasets, and ./data/tfds.
  data = ml_collections.ConfigDict()
  data.dataset = "smilesmiled"
  data.data_dir = ""
  data.tfds_dir = ""
  data.image_size = 64
  data.channels = 1
  data.max_per_class = 0       # 0 = every image; small numbers for smoke runs
  data.split_manifest = ""     # empty: <workdir>/split.json, made on the first run
  data.split_seed = 0
  data.split_fractions = (0.7, 0.15, 0.15)
  # Trained on too, each with its own seeded stratified split (smile_jax/data/run_data.py);
  # validation then weighs each dataset alike (the mean of their val AUCs).
  data.extra_datasets = ()
  data.extra_repeats = 1       # how many times an epoch the extras' train images come
  data.balance = True          # repeat 2 of every 3 smiling training images
  return data


def _train():
  train = ml_collections.ConfigDict()
  train.epochs = 20
  train.batch_size = 64
  train.peak_lr = 0.05
  train.warmup_epochs = 10
  train.momentum = 0.8
  train.nesterov = True
  train.weight_decay = 5e-4
  train.seed = 0
  train.parallel = "jit"  # "jit" (one device) or "pmap" (data-parallel over local devices)
  train.eval_batch_size = 500
  # Knowledge distillation (smile_jax/train/distill.py): a trained teacher run's directory; its
  # soft targets weigh `distill_weight` in the loss, at `distill_temperature`. Off by default.
  train.teacher = ""
  train.distill_weight = 0.0
  train.distill_temperature = 4.0
  train.keep = "best_val_auc"  # or "last": which epoch's weights the run keeps
  return train


def _augment():
  augment = ml_collections.ConfigDict()
  augment.enabled = True
  augment.occlusion_p = 0.2
  augment.occlusion_holes = 2
  augment.occlusion_size = (0.1, 0.25)   # fraction of the image side
  augment.affine_p = 0.2
  augment.rotate_degrees = 10.0
  augment.translate = 0.05
  augment.flip_p = 0.2
  augment.scale = 0.0                     # affine zoom by U(1 - scale, 1 + scale)
  augment.brightness_contrast_p = 0.0     # not in the report
  augment.brightness = 0.2                # x 255, added
  augment.contrast = 0.2                  # x U(1 - contrast, 1 + contrast)
  augment.blur_p = 0.2
  augment.blur_limit = 5
  augment.noise_p = 0.2
  augment.noise_std = (0.02, 0.08)        # fraction of the pixel range
  augment.emboss_p = 0.2
  augment.motion_weak_p = 0.85
  augment.motion_weak_limit = 5
  augment.motion_strong_p = 0.1
  augment.motion_strong_limit = 39
  return augment

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

  # Data. Empty paths mean: $SMILE_JAX_DATA_DIR or ../shared/datasets, and ./data/tfds.
  config.data = ml_collections.ConfigDict()
  config.data.dataset = "smilesmiled"
  config.data.data_dir = ""
  config.data.tfds_dir = ""
  config.data.image_size = 64
  config.data.channels = 1
  config.data.max_per_class = 0       # 0 = every image; small numbers for smoke runs
  config.data.split_manifest = ""     # empty: <workdir>/split.json, made on the first run
  config.data.split_seed = 0
  config.data.split_fractions = (0.7, 0.15, 0.15)
  # Trained on too, each with its own seeded stratified split (smile_jax/data/run_data.py);
  # validation then weighs each dataset alike (the mean of their val AUCs).
  config.data.extra_datasets = ()
  config.data.extra_repeats = 1       # how many times an epoch the extras' train images come
  config.data.balance = True          # repeat 2 of every 3 smiling training images

  config.train = ml_collections.ConfigDict()
  config.train.epochs = 20
  config.train.batch_size = 64
  config.train.peak_lr = 0.05
  config.train.warmup_epochs = 10
  config.train.momentum = 0.8
  config.train.nesterov = True
  config.train.weight_decay = 5e-4
  config.train.seed = 0
  config.train.parallel = "jit"  # "jit" (one device) or "pmap" (data-parallel over local devices)
  config.train.eval_batch_size = 500
  # Knowledge distillation (smile_jax/train/distill.py): a trained teacher run's directory; its
  # soft targets weigh `distill_weight` in the loss, at `distill_temperature`. Off by default.
  config.train.teacher = ""
  config.train.distill_weight = 0.0
  config.train.distill_temperature = 4.0
  config.train.keep = "best_val_auc"  # or "last": which epoch's weights the run keeps

  config.augment = ml_collections.ConfigDict()
  config.augment.enabled = True
  config.augment.occlusion_p = 0.2
  config.augment.occlusion_holes = 2
  config.augment.occlusion_size = (0.1, 0.25)   # fraction of the image side
  config.augment.affine_p = 0.2
  config.augment.rotate_degrees = 10.0
  config.augment.translate = 0.05
  config.augment.flip_p = 0.2
  config.augment.scale = 0.0                     # affine zoom by U(1 - scale, 1 + scale)
  config.augment.brightness_contrast_p = 0.0     # not in the report
  config.augment.brightness = 0.2                # x 255, added
  config.augment.contrast = 0.2                  # x U(1 - contrast, 1 + contrast)
  config.augment.blur_p = 0.2
  config.augment.blur_limit = 5
  config.augment.noise_p = 0.2
  config.augment.noise_std = (0.02, 0.08)        # fraction of the pixel range
  config.augment.emboss_p = 0.2
  config.augment.motion_weak_p = 0.85
  config.augment.motion_weak_limit = 5
  config.augment.motion_strong_p = 0.1
  config.augment.motion_strong_limit = 39

  config.eval = ml_collections.ConfigDict()
  config.eval.threshold = 0.5
  config.eval.bootstrap_samples = 1000
  config.eval.bootstrap_seed = 0
  return config

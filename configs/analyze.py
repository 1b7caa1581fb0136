r"""Analysing a trained run: saliency, errors, thresholds, another dataset (app/analyze.py).

Launch (2 cores, CPU; ~2 min, plus ~2 min with the fine-tuning):
  .venv/bin/python -m experiments.analyze --config=configs/analyze.py --workdir=runs/main
(`--workdir` is a training run or a main job, whose chosen run is analysed.) Writes
<run>/analysis/ and adds the sections to <run>/report.md.
"""

import ml_collections


def get_config():
  config = ml_collections.ConfigDict()
  config.saliency_methods = ("vanilla", "smoothgrad", "integrated")
  config.max_saliency_images = 0       # 0 = every correctly classified smiling test face
  config.figure_images = 8
  config.bootstrap = 1000
  config.gallery_images = 12
  config.label_error_confidence = 0.9
  config.target_precision = 0.95
  config.target_recall = 0.95
  config.cross_dataset = "genki4k"     # "" to skip
  config.cross_max_per_class = 0
  config.finetune_epochs = 5           # 0 to skip the fine-tuning
  config.finetune_peak_lr = 0.01
  return config

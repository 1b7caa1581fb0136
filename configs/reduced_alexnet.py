r"""Section 5's "Reduced AlexNet" (4x fewer filters, FC 1024, first stride 8), 1.64 M MACs.

Launch (2 cores, CPU: ~4 min). Measured (split seed 0, duplicates grouped): val AUC
0.942, test AUC 0.959 (the per-image split gave 0.947 / 0.951).
  .venv/bin/python -m experiments.train --config=configs/reduced_alexnet.py \
      --workdir=runs/reduced_alexnet
"""

from configs import default


def get_config():
  config = default.get_config()
  config.model = "reduced_alexnet"
  return config

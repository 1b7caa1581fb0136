r"""Table 1's AlexNet baseline m0 with the report's recipe, at 64x64x1 (96 M MACs).

Launch (2 cores, CPU: ~45 min for 20 epochs, ~135 s/epoch):
  .venv/bin/python -m experiments.train --config=configs/alexnet.py --workdir=runs/alexnet
Measured on SMILEsmileD (split seed 0, duplicates grouped): val AUC 0.966, test AUC 0.978
[0.972, 0.983] (tests/test_slow.py); on the earlier per-image split val 0.974, test 0.971, accuracy
0.925 at 0.5 (best epoch 14 of 20).
"""

from configs import default


def get_config():
  config = default.get_config()
  config.model = "alexnet"
  return config

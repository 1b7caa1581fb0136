r"""Table 1's AlexNet baseline m0 with the report's recipe, at 64x64x1 (96 M MACs).

Launch (2 cores, CPU: ~35-40 min for 20 epochs):
  .venv/bin/python -m experiments.train --config=configs/alexnet.py --workdir=runs/alexnet
Expected: test AUC >= 0.97 on SMILEsmileD (see WORKSPACE.md for the measured figure).
"""

from configs import default


def get_config():
  config = default.get_config()
  config.model = "alexnet"
  return config

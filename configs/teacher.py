r"""The distillation teacher (zoo `teacher`, 30.7 M MACs) with the search recipe, on SMILEsmileD and
the GENKI-4K dev half (each split on its own, split seed 0).

Launch (2 cores, CPU, ~15 min):
  .venv/bin/python -m experiments.train --config=configs/teacher.py --workdir=runs/teacher
The search's teacher stage trains the same config inside its workdir (configs/search.py).
"""

from configs import default, search


def get_config():
  config = default.get_config()
  config.update(search.RECIPE)
  config.model = "teacher"
  config.data.extra_datasets = ("genki4k",)
  return config

"""A candidate's short training: the search recipe cut to `search.epochs`, all seeds in one loop.

The one way the search trains a candidate (smile_jax/train/seeds.py), in this process or on Ray
(executors.py), on the run's data fitted to the candidate's input (a candidate may take a lower
resolution). `stored_recipe` is what those trainings depend on: the run store's fingerprint.
"""

from __future__ import annotations

from smile_jax.data import run_data
from smile_jax.models import spec as spec_lib
from smile_jax.search import executors, full_training
from smile_jax.train import distill, seeds as seeds_lib

# Fields that name where things are, not what they hold: not part of the fingerprint.
WHERE = ("data.data_dir", "data.tfds_dir", "data.split_manifest", "train.teacher")


def short_recipe(config):
  """The search recipe cut to a candidate's short training."""
  cfg = full_training.full_recipe(config)
  cfg.train.epochs = config.search.epochs
  cfg.train.warmup_epochs = config.search.warmup_epochs
  return cfg


def stored_recipe(config) -> dict:
  """What a candidate's short training depends on, flattened to `section.field` keys (WHERE
  left out, the teacher by its logits' digest): the run store's fingerprint."""
  cfg = short_recipe(config).to_dict()
  teacher = cfg["train"]["teacher"] or False
  flat = {f"{section}.{key}": value for section in ("data", "train", "augment")
          for key, value in cfg[section].items()}
  return {key: list(v) if isinstance(v, tuple) else v for key, v in flat.items()
          if key not in WHERE} | {"teacher": teacher and distill.logits_digest(teacher)}


def data_by_input(data: run_data.RunData):
  """input shape -> the run's data fitted to it, each made once."""
  fitted = {tuple(data.train.images.shape[1:]): data}

  def data_for(spec: spec_lib.ModelSpec) -> run_data.RunData:
    if spec.input_shape not in fitted:
      fitted[spec.input_shape] = run_data.fit_to(data, spec.input_shape)
    return fitted[spec.input_shape]
  return data_for


def trainer(config, data_for):
  """`train(spec, seeds) -> [result per seed]`: the short training in this process."""
  def train(spec: spec_lib.ModelSpec, seeds) -> list[dict]:
    return seeds_lib.train_seeds(short_recipe(config), spec, tuple(seeds), data_for(spec))
  return train


def make_executor(config, data: run_data.RunData, data_for):
  """`config.search.executor`: 'local' trains in this process; 'ray' sends each candidate to a
  Ray task."""
  sc = config.search
  if sc.executor == "local":
    return executors.LocalExecutor(trainer(config, data_for))
  recipe = short_recipe(config)
  return executors.RayExecutor(recipe, data, distill.recipe_teacher(recipe.train, data.train),
                               address=sc.ray_address, workers=sc.workers,
                               threads=sc.threads_per_worker)

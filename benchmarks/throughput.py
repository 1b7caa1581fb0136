r"""Training and input-pipeline throughput, measured side by side in one run.

  .venv/bin/python -m benchmarks.throughput            # ~3 min on 2 cores
  .venv/bin/python -m benchmarks.throughput --steps=5  # quicker, noisier

Prints a Markdown table: training images/s of the Embedded net and the Table 1 AlexNet (jit, and
pmap over 2 host devices), the augmentation pipeline's images/s, and jit training fed by the real
pipeline. The pipeline keeps up when its rate is above the training rate (the ratio column); on
a CPU-only machine both share the same cores, which the last column shows.
A second table times the augmentations alone per recipe: the report's (albumentations, image by
image) and the search's shifts and flips, image by image and batched (`augment.ShiftFlip`).
Real SMILEsmileD crops are used when the shared datasets are present, random pixels otherwise.
"""

import os

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=2")

import time  # noqa: E402

import jax  # noqa: E402
import numpy as np  # noqa: E402
from absl import flags  # noqa: E402

from experiments import cli
from configs import default, search as search_config  # noqa: E402
from smile_jax.data import augment, pipeline  # noqa: E402
from smile_jax.models import zoo  # noqa: E402
from smile_jax.search import full_training  # noqa: E402
from smile_jax.train import steps  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_integer("steps", 20,
                     "Timed training steps per model and path (after 2 warm-up steps).")
flags.DEFINE_integer("batch_size", 64, "Batch size (the report's).")
flags.DEFINE_list("models", ["embedded", "alexnet"], "Zoo models to time.")


def _images(count: int) -> np.ndarray:
  from smile_jax.data import sources
  try:
    from smile_jax.data import builders, run_data
    ds = builders.build(
        "smilesmiled", run_data.tfds_dir(), sources.data_dir(), max_per_class=count // 2)
    return ds.images
  except Exception:  # noqa: BLE001 - a benchmark without the datasets still measures speed
    return np.random.default_rng(0).integers(0, 255, (count, 64, 64, 1), dtype=np.uint8)


def time_training(name: str, images: np.ndarray, parallel: str) -> float:
  cfg = default.get_config().train
  spec = zoo.get(name)
  bs = FLAGS.batch_size
  labels = np.arange(bs, dtype=np.int32) % 2
  batches = [{"image": images[(i * bs) % (len(images) - bs):][:bs], "label": labels}
             for i in range(FLAGS.steps + 2)]
  if parallel == "pmap":
    count = jax.local_device_count()
    state = steps.replicate(steps.create_state(spec, cfg, 100, 0, bn_axis_name="batch"), count)
    step = steps.pmap_train_step
    batches = [
        jax.tree_util.tree_map(lambda x: x.reshape(count, -1, *x.shape[1:]), batch)
        for batch in batches
    ]
  else:
    state, step = steps.create_state(spec, cfg, 100, 0), steps.jit_train_step
  for batch in batches[:2]:
    state, out = step(state, batch)
  jax.block_until_ready(out)
  t0 = time.perf_counter()
  for batch in batches[2:]:
    state, out = step(state, batch)
  jax.block_until_ready(out)
  return FLAGS.steps * bs / (time.perf_counter() - t0)


def time_fed_training(name: str, images: np.ndarray) -> float:
  """Images/s of jit training fed by the real pipeline (augmentation thread + steps, one CPU)."""
  cfg = default.get_config()
  state = steps.create_state(zoo.get(name), cfg.train, 100, 0)
  labels = (np.arange(len(images)) % 2).astype(np.int32)
  batches = pipeline.train_batches(images, labels, batch_size=FLAGS.batch_size, seed=0, epoch=0,
                                   balance=False, augment_cfg=cfg.augment)
  state, out = steps.jit_train_step(state, next(batches))  # compile outside the timing
  jax.block_until_ready(out)
  t0, count = time.perf_counter(), 0
  for batch in batches:
    if count >= FLAGS.steps * FLAGS.batch_size:
      break
    state, out = steps.jit_train_step(state, batch)
    count += FLAGS.batch_size
  jax.block_until_ready(out)
  return count / (time.perf_counter() - t0)


def time_pipeline(images: np.ndarray) -> float:
  cfg = default.get_config()
  labels = np.arange(len(images)) % 2
  t0 = time.perf_counter()
  count = sum(
      len(b["label"]) for b in pipeline.train_batches(
          images,
          labels,
          batch_size=FLAGS.batch_size,
          seed=0,
          epoch=0,
          balance=True,
          augment_cfg=cfg.augment))
  return count / (time.perf_counter() - t0)


def time_augmentations(images: np.ndarray) -> None:
  """Images/s of each recipe's augmentations alone, in batches of `--batch_size`."""
  report = default.get_config().augment
  search = full_training.full_recipe(search_config.get_config("compact")).augment
  rates = {}
  for name, cfg, batched in (("report's, albumentations image by image", report, True),
                             ("search's, albumentations image by image", search, False),
                             ("search's, batched (ShiftFlip)", search, True)):
    pipe = augment.build(cfg, seed=0, batched=batched)
    t0 = time.perf_counter()
    for start in range(0, len(images) - FLAGS.batch_size + 1, FLAGS.batch_size):
      augment.apply(pipe, images[start:start + FLAGS.batch_size])
    rates[name] = len(images) // FLAGS.batch_size * FLAGS.batch_size / (
        time.perf_counter() - t0)
  slowest = min(rates.values())
  print("\n| augmentations | images/s | x the slowest |\n|---|--:|--:|")
  for name, rate in rates.items():
    print(f"| {name} | {rate:,.0f} | {rate / slowest:.1f}x |")


def main(argv):
  del argv
  images = _images(2048)
  aug_rate = time_pipeline(images)
  print(
      f"devices: {jax.local_device_count()} x {jax.devices()[0].platform}; batch "
      f"{FLAGS.batch_size}\n"
  )
  print("| model | path | train step images/s | augmentation pipeline images/s | pipeline / train "
        "| train fed by the pipeline, images/s |")
  print("|---|---|--:|--:|--:|--:|")
  for name in FLAGS.models:
    fed = time_fed_training(name, images)
    for parallel in ("jit", "pmap"):
      rate = time_training(name, images, parallel)
      print(f"| {name} | {parallel} | {rate:,.0f} | {aug_rate:,.0f} | {aug_rate / rate:.1f}x | "
            f"{fed:,.0f} |" if parallel == "jit" else
            f"| {name} | {parallel} | {rate:,.0f} | {aug_rate:,.0f} | {aug_rate / rate:.1f}x | - |")
  time_augmentations(images)


if __name__ == "__main__":
  cli.run(main)

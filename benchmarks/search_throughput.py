r"""Search trainings per minute: K seeds stepped in turn or vmapped; the local vs Ray executor.

  .venv/bin/python -m benchmarks.search_throughput             # ~2 min on 2 cores
  .venv/bin/python -m benchmarks.search_throughput --model=two_layer_fc --steps=10
  .venv/bin/python -m benchmarks.search_throughput --end_to_end --model=compact --epochs=1
  .venv/bin/python -m benchmarks.search_throughput --executors --candidates=4 --epochs=1

Times the train step of a search-sized candidate (default: the Embedded net, 0.8 M MACs) for
K = 3 and 8 seeds, in turn (K jit steps, what the search runs) and vmapped (one step over K
stacked models), and converts that to candidates per minute for the search's short training
(epochs x steps per epoch). On XLA:CPU vmapped convolutions become grouped convolutions, which it
runs poorly: this measurement is why the search steps its seeds in turn (smile_jax/train/seeds.py).

`--end_to_end` times what the search really runs for one candidate: K seeds of the search recipe
on the real training split (augmentation, input pipeline and validation included), together in
one loop (`seeds.train_seeds`) against one checkpointed run after another
(`loop.train_and_evaluate`).

`--executors` times the search's executors (smile_jax/search/executors.py) end to end on the
main job's search data (SMILEsmileD + GENKI-4K, real split): the first `--candidates` children of
the compact root, K seeds each, trained by the local executor (one candidate at a time
on all cores) and by a local Ray (`--workers` candidates at once, one thread each), Ray's
start-up included, in one run. Distillation is off (no teacher stage to train first).
"""

import os
import tempfile
import time

import jax
import numpy as np
from absl import flags

from experiments import cli
from configs import default, search as search_config
from smile_jax.data import run_data
from smile_jax.models import zoo
from smile_jax.search import executors, reductions, short_training
from smile_jax.train import loop, seeds as seeds_lib, steps

FLAGS = flags.FLAGS
flags.DEFINE_string("model", "embedded", "Zoo model standing in for a search candidate.")
flags.DEFINE_integer("steps", 10, "Timed steps per path (after one warm-up step).")
flags.DEFINE_integer("train_images", 9215, "Training images per epoch (SMILEsmileD's train split).")
flags.DEFINE_bool("end_to_end", False,
                  "Time whole short trainings on the real data instead of steps.")
flags.DEFINE_integer("epochs", 1, "Epochs per short training with --end_to_end.")
flags.DEFINE_integer("seeds", 3, "K with --end_to_end and --executors.")
flags.DEFINE_bool("executors", False,
                  "Time the local executor against Ray on whole short trainings.")
flags.DEFINE_integer("candidates", 4, "Candidates trained by each executor with --executors.")
flags.DEFINE_integer("workers", 2, "Ray workers (one thread each) with --executors.")


def _batches(seeds: int, count: int, bs: int):
  rng = np.random.default_rng(0)
  return [{"image": rng.integers(0, 255, (seeds, bs, 64, 64, 1), dtype=np.uint8),
           "label": rng.integers(0, 2, (seeds, bs)).astype(np.int32)} for _ in range(count)]


def seconds_per_step(seeds: int, vmapped: bool) -> float:
  cfg = default.get_config().train
  spec = zoo.get(FLAGS.model)
  states = [steps.create_state(spec, cfg, 100, seed) for seed in range(seeds)]
  batches = _batches(seeds, FLAGS.steps + 1, cfg.batch_size)
  if vmapped:
    state = steps.stack(states)
    run = lambda state, batch: steps.vmap_train_step(state, batch)
  else:
    state = states
    run = lambda st, batch: [
        steps.jit_train_step(s, {
            "image": batch["image"][i],
            "label": batch["label"][i]
        }) for i, s in enumerate(st)
    ]
  def step(state, batch):
    out = run(state, batch)
    return ([o[0] for o in out], out[-1][1]) if not vmapped else out
  state, out = step(state, batches[0])
  jax.block_until_ready(out)
  t0 = time.perf_counter()
  for batch in batches[1:]:
    state, out = step(state, batch)
  jax.block_until_ready((state, out))
  return (time.perf_counter() - t0) / FLAGS.steps


def end_to_end() -> None:
  config = search_config.get_config()
  config.search.epochs = FLAGS.epochs
  cfg = short_training.short_recipe(config)
  spec = zoo.get(FLAGS.model)
  with tempfile.TemporaryDirectory() as tmp:
    data = run_data.load(cfg.data, tmp, spec.input_shape)
    seeds = tuple(range(FLAGS.seeds))
    seeds_lib.train_seeds(cfg, spec, seeds, data)   # compile once, outside the timing
    t0 = time.perf_counter()
    for seed in seeds:
      cfg.train.seed = seed
      loop.train_and_evaluate(
          cfg, os.path.join(tmp, f"s{seed}"), spec=spec, data=data, verbose=False)
    timings = {"sequential (one seed after another, checkpointed)": time.perf_counter() - t0}
    t0 = time.perf_counter()
    seeds_lib.train_seeds(cfg, spec, seeds, data)
    timings["seeds in one loop, stepped in turn (the search's)"] = time.perf_counter() - t0
  print(f"{FLAGS.model}: one candidate, {FLAGS.seeds} seeds x {FLAGS.epochs} epoch(s) on "
        f"{len(data.train.labels):,} training images\n")
  print("| path | seconds | candidates/min | vs sequential |\n|---|--:|--:|--:|")
  sequential = next(iter(timings.values()))
  for name, sec in timings.items():
    print(f"| {name} | {sec:.1f} | {60 / sec:.2f} | {sec / sequential:.2f}x |")


def run_executor(executor, specs) -> float:
  """Seconds for `executor` to train every spec (all seeds of one a job), as the search would."""
  t0 = time.perf_counter()
  keys = []
  for spec in specs:
    executor.submit(spec, tuple(range(FLAGS.seeds)))
    keys.append(executors.job_key(spec, tuple(range(FLAGS.seeds))))
  outcomes = {}
  for key in keys:
    outcomes.update(executor.collect(key) if key not in outcomes else [])
  bad = [outcome for outcome in outcomes.values() if isinstance(outcome, BaseException)]
  if bad:
    raise bad[0]
  return time.perf_counter() - t0


def executors_side_by_side() -> None:
  config = search_config.get_config("compact")
  config.search.epochs = FLAGS.epochs
  config.search.recipe.train.distill_weight = 0.0
  cfg = short_training.short_recipe(config)
  root = zoo.get("compact")
  specs = [option.spec for option in reductions.valid(root, "extended")][:FLAGS.candidates]
  with tempfile.TemporaryDirectory() as tmp:
    data = run_data.load(cfg.data, tmp)
    data_for = short_training.data_by_input(data)
    local = executors.LocalExecutor(short_training.trainer(config, data_for))
    local_s = run_executor(local, specs)
    t0 = time.perf_counter()
    ray_executor = executors.RayExecutor(cfg, data, None, address="", workers=FLAGS.workers,
                                         threads=1)
    start_s = time.perf_counter() - t0
    try:
      ray_s = run_executor(ray_executor, specs) + start_s
    finally:
      ray_executor.close()
  print(f"{len(specs)} candidates of the compact root ({', '.join(s.name for s in specs)}), "
        f"{FLAGS.seeds} seeds x {FLAGS.epochs} epoch(s) each, "
        f"{len(data.train.labels):,} training images, {os.cpu_count()} cores\n")
  print("| executor | seconds | candidates/min | vs local |\n|---|--:|--:|--:|")
  for name, sec in (("local (one candidate at a time, all cores)", local_s),
                    (f"Ray ({FLAGS.workers} workers x 1 thread; start-up {start_s:.0f} s incl.)",
                     ray_s)):
    print(f"| {name} | {sec:.1f} | {60 * len(specs) / sec:.2f} | {local_s / sec:.2f}x |")


def main(argv):
  del argv
  if FLAGS.executors:
    return executors_side_by_side()
  if FLAGS.end_to_end:
    return end_to_end()
  sc = search_config.get_config().search
  bs = default.get_config().train.batch_size
  steps_per_candidate = sc.epochs * (FLAGS.train_images // bs)
  print(f"{FLAGS.model}, batch {bs}, short training = {sc.epochs} epochs x "
        f"{FLAGS.train_images // bs} steps; {jax.devices()[0].platform}\n")
  print("| seeds K | in turn s/step (all K) | vmapped s/step (all K) | vmapped / in turn | "
        "candidates/min in turn | candidates/min vmapped |")
  print("|--:|--:|--:|--:|--:|--:|")
  for seeds in (3, 8):
    seq, vm = seconds_per_step(seeds, False), seconds_per_step(seeds, True)
    per_min = lambda s: 60.0 / (s * steps_per_candidate)
    print(
        f"| {seeds} | {seq:.4f} | {vm:.4f} | {vm / seq:.2f}x | {per_min(seq):.2f} | "
        f"{per_min(vm):.2f} |"
    )


if __name__ == "__main__":
  cli.run(main)

r"""Depthwise convs on XLA:CPU: the grouped convolution against multiply-adds, side by side.

  .venv/bin/python -m benchmarks.depthwise             # ~1 min on 2 cores

The search's separable candidates (each conv of the compact root made a depthwise-separable pair,
the extended move `conv_i separable`) train one step of a batch of 64 with the search recipe,
their depthwise layers computed two ways: `lax.conv_general_dilated` with one feature group per
channel (what `nn.Conv(feature_group_count=C)` runs) and `net.depthwise_conv`'s k*k strided
multiply-adds (what SpecNet runs). Prints a Markdown table of milliseconds per step and the ratio.
"""

import time

import jax
import numpy as np
from absl import app, flags

from configs import search as search_config
from smile_jax.models import net, spec as spec_lib, zoo
from smile_jax.search import full_training, reductions
from smile_jax.train import steps

FLAGS = flags.FLAGS
flags.DEFINE_integer("steps", 20, "Timed training steps per net and way (after 2 warm-up steps).")
flags.DEFINE_integer("batch_size", 64, "Batch size (the recipe's).")


def grouped_conv(inputs, kernel, stride: int, padding: str):
  """The depthwise conv as XLA's grouped convolution (the layer before multiply-adds)."""
  return jax.lax.conv_general_dilated(inputs, kernel, (stride, stride), padding,
                                      dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                      feature_group_count=inputs.shape[-1])


def ms_per_step(spec: spec_lib.ModelSpec, cfg) -> float:
  rng = np.random.default_rng(0)
  batch = {"image": rng.integers(0, 255, (FLAGS.batch_size, *spec.input_shape), dtype=np.uint8),
           "label": np.arange(FLAGS.batch_size, dtype=np.int32) % 2}
  state = steps.create_state(spec, cfg.train, 100, 0)
  step = jax.jit(steps.train_step)
  for _ in range(2):
    state, _ = step(state, batch)
  jax.block_until_ready(state)
  start = time.perf_counter()
  for _ in range(FLAGS.steps):
    state, _ = step(state, batch)
  jax.block_until_ready(state)
  return (time.perf_counter() - start) / FLAGS.steps * 1e3


def main(_):
  cfg = full_training.full_recipe(search_config.get_config("compact"))
  separable = [r for r in reductions.extended_moves(zoo.get("compact"))
               if r.spec is not None and r.description.endswith("separable")]
  print("| candidate | MACs | grouped conv ms/step | multiply-adds ms/step | speed-up |")
  print("|---|--:|--:|--:|--:|")
  ours = net.depthwise_conv
  for option in separable:
    times = []
    for way, name in ((grouped_conv, "grouped"), (ours, "multiply-adds")):
      net.depthwise_conv = way    # SpecNet looks the function up when it traces
      # A spec of its own name per way: a new module, so jit traces the step again.
      spec = spec_lib.ModelSpec(f"{option.spec.name}:{name}", option.spec.layers,
                                option.spec.input_shape)
      times.append(ms_per_step(spec, cfg))
    net.depthwise_conv = ours
    print(f"| {option.description} | {spec_lib.total_macs(option.spec):,} | {times[0]:.1f} | "
          f"{times[1]:.1f} | {times[0] / times[1]:.1f}x |")


if __name__ == "__main__":
  app.run(main)

r"""Fits the `apollo3-emulated` hardware profile: cycles per layer from compiled nets profiled in
unicorn. See configs/fit_latency.py.

  .venv/bin/python -m experiments.fit_latency --config=configs/fit_latency.py
  --workdir=runs/fit_latency
"""

import os

import jax
import jax.numpy as jnp
import numpy as np
from absl import flags
from ml_collections import config_flags

from experiments import cli
from compile import latency_fit
from smile_jax.cost import emulated
from smile_jax.models import net, spec as spec_lib, zoo
from smile_jax.search import reductions

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", "configs/fit_latency.py", "Latency-fit configuration.")
flags.DEFINE_string("workdir", "runs/fit_latency", "Where the compiled nets go.")


def fit_nets(cfg) -> list[spec_lib.ModelSpec]:
  rng = np.random.default_rng(cfg.seed)
  nets = {s.canonical_hash(): s for s in (zoo.get(name) for name in cfg.zoo)}
  for root in cfg.reduction_roots:
    for _ in range(10 * cfg.nets_per_root):   # distinct nets; a repeat draws again
      if sum(s.name.startswith(root + "~") for s in nets.values()) == cfg.nets_per_root:
        break
      spec, steps = zoo.get(root), 0
      while steps == 0 or spec_lib.total_macs(spec) > cfg.max_macs:
        options = reductions.valid(spec, cfg.moves)
        spec, steps = options[rng.integers(len(options))].spec, steps + 1
      nets.setdefault(spec.canonical_hash(), spec)
  return list(nets.values())


def main(argv):
  del argv
  cfg = FLAGS.config
  nets = fit_nets(cfg)
  samples = []
  for index, spec in enumerate(nets):
    model = net.build(spec)
    variables = model.init(jax.random.key(index), jnp.zeros((1, *spec.input_shape)), train=False)
    images = np.random.default_rng(index).integers(
        0, 256, (cfg.range_images, *spec.input_shape), dtype=np.uint8)
    print(f"[{index + 1}/{len(nets)}] {spec.name}: {spec_lib.total_macs(spec):,} MACs", flush=True)
    samples += latency_fit.measure(spec, variables, images, FLAGS.workdir, cfg.dsp_kernels)
  held = {s.name for s in nets[-cfg.held_out:]} if cfg.held_out else set()
  fits = latency_fit.fit([s for s in samples if s.net not in held])
  check = latency_fit.fit(samples)   # all nets, for the per-net table
  lines = [
      "| net | dtype | emulated cycles | predicted | error | in fit |", "|---|---|--:|--:|--:|:-:|"
  ]
  coef = {
      dtype: np.array([fits[dtype]["coefficients"][k] for k in emulated.FEATURES]) for dtype in fits
  }
  for dtype in fits:
    for name in check[dtype]["nets"]:
      rows = [s for s in samples if s.net == name and s.dtype == dtype]
      meas = sum(s.cycles for s in rows)
      pred = float(sum(s.features @ coef[dtype] for s in rows))
      lines.append(f"| {name} | {dtype} | {meas:,} | {pred:,.0f} | {pred / meas - 1:+.1%} | "
                   f"{'no' if name in held else 'yes'} |")
  description = (
      f"fitted on {len(nets) - len(held)} nets "
      f"({', '.join(sorted({s.net for s in samples} - held))}) "
      "compiled by compile/ (TVM 0.27, LLVM kernels"
      f"{', int8 on the SMLAD kernels' if cfg.dsp_kernels else ''}), cycles from "
      "compile/profile.py")
  latency_fit.write(emulated.PROFILE_PATH, fits, [s.name for s in nets], description)
  os.makedirs(FLAGS.workdir, exist_ok=True)
  with open(os.path.join(FLAGS.workdir, "latency_fit.md"), "w") as file:
    file.write("# apollo3-emulated latency fit\n\n" + "\n".join(lines) + "\n")
  print("\n".join(lines))
  print(f"wrote {emulated.PROFILE_PATH}")


if __name__ == "__main__":
  cli.run(main)

r"""Fits the `apollo3-measured` hardware profile: cycles per layer from compiled nets profiled in
unicorn. See configs/calibrate.py.

  .venv/bin/python -m experiments.calibrate --config=configs/calibrate.py --workdir=runs/calibrate
"""

import os

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags
from ml_collections import config_flags

from compile import calibrate
from smile_jax.cost import measured
from smile_jax.models import net, spec as spec_lib, zoo
from smile_jax.search import reductions

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", "configs/calibrate.py", "Calibration configuration.")
flags.DEFINE_string("workdir", "runs/calibrate", "Where the compiled nets go.")


def calibration_nets(cfg) -> list[spec_lib.ModelSpec]:
  rng = np.random.default_rng(cfg.seed)
  nets = {s.canonical_hash(): s for s in (zoo.get(name) for name in cfg.zoo)}
  for root in cfg.reduction_roots:
    for _ in range(10 * cfg.nets_per_root):   # distinct nets; a repeat draws again
      if sum(s.name.startswith(root + "~") for s in nets.values()) == cfg.nets_per_root:
        break
      spec, steps = zoo.get(root), 0
      while steps == 0 or spec_lib.total_macs(spec) > cfg.max_macs:
        options = reductions.valid(spec)
        spec, steps = options[rng.integers(len(options))].spec, steps + 1
      nets.setdefault(spec.canonical_hash(), spec)
  return list(nets.values())


def main(argv):
  del argv
  cfg = FLAGS.config
  nets = calibration_nets(cfg)
  samples = []
  for i, spec in enumerate(nets):
    model = net.build(spec)
    variables = model.init(jax.random.key(i), jnp.zeros((1, *spec.input_shape)), train=False)
    images = np.random.default_rng(i).integers(0, 256, (cfg.calibration_images, *spec.input_shape), dtype=np.uint8)
    print(f"[{i + 1}/{len(nets)}] {spec.name}: {spec_lib.total_macs(spec):,} MACs", flush=True)
    samples += calibrate.measure(spec, variables, images, FLAGS.workdir)
  held = {s.name for s in nets[-cfg.held_out:]} if cfg.held_out else set()
  fits = calibrate.fit([s for s in samples if s.net not in held])
  check = calibrate.fit(samples)   # all nets, for the per-net table
  lines = ["| net | dtype | measured cycles | predicted | error | in fit |", "|---|---|--:|--:|--:|:-:|"]
  coef = {d: np.array([fits[d]["coefficients"][k] for k in measured.FEATURES]) for d in fits}
  for d in fits:
    for name in check[d]["nets"]:
      rows = [s for s in samples if s.net == name and s.dtype == d]
      meas = sum(s.cycles for s in rows)
      pred = float(sum(s.features @ coef[d] for s in rows))
      lines.append(f"| {name} | {d} | {meas:,} | {pred:,.0f} | {pred / meas - 1:+.1%} | "
                   f"{'no' if name in held else 'yes'} |")
  description = (f"fitted on {len(nets) - len(held)} nets ({', '.join(sorted({s.net for s in samples} - held))}) "
                 "compiled by compile/ (TVM 0.27, LLVM kernels), cycles from compile/profile.py")
  calibrate.write(measured.PROFILE_PATH, fits, [s.name for s in nets], description)
  os.makedirs(FLAGS.workdir, exist_ok=True)
  with open(os.path.join(FLAGS.workdir, "calibration.md"), "w") as f:
    f.write("# apollo3-measured calibration\n\n" + "\n".join(lines) + "\n")
  print("\n".join(lines))
  print(f"wrote {measured.PROFILE_PATH}")


if __name__ == "__main__":
  app.run(main)

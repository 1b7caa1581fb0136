r"""Fitting the `apollo3-emulated` hardware profile on compiled nets (smile_jax/cost/emulated.py).

Launch (2 cores, CPU, ~2 min; needs the Arm toolchain and QEMU):
  .venv/bin/python -m experiments.fit_latency --config=configs/fit_latency.py
  --workdir=runs/fit_latency
Writes smile_jax/cost/apollo3_emulated.json (commit it) and <workdir>/latency_fit.md. Weights are
random (cycle counts do not depend on them); the nets are zoo models plus seeded chains of search
reductions, so the fit covers what the search proposes.
"""

import ml_collections

from configs import deploy


def get_config():
  config = ml_collections.ConfigDict()
  # The int8 kernels the fit measures: the deploy stage's (the search must estimate what ships).
  config.dsp_kernels = deploy.get_config().dsp_kernels
  config.zoo = ("embedded", "reduced_alexnet", "two_layer_fc", "compact", "ref_stride2_260k",
                "ref_stride2_1330k", "ref_gap_660k")
  config.reduction_roots = ("reduced_alexnet", "embedded", "alexnet", "compact")
  # "extended": the reduction chains use the search's wider moves too (3x3/2 convs, separable
  # pairs, pooled heads, lower inputs), so the fit covers the nets the compact search proposes.
  config.moves = "extended"
  config.nets_per_root = 3            # each a chain of random reductions from the root ...
  config.max_macs = 3_000_000         # ... continued until it is under this many MACs
  config.held_out = 2                 # nets left out of the fit, to report its error on new nets
  config.seed = 0
  config.range_images = 16
  return config

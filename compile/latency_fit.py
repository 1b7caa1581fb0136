"""Fits the `apollo3-emulated` hardware profile (smile_jax/cost/emulated.py) on compiled nets.

Each net is compiled (int8 and float), built for the QEMU board and profiled per kernel in
unicorn; each kernel's cycles become one sample of the linear model in emulated.py, whose
non-negative coefficients are fitted by least squares over every kernel of every net.
"""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np
from scipy import optimize

from compile import build, firmware, graph as graph_lib, profile, quantize
from smile_jax.cost.emulated import FEATURES, layer_features
from smile_jax.models import spec as spec_lib


@dataclasses.dataclass(frozen=True)
class Sample:
  net: str
  dtype: str
  kernel: str
  features: np.ndarray
  cycles: int


def measure(spec: spec_lib.ModelSpec, variables: dict, images: np.ndarray,
            out_dir: str, dsp: bool = False) -> list[Sample]:
  """Per-kernel cycle samples of one net, int8 (`dsp`: on the SMLAD kernels) and float."""
  graph = graph_lib.from_spec(spec, variables)
  samples = []
  for model in (quantize.quantize(graph, images), graph):
    built = build.compile_model(model, os.path.join(out_dir, spec.name, build.dtype_of(model)),
                                dsp=dsp)
    try:
      fw = firmware.build(built.directory, "qemu-mps2-an386", os.path.join(built.directory, "qemu"))
    except firmware.DoesNotFit:
      continue   # e.g. the two-layer FC's 4 MB of float weights: no sample, not a failure
    prof = profile.profile_elf(fw.elf, images[0], built.logit_dtype, spec.num_classes)
    cycles = {k.name: k.cycles for k in prof.kernels}
    covered = build.kernel_layers(built)
    for call in built.program.calls:
      if not call.is_reshape:   # a flatten is an alias: no kernel, no cycles
        samples.append(Sample(spec.name, built.dtype, call.kernel,
                              layer_features(spec, [op.layer for op in covered[call.kernel]]),
                              cycles.get(call.kernel, 0)))
  return samples


def fit(samples: list[Sample]) -> dict:
  """Non-negative least-squares coefficients per dtype, with the fit's relative error per net."""
  out = {}
  for dtype in sorted({s.dtype for s in samples}):
    rows = [s for s in samples if s.dtype == dtype]
    features = np.stack([s.features for s in rows])
    cycles = np.array([s.cycles for s in rows], np.float64)
    scale = np.maximum(features.max(axis=0), 1.0)          # conditioning: features span 1 to 1e6
    coef, _ = optimize.nnls(features / scale, cycles)
    coef = coef / scale
    nets = {}
    for net in sorted({s.net for s in rows}):
      idx = [i for i, s in enumerate(rows) if s.net == net]
      emulated, predicted = cycles[idx].sum(), float((features[idx] @ coef).sum())
      nets[net] = {"emulated_cycles": int(emulated), "predicted_cycles": int(predicted),
                   "relative_error": predicted / emulated - 1.0}
    out[dtype] = {"coefficients": dict(zip(FEATURES, map(float, coef))), "nets": nets}
  return out


def write(path: str, fits: dict, nets: list[str], description: str) -> None:
  with open(path, "w") as file:
    json.dump({"description": description, "nets": nets, "fits": fits}, file, indent=1)

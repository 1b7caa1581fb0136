"""The `apollo3-emulated` hardware profile: Cortex-M4 cycles estimated from a spec's layers, with
coefficients fitted on compiled nets profiled in emulation (compile/latency_fit.py,
`python -m experiments.fit_latency`), stored in apollo3_emulated.json beside this file.

A net's cycles are a sum over the kernels the deploy compiler emits (one per conv, dense and pool,
batch norm fused into the kernel before it, plus the input conversion):

    cycles = a_conv * conv MACs + b_conv * conv outputs
           + a_image_conv * MACs of the conv on the image + b_image_conv * its outputs
           + a_dense * dense MACs + a_image_dense * MACs of a dense layer on the image
           + b_dense * dense outputs
           + a_pool * pool comparisons + b_pool * pool outputs + b_bn * batch-norm outputs
           + b_input * input pixels + c * kernels

The layer on the int16 image has coefficients of its own: a conv there runs on other kernels
than the int8 convs (with a 3x3 kernel, 9 MACs an output, its per-output work dominates; an
11x11 one is closer to the rest), and a dense layer there (the two-layer FC baseline's) on TVM's
scalar kernels, at twice the cycles of the int8 ones. Fitted on the int8 SMLAD build: within
+-3% on most nets, -5% / -6% on the worst two (compile/latency_fit.py's table).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os

import numpy as np

from smile_jax.models import spec as spec_lib

PROFILE_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "apollo3_emulated.json")
FEATURES = ("conv_macs", "conv_outputs", "image_conv_macs", "image_conv_outputs", "dense_macs",
            "image_dense_macs", "dense_outputs", "pool_comparisons",
            "pool_outputs", "bn_outputs", "input_pixels", "kernels")


def layer_features(spec: spec_lib.ModelSpec, layer_indices) -> np.ndarray:
  """The feature row of the spec layers one kernel computes (none: the input conversion)."""
  shapes = spec_lib.infer_shapes(spec)
  costs = {c.index: c for c in spec_lib.layer_costs(spec)}
  features = dict.fromkeys(FEATURES, 0.0)
  features["kernels"] = 1.0
  if not layer_indices:
    features["input_pixels"] = float(np.prod(spec.input_shape))
  for index in layer_indices:
    layer, out = spec.layers[index], float(np.prod(shapes[index]))
    # Depthwise convs and average pools have no coefficients of their own until the profile is
    # fitted on nets that hold them: they are estimated as convs and pools (a rough estimate).
    on_image = all(isinstance(before, spec_lib.Flatten) for before in spec.layers[:index])
    if isinstance(layer, spec_lib.Conv) and on_image:
      features["image_conv_macs"] += costs[index].macs
      features["image_conv_outputs"] += out
    elif isinstance(layer, (spec_lib.Conv, spec_lib.DepthwiseConv)):
      features["conv_macs"] += costs[index].macs
      features["conv_outputs"] += out
    elif isinstance(layer, spec_lib.Dense):
      features["image_dense_macs" if on_image else "dense_macs"] += costs[index].macs
      features["dense_outputs"] += out
    elif isinstance(layer, (spec_lib.MaxPool, spec_lib.AvgPool)):
      features["pool_comparisons"] += out * layer.window ** 2
      features["pool_outputs"] += out
    elif isinstance(layer, spec_lib.GlobalAvgPool):
      pooled = shapes[index - 1] if index else spec.input_shape
      features["pool_comparisons"] += float(np.prod(pooled))
      features["pool_outputs"] += out
    elif isinstance(layer, spec_lib.BatchNorm):
      features["bn_outputs"] += out
  return np.array([features[k] for k in FEATURES])


def kernel_groups(spec: spec_lib.ModelSpec) -> list[list[int]]:
  """The compiler's kernel grouping, from the spec alone: [] is the input conversion."""
  groups: list[list[int]] = [[]]
  for index, layer in enumerate(spec.layers):
    if isinstance(layer, spec_lib.WINDOWED + (spec_lib.GlobalAvgPool, spec_lib.Dense)):
      groups.append([index])
    elif isinstance(layer, spec_lib.BatchNorm):
      groups[-1].append(index)
  return groups


def spec_features(spec: spec_lib.ModelSpec) -> np.ndarray:
  return np.sum([layer_features(spec, g) for g in kernel_groups(spec)], axis=0)


@dataclasses.dataclass(frozen=True)
class EmulatedProfile:
  name: str
  description: str
  coefficients: dict            # dtype -> {feature: cycles per unit}
  clock_hz: float = 48e6

  def cycles(self, spec: spec_lib.ModelSpec, dtype: str = "int8") -> float:
    coef = self.coefficients[dtype]
    return float(spec_features(spec) @ np.array([coef[k] for k in FEATURES]))

  def latency_s(self, spec: spec_lib.ModelSpec, dtype: str = "int8") -> float:
    return self.cycles(spec, dtype) / self.clock_hz


def load(path: str | None = None) -> EmulatedProfile | None:
  path = path or PROFILE_PATH
  if not os.path.exists(path):
    return None
  return _load(path, os.path.getmtime(path))


@functools.lru_cache(maxsize=4)
def _load(path: str, mtime: float) -> EmulatedProfile:
  del mtime  # part of the cache key: a re-fitted file is read again
  with open(path) as file:
    data = json.load(file)
  return EmulatedProfile("apollo3-emulated", data["description"],
                         {d: v["coefficients"] for d, v in data["fits"].items()})

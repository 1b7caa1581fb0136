"""One Flax linen module that builds any `ModelSpec`.

Inputs are float32 images from `normalize_pixels` (uint8 -> [-1, 1]); outputs are class logits.
Batch norm takes `axis_name` so the data-parallel (pmap) path computes the same batch statistics as
one device over the whole batch.
"""

from __future__ import annotations

import functools
from typing import Optional

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from smile_jax.models import spec as spec_lib


def normalize_pixels(images) -> jnp.ndarray:
  """uint8 pixels (any batch shape) -> float32 in [-1, 1]; the only preprocessing the nets see."""
  return jnp.asarray(images, jnp.float32) * (2.0 / 255.0) - 1.0


def _activate(inputs, activation: str):
  return nn.relu(inputs) if activation == "relu" else inputs


class SpecNet(nn.Module):
  """The net described by `spec`; layer i is named `{type}_{i}` in the parameter tree."""
  spec: spec_lib.ModelSpec
  bn_axis_name: Optional[str] = None

  @nn.compact
  def __call__(self, inputs, train: bool = False):
    for index, layer in enumerate(self.spec.layers):
      name = f"{layer.type}_{index}"
      # The scope puts every primitive of the layer (activations and pools included) under its
      # name in the jaxpr's name stack, which is how the op counter attributes costs to layers.
      with jax.named_scope(name):
        if isinstance(layer, spec_lib.Conv):
          inputs = nn.Conv(layer.features, (layer.kernel, layer.kernel), strides=layer.stride,
                           padding=layer.padding, name=name)(inputs)
          inputs = _activate(inputs, layer.activation)
        elif isinstance(layer, spec_lib.DepthwiseConv):
          channels = inputs.shape[-1]
          inputs = nn.Conv(channels, (layer.kernel, layer.kernel), strides=layer.stride,
                           padding=layer.padding, feature_group_count=channels, name=name)(inputs)
          inputs = _activate(inputs, layer.activation)
        elif isinstance(layer, spec_lib.MaxPool):
          inputs = nn.max_pool(inputs, (layer.window, layer.window),
                               strides=(layer.stride, layer.stride), padding=layer.padding)
        elif isinstance(layer, spec_lib.AvgPool):
          inputs = nn.avg_pool(inputs, (layer.window, layer.window),
                               strides=(layer.stride, layer.stride), padding=layer.padding,
                               count_include_pad=True)
        elif isinstance(layer, spec_lib.GlobalAvgPool):
          inputs = jnp.mean(inputs, axis=(1, 2))
        elif isinstance(layer, spec_lib.BatchNorm):
          inputs = nn.BatchNorm(use_running_average=not train, momentum=0.9,
                                axis_name=self.bn_axis_name, name=name)(inputs)
        elif isinstance(layer, spec_lib.Dropout):
          inputs = nn.Dropout(layer.rate, deterministic=not train, name=name)(inputs)
        elif isinstance(layer, spec_lib.Flatten):
          inputs = inputs.reshape((inputs.shape[0], -1))
        elif isinstance(layer, spec_lib.Dense):
          inputs = nn.Dense(layer.features, name=name)(inputs)
          inputs = _activate(inputs, layer.activation)
        else:  # validate() makes this unreachable for specs built through ModelSpec.
          raise spec_lib.SpecError(f"{name}: no builder for layer {layer}")
    return inputs


def count_params(params) -> int:
  return int(sum(np.prod(p.shape) for p in jax.tree_util.tree_leaves(params)))


@functools.lru_cache(maxsize=256)
def build(spec: spec_lib.ModelSpec, bn_axis_name: Optional[str] = None) -> SpecNet:
  """The one `SpecNet` per (spec, axis name). jit caches on `module.apply`, whose equality is the
  module's identity, so sharing the module lets every run of the same spec (seeds, evaluation,
  prediction) reuse one compiled step instead of compiling again."""
  return SpecNet(spec, bn_axis_name=bn_axis_name)

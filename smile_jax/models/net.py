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


# A `mul` inside a scope of this name is a multiply-accumulate and its `add`s are the accumulation:
# how the op counter (cost/ops.py) counts the MACs of a conv written as multiply-adds.
MAC_SCOPE = "multiply_accumulate"


def depthwise_conv(inputs, kernel, stride: int, padding: str):
  """Each channel of (N, H, W, C) `inputs` convolved with its own k x k filter (`kernel`, shape
  (k, k, 1, C)): what `lax.conv_general_dilated` with `feature_group_count=C` computes (SAME pads
  as lax does, the odd pixel low), written as k*k strided slices multiplied and added. XLA:CPU
  runs the grouped convolution 10-20x slower, forward and backward, than these multiply-adds
  (benchmarks/depthwise.py), and the separable candidates dominated the search's time."""
  k, height, width = kernel.shape[0], inputs.shape[1], inputs.shape[2]
  if padding == "SAME":
    out_h, out_w = -(-height // stride), -(-width // stride)
    pad_h = max((out_h - 1) * stride + k - height, 0)
    pad_w = max((out_w - 1) * stride + k - width, 0)
    # A numpy zero of the inputs' dtype: no conversion op in the jaxpr for the op counter.
    inputs = jax.lax.pad(inputs, np.zeros((), inputs.dtype),
                         ((0, 0, 0), (pad_h // 2, pad_h - pad_h // 2, 0),
                          (pad_w // 2, pad_w - pad_w // 2, 0), (0, 0, 0)))
  else:
    out_h, out_w = (height - k) // stride + 1, (width - k) // stride + 1
  out = None
  with jax.named_scope(MAC_SCOPE):
    for i in range(k):
      for j in range(k):
        tap = jax.lax.slice(inputs, (0, i, j, 0),
                            (inputs.shape[0], i + (out_h - 1) * stride + 1,
                             j + (out_w - 1) * stride + 1, inputs.shape[3]),
                            (1, stride, stride, 1)) * kernel[i, j, 0]
        out = tap if out is None else out + tap
  return out


class DepthwiseConv(nn.Module):
  """A depthwise conv with nn.Conv's parameters (`kernel` (k, k, 1, C), `bias` (C,)) and
  initialisers, so checkpoints and the compiler read it as the grouped nn.Conv it replaces."""
  kernel_size: int
  stride: int = 1
  padding: str = "SAME"

  @nn.compact
  def __call__(self, inputs):
    channels = inputs.shape[-1]
    kernel = self.param("kernel", nn.initializers.lecun_normal(),
                        (self.kernel_size, self.kernel_size, 1, channels))
    bias = self.param("bias", nn.initializers.zeros_init(), (channels,))
    return depthwise_conv(inputs, kernel, self.stride, self.padding) + bias


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
          inputs = DepthwiseConv(layer.kernel, layer.stride, layer.padding, name=name)(inputs)
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

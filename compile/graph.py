"""The inference graph a trained run deploys: a `ModelSpec` plus its weights, reduced to the few
fused operations the microcontroller executes.

Training-only layers go: dropout is the identity at inference, and batch norm becomes a per-channel
affine `y = a * x + c` with `a = gamma / sqrt(var + eps)`, `c = beta - a * mean`. The affine is
folded into the weights of the conv or dense layer right before it when nothing non-linear sits in
between (that layer has activation "none"); in the zoo, batch norm follows ReLU and max pooling,
where folding would change the result, so it stays a separate `Affine` op that the compiler fuses
into the kernel before it. Every op carries the explicit padding of its SAME/VALID spec, split the
way XLA splits it (the extra pixel goes after), so the C code reproduces JAX bit for bit in layout.

`run_float(graph, images)` is a numpy reference of the graph (NHWC, float32); the deploy tests
hold it to the JAX model and the compiled firmware to it.
"""

from __future__ import annotations

import collections
import dataclasses

import numpy as np

from smile_jax.models import spec as spec_lib

BN_EPSILON = 1e-5  # flax.linen.BatchNorm's default, which SpecNet uses


class UnsupportedLayer(ValueError):
  """A layer the deploy compiler has no kernel for; raised before any compilation starts."""


@dataclasses.dataclass(frozen=True)
class ConvOp:
  weight: np.ndarray          # HWIO float32
  bias: np.ndarray            # (O,)
  stride: int
  pads: tuple[int, int, int, int]   # top, left, bottom, right
  relu: bool
  layer: int                  # index of the spec layer it comes from (for per-layer reports)
  kind: str = "conv"


@dataclasses.dataclass(frozen=True)
class DepthwiseOp:
  weight: np.ndarray          # (K, K, 1, C) float32: HWIO with one input channel per group
  bias: np.ndarray            # (C,)
  stride: int
  pads: tuple[int, int, int, int]
  relu: bool
  layer: int
  kind: str = "depthwise_conv"


@dataclasses.dataclass(frozen=True)
class PoolOp:
  window: int
  stride: int
  pads: tuple[int, int, int, int]
  layer: int
  kind: str = "max_pool"


@dataclasses.dataclass(frozen=True)
class AvgPoolOp:
  """The window mean, padded zeros included (every window divides by window^2)."""
  window: int
  stride: int
  pads: tuple[int, int, int, int]
  layer: int
  kind: str = "avg_pool"


@dataclasses.dataclass(frozen=True)
class GlobalAvgPoolOp:
  """The mean over height and width: (H, W, C) -> (C,)."""
  layer: int
  kind: str = "global_avg_pool"


@dataclasses.dataclass(frozen=True)
class AffineOp:
  """A batch norm that could not be folded: y = scale[c] * x + shift[c]."""
  scale: np.ndarray
  shift: np.ndarray
  layer: int
  kind: str = "affine"


@dataclasses.dataclass(frozen=True)
class FlattenOp:
  layer: int
  kind: str = "flatten"


@dataclasses.dataclass(frozen=True)
class DenseOp:
  weight: np.ndarray          # (In, Out)
  bias: np.ndarray
  relu: bool
  layer: int
  kind: str = "dense"


@dataclasses.dataclass(frozen=True)
class Graph:
  spec: spec_lib.ModelSpec
  ops: tuple
  shapes: tuple               # output shape (no batch) after each op

  @property
  def input_shape(self) -> tuple[int, int, int]:
    return tuple(self.spec.input_shape)


def same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
  """XLA's SAME padding: total = max((out - 1) * stride + kernel - size, 0), the odd pixel after."""
  out = -(-size // stride)
  total = max((out - 1) * stride + kernel - size, 0)
  return total // 2, total - total // 2


def _pads(layer, height: int, width: int) -> tuple[int, int, int, int]:
  if layer.padding == "VALID":
    return (0, 0, 0, 0)
  window = spec_lib.window_of(layer)
  top, bottom = same_pads(height, window, layer.stride)
  left, right = same_pads(width, window, layer.stride)
  return (top, left, bottom, right)


def _bn_affine(variables, name: str) -> tuple[np.ndarray, np.ndarray]:
  params, stats = variables["params"][name], variables["batch_stats"][name]
  variance = np.asarray(stats["var"], np.float64)
  scale = np.asarray(params["scale"], np.float64) / np.sqrt(variance + BN_EPSILON)
  shift = np.asarray(params["bias"], np.float64) - scale * np.asarray(stats["mean"], np.float64)
  return scale, shift


def from_spec(spec: spec_lib.ModelSpec, variables: dict) -> Graph:
  """The deployable graph of `spec` with trained `variables` ({"params", "batch_stats"})."""
  check_supported(spec)
  ops: list = []
  shapes = spec_lib.infer_shapes(spec)
  shape = tuple(spec.input_shape)
  for index, layer in enumerate(spec.layers):
    name = f"{layer.type}_{index}"
    if isinstance(layer, spec_lib.Conv) and spec.is_map and index == len(spec.layers) - 1:
      # A map spec's 1x1 head is one dense layer applied at every cell: (H, W, C) -> (H, W, O).
      params = variables["params"][name]
      kernel = np.asarray(params["kernel"], np.float32)
      ops.append(DenseOp(kernel.reshape(kernel.shape[-2], kernel.shape[-1]),
                         np.asarray(params["bias"], np.float32), False, index))
    elif isinstance(layer, spec_lib.Conv):
      params = variables["params"][name]
      ops.append(
          ConvOp(
              np.asarray(params["kernel"], np.float32), np.asarray(params["bias"], np.float32),
              layer.stride, _pads(layer, *shape[:2]), layer.activation == "relu", index))
    elif isinstance(layer, spec_lib.DepthwiseConv):
      params = variables["params"][name]
      ops.append(
          DepthwiseOp(
              np.asarray(params["kernel"], np.float32), np.asarray(params["bias"], np.float32),
              layer.stride, _pads(layer, *shape[:2]), layer.activation == "relu", index))
    elif isinstance(layer, spec_lib.MaxPool):
      ops.append(PoolOp(layer.window, layer.stride, _pads(layer, *shape[:2]), index))
    elif isinstance(layer, spec_lib.AvgPool):
      ops.append(AvgPoolOp(layer.window, layer.stride, _pads(layer, *shape[:2]), index))
    elif isinstance(layer, spec_lib.GlobalAvgPool):
      ops.append(GlobalAvgPoolOp(index))
    elif isinstance(layer, spec_lib.BatchNorm):
      scale, shift = _bn_affine(variables, name)
      prev = ops[-1] if ops else None
      if isinstance(prev, (ConvOp, DepthwiseOp, DenseOp)) and not prev.relu:
        # Nothing non-linear in between: fold into the previous layer's weights (output axis last).
        ops[-1] = dataclasses.replace(
            prev, weight=(prev.weight * scale).astype(np.float32),
            bias=(prev.bias * scale + shift).astype(np.float32))
      else:
        ops.append(AffineOp(scale.astype(np.float32), shift.astype(np.float32), index))
    elif isinstance(layer, spec_lib.Dropout):
      pass  # the identity at inference
    elif isinstance(layer, spec_lib.Flatten):
      ops.append(FlattenOp(index))
    elif isinstance(layer, spec_lib.Dense):
      params = variables["params"][name]
      ops.append(
          DenseOp(
              np.asarray(params["kernel"], np.float32), np.asarray(params["bias"], np.float32),
              layer.activation == "relu", index))
    shape = shapes[index]
  return Graph(spec, tuple(ops), tuple(shapes[op.layer] for op in ops))


def check_supported(spec: spec_lib.ModelSpec) -> None:
  """Raises UnsupportedLayer naming the first layer the compiler cannot deploy (no weights
  needed)."""
  known = (spec_lib.Conv, spec_lib.DepthwiseConv, spec_lib.MaxPool, spec_lib.AvgPool,
           spec_lib.GlobalAvgPool, spec_lib.BatchNorm, spec_lib.Dropout, spec_lib.Flatten,
           spec_lib.Dense)
  for index, layer in enumerate(spec.layers):
    if not isinstance(layer, known):
      raise UnsupportedLayer(
          f"layer {index} ({getattr(layer, 'type', type(layer).__name__)}) of spec {spec.name!r} "
          "has no deploy kernel; the compiler covers conv, depthwise_conv, max_pool, avg_pool, "
          "global_avg_pool, batch_norm, dropout, flatten and dense")
    if getattr(layer, "activation", "none") not in ("relu", "none"):
      raise UnsupportedLayer(f"layer {index} ({layer.type}) of spec {spec.name!r}: activation "
                             f"{layer.activation!r} has no deploy kernel (relu or none)")


# --- numpy reference ---------------------------------------------------------------------------

def normalize(images: np.ndarray) -> np.ndarray:
  """uint8 -> float32 in [-1, 1], the same arithmetic as smile_jax.models.net.normalize_pixels."""
  return np.asarray(images, np.float32) * np.float32(2.0 / 255.0) - np.float32(1.0)


def _pad(inputs, pads, value):
  top, left, bottom, right = pads
  return np.pad(inputs, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=value)


def _windows(padded, window, stride, out_h, out_w):
  """(N, out_h, out_w, k, k, C) view of the k x k windows of padded x."""
  batch, _, _, channels = padded.shape
  strides = padded.strides
  return np.lib.stride_tricks.as_strided(
      padded, (batch, out_h, out_w, window, window, channels),
      (strides[0], strides[1] * stride, strides[2] * stride, strides[1], strides[2], strides[3]))


def out_hw(x_shape, window, stride, pads):
  """(H', W') of a window sliding over an NHWC shape with `pads` (top, left, bottom, right)."""
  out_h = (x_shape[1] + pads[0] + pads[2] - window) // stride + 1
  out_w = (x_shape[2] + pads[1] + pads[3] - window) // stride + 1
  return out_h, out_w


def conv_windows(inputs, weight, stride, pads, pad_value=0):
  """Patches (N, H', W', K*K*Cin) of x ready for a matmul with weight.reshape(-1, Cout)."""
  window = weight.shape[0]
  out_h, out_w = out_hw(inputs.shape, window, stride, pads)
  xp = np.ascontiguousarray(_pad(inputs, pads, pad_value))
  return _windows(xp, window, stride, out_h, out_w).reshape(inputs.shape[0], out_h, out_w, -1)


def depthwise_sums(inputs, weight, stride, pads) -> np.ndarray:
  """(N, H', W', C): each channel's window dotted with its own K x K kernel (weight (K, K, 1,
  C))."""
  window = weight.shape[0]
  out_h, out_w = out_hw(inputs.shape, window, stride, pads)
  padded = np.ascontiguousarray(_pad(inputs, pads, 0))
  patches = _windows(padded, window, stride, out_h, out_w)          # (N, H', W', K, K, C)
  return np.einsum("nhwijc,ijc->nhwc", patches, weight[:, :, 0, :], optimize=True)


def window_sums(inputs, window, stride, pads) -> np.ndarray:
  """(N, H', W', C) sums over each window, padded zeros included."""
  out_h, out_w = out_hw(inputs.shape, window, stride, pads)
  padded = np.ascontiguousarray(_pad(inputs, pads, 0))
  return _windows(padded, window, stride, out_h, out_w).sum(axis=(3, 4))


def max_pool(inputs, window, stride, pads):
  out_h, out_w = out_hw(inputs.shape, window, stride, pads)
  low = np.iinfo(inputs.dtype).min if np.issubdtype(inputs.dtype, np.integer) else -np.inf
  xp = np.ascontiguousarray(_pad(inputs, pads, low))
  return _windows(xp, window, stride, out_h, out_w).max(axis=(3, 4))


def run_float(graph: Graph, images: np.ndarray) -> np.ndarray:
  """Logits (N, classes), or a map spec's maps (N, H', W', classes), of uint8 images (N, H, W,
  C), in float32 numpy."""
  return run_float_ops(graph, normalize(images))


def run_float_ops(graph: Graph, inputs: np.ndarray) -> np.ndarray:
  """The graph's ops applied to float32 activations x (activation ranges run them one at a time)."""
  return collections.deque(float_activations(graph, inputs), maxlen=1)[0].astype(np.float32)


def float_activations(graph: Graph, activation: np.ndarray):
  """The float reference op by op: yields the float32 activation after each of `graph.ops`."""
  for op in graph.ops:
    if isinstance(op, ConvOp):
      cols = conv_windows(activation, op.weight, op.stride, op.pads)
      activation = cols @ op.weight.reshape(-1, op.weight.shape[-1]) + op.bias
      activation = np.maximum(activation, 0) if op.relu else activation
    elif isinstance(op, DepthwiseOp):
      activation = depthwise_sums(activation, op.weight, op.stride, op.pads) + op.bias
      activation = np.maximum(activation, 0) if op.relu else activation
    elif isinstance(op, PoolOp):
      activation = max_pool(activation, op.window, op.stride, op.pads)
    elif isinstance(op, AvgPoolOp):
      activation = window_sums(activation, op.window, op.stride, op.pads) / op.window ** 2
    elif isinstance(op, GlobalAvgPoolOp):
      activation = activation.mean(axis=(1, 2))
    elif isinstance(op, AffineOp):
      activation = activation * op.scale + op.shift
    elif isinstance(op, FlattenOp):
      activation = activation.reshape(activation.shape[0], -1)
    elif isinstance(op, DenseOp):
      activation = activation @ op.weight + op.bias
      activation = np.maximum(activation, 0) if op.relu else activation
    yield activation

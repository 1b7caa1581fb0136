"""int8 post-training quantization of a deploy `Graph`, and the integer reference model.

The arithmetic, which the compiled C code and `run_int` share exactly:
  * input: uint8 pixels p become int16 `2p - 255`, i.e. the float input x = p * 2/255 - 1 at scale
    1/255, exact (no rounding), with 0 still meaning 0 so SAME zero padding stays exact too;
  * weights: int8, symmetric, one scale per output channel (max |w| / 127);
  * activations: int8, symmetric (zero point 0), one scale per tensor, taken on training
    images as a high percentile of |x| (outliers would waste the 8 bits);
  * conv / dense: int8 (or the int16 input) x int8 -> int32 accumulators, then a fixed-point
    requantize per channel:
        q = clip((acc * M[c] + offset[c]) >> shift, lo, 127)
    in int64, with int32 multipliers M[c] (the largest in [2^30, 2^31)) and one shift per layer,
    so the product is one 32 x 32 -> 64-bit multiply (SMULL) and the shift is by a constant;
    offset[c] = bias[c] * M[c] + 2^(shift-1) carries the bias (at the accumulator's scale) and the
    rounding (half up); lo = 0 after a ReLU;
  * a batch norm kept after ReLU or a pool (see graph.py) is the same requantize, its shift
    term in offset, with multipliers of AFFINE_MULTIPLIER_BITS: its inputs are int8, so with
    23-bit multipliers the product and offset usually fit 32 bits and the kernels multiply on
    32 (MLA) rather than 64 (relative error 2^-23, far below the output's rounding);
  * max pool and flatten work on the integers unchanged (max commutes with a positive scale);
  * the last dense layer stops at its int32 accumulators: logits = acc * logit_scale[c]; a map
    spec's 1x1 head is that dense layer at every cell (graph.py), so a map is int32 too.
"""

from __future__ import annotations

import collections
import dataclasses

import numpy as np

from compile import graph as graph_lib

INPUT_SCALE = 1.0 / 255.0      # of the int16 input 2p - 255
MULTIPLIER_BITS = 30           # M in [2^30, 2^31)
AFFINE_MULTIPLIER_BITS = 22    # an affine's M in [2^22, 2^23): 128 * M < 2^30


@dataclasses.dataclass(frozen=True)
class Requant:
  """q = clip((x * multiplier + offset) >> shift, lo, 127), per channel, in int64."""
  multiplier: np.ndarray       # int32 (C,)
  shift: int                   # one per layer
  offset: np.ndarray           # int64 (C,)
  lo: int                      # 0 after a ReLU, else -128

  def apply(self, acc: np.ndarray) -> np.ndarray:
    scaled = (acc.astype(np.int64) * self.multiplier.astype(np.int64) + self.offset) >> self.shift
    return np.clip(scaled, self.lo, 127).astype(np.int8)


@dataclasses.dataclass(frozen=True)
class QConv:
  weight: np.ndarray           # int8 HWIO (the bias is in requant.offset)
  stride: int
  pads: tuple
  requant: Requant
  layer: int
  kind: str = "conv"


@dataclasses.dataclass(frozen=True)
class QDepthwise:
  weight: np.ndarray           # int8 (K, K, 1, C) (the bias is in requant.offset)
  stride: int
  pads: tuple
  requant: Requant
  layer: int
  kind: str = "depthwise_conv"


@dataclasses.dataclass(frozen=True)
class QAvgPool:
  """Window sums (int32, padded zeros included) requantized by 1 / window^2 to the output scale."""
  window: int
  stride: int
  pads: tuple
  requant: Requant
  layer: int
  kind: str = "avg_pool"


@dataclasses.dataclass(frozen=True)
class QGlobalAvgPool:
  """Sums over H x W (int32) requantized by 1 / (H * W) to the output scale: (H, W, C) -> (C,)."""
  requant: Requant
  layer: int
  kind: str = "global_avg_pool"


@dataclasses.dataclass(frozen=True)
class QDense:
  weight: np.ndarray           # int8 (In, Out)
  bias: np.ndarray | None      # int32, the logits layer only (hidden layers: in requant.offset)
  requant: Requant | None      # None for the logits layer: its int32 accumulators are the output
  layer: int
  kind: str = "dense"


@dataclasses.dataclass(frozen=True)
class QAffine:
  requant: Requant
  layer: int
  kind: str = "affine"


@dataclasses.dataclass(frozen=True)
class QuantGraph:
  graph: graph_lib.Graph       # the float graph it came from
  ops: tuple                   # QConv / QDepthwise / QDense / QAffine / QAvgPool /
                               # QGlobalAvgPool / graph.PoolOp / graph.FlattenOp
  scales: tuple                # activation scale after each op (the logits: None)
  logit_scale: np.ndarray      # float32 (classes,): logits = int32 output * logit_scale


def fixed_point(real: np.ndarray, bits: int = MULTIPLIER_BITS) -> tuple[np.ndarray, int]:
  """int32 multipliers M and one shift with M * 2^-shift ~= real; the largest |M| in [2^bits,
  2^(bits+1))."""
  real = np.asarray(real, np.float64)
  top = max(float(np.abs(real).max()), 1e-30)
  shift = int(np.clip(bits - np.floor(np.log2(top)), 1, 62))
  mult = np.round(real * 2.0 ** shift)
  if np.abs(mult).max() >= 2 ** (bits + 1):        # rounding reached the next power of two
    shift -= 1
    mult = np.round(real * 2.0 ** shift)
  return mult.astype(np.int32), shift


def _requant(real_multiplier, real_offset, relu: bool, bias=None,
             bits: int = MULTIPLIER_BITS) -> Requant:
  """Requantize q = round(x * real_multiplier + real_offset) (+ the int32 `bias` added to x
  first), with multipliers of `bits` bits."""
  mult, shift = fixed_point(real_multiplier, bits)
  offset = np.round(np.asarray(real_offset, np.float64) * 2.0 ** shift).astype(np.int64)
  if bias is not None:
    offset = offset + bias.astype(np.int64) * mult.astype(np.int64)
  return Requant(mult, shift, offset + (np.int64(1) << np.int64(shift - 1)), 0 if relu else -128)


def _weight_scale(weight: np.ndarray) -> np.ndarray:
  axes = tuple(range(weight.ndim - 1))
  return np.maximum(np.abs(weight).max(axis=axes), 1e-12) / 127.0


def _quantize_weights(op, input_scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """(int8 weights, int32 bias, accumulator scale per output channel) of a conv, depthwise conv
  or dense op whose input has `input_scale`."""
  weight_scale = _weight_scale(op.weight)
  weights = np.clip(np.round(op.weight / weight_scale), -127, 127).astype(np.int8)
  acc_scale = input_scale * weight_scale
  return weights, np.round(op.bias / acc_scale).astype(np.int32), acc_scale


# Ops whose output gets a scale of its own (the others pass integers through at their input's).
_RESCALED = (graph_lib.ConvOp, graph_lib.DepthwiseOp, graph_lib.DenseOp, graph_lib.AffineOp,
             graph_lib.AvgPoolOp, graph_lib.GlobalAvgPoolOp)


def activation_scales(graph: graph_lib.Graph, images: np.ndarray,
                      percentile: float) -> list[float | None]:
  """Per-op activation scale from float activations on sample images (None: keeps its input's)."""
  activation = graph_lib.normalize(images)
  single = graph_lib.Graph(graph.spec, (), ())
  scales = []
  for op in graph.ops:
    activation = graph_lib.run_float_ops(dataclasses.replace(single, ops=(op,)), activation)
    if isinstance(op, _RESCALED):
      bound = float(np.percentile(np.abs(activation), percentile))
      scales.append(max(bound, 1e-8) / 127.0)
    else:
      scales.append(None)
  return scales


def range_sample(images: np.ndarray, count: int, seed: int) -> np.ndarray:
  """`count` of `images` drawn by `seed`, for the activation ranges: seeded, so a net quantizes
  to the same int8 model wherever it is deployed (the deploy, the robot's pipeline)."""
  return images[np.random.default_rng(seed).permutation(len(images))[:count]]


def quantize(graph: graph_lib.Graph, range_images: np.ndarray,
             percentile: float = 99.99) -> QuantGraph:
  """int8 graph of `graph`, activation ranges taken on `range_images` (uint8 NHWC)."""
  measured_scales = activation_scales(graph, range_images, percentile)
  s_in = INPUT_SCALE
  ops, scales = [], []
  last = len(graph.ops) - 1
  for index, op in enumerate(graph.ops):
    s_out = measured_scales[index] if measured_scales[index] is not None else s_in
    if isinstance(op, (graph_lib.ConvOp, graph_lib.DenseOp)):
      w_q, b_q, acc_scale = _quantize_weights(op, s_in)
      if index == last:
        ops.append(QDense(w_q, b_q, None, op.layer))
        scales.append(None)
        return QuantGraph(graph, tuple(ops), tuple(scales), acc_scale.astype(np.float32))
      rq = _requant(acc_scale / s_out, np.zeros_like(acc_scale), op.relu, bias=b_q)
      ops.append(QConv(w_q, op.stride, op.pads, rq, op.layer) if isinstance(op, graph_lib.ConvOp)
                 else QDense(w_q, None, rq, op.layer))
    elif isinstance(op, graph_lib.DepthwiseOp):
      w_q, b_q, acc_scale = _quantize_weights(op, s_in)
      rq = _requant(acc_scale / s_out, np.zeros_like(acc_scale), op.relu, bias=b_q)
      ops.append(QDepthwise(w_q, op.stride, op.pads, rq, op.layer))
    elif isinstance(op, graph_lib.AffineOp):
      ops.append(QAffine(_requant(op.scale * s_in / s_out, op.shift / s_out, False,
                                  bits=AFFINE_MULTIPLIER_BITS), op.layer))
    elif isinstance(op, (graph_lib.AvgPoolOp, graph_lib.GlobalAvgPoolOp)):
      in_shape = graph.shapes[index - 1] if index else graph.input_shape
      count = op.window ** 2 if isinstance(op, graph_lib.AvgPoolOp) else in_shape[0] * in_shape[1]
      real = np.full(in_shape[-1], s_in / (s_out * count))
      rq = _requant(real, np.zeros_like(real), False)
      ops.append(QAvgPool(op.window, op.stride, op.pads, rq, op.layer)
                 if isinstance(op, graph_lib.AvgPoolOp) else QGlobalAvgPool(rq, op.layer))
    else:
      ops.append(op)   # pool and flatten: integers pass through at their input's scale
    scales.append(s_out)
    s_in = s_out
  raise graph_lib.UnsupportedLayer(
      f"spec {graph.spec.name!r}: the last op must be the logits dense")


def input_int16(images: np.ndarray) -> np.ndarray:
  return np.asarray(images, np.int16) * 2 - 255


def _int_matmul(lhs: np.ndarray, rhs: np.ndarray) -> np.ndarray:
  """Exact integer matmul through float64 BLAS: every product and partial sum of int16 x int8
  terms stays far below 2^53, where float64 is exact, and BLAS is ~100x numpy's integer matmul."""
  return (lhs.astype(np.float64) @ rhs.astype(np.float64)).astype(np.int64)


def run_int(qgraph: QuantGraph, images: np.ndarray) -> np.ndarray:
  """The integer reference: int32 logit accumulators (N, classes), or a map spec's (N, H', W',
  classes), of uint8 images (N, H, W, C)."""
  return collections.deque(int_activations(qgraph, images), maxlen=1)[0]


def int_activations(qgraph: QuantGraph, images: np.ndarray):
  """The integer reference op by op: yields the activation after each of `qgraph.ops`."""
  activation = input_int16(images)
  for op in qgraph.ops:
    if isinstance(op, QConv):
      cols = graph_lib.conv_windows(activation, op.weight, op.stride, op.pads)
      activation = op.requant.apply(_int_matmul(cols, op.weight.reshape(-1, op.weight.shape[-1])))
    elif isinstance(op, QDepthwise):
      acc = graph_lib.depthwise_sums(activation.astype(np.int64), op.weight.astype(np.int64),
                                     op.stride, op.pads)
      activation = op.requant.apply(acc)
    elif isinstance(op, QAvgPool):
      sums = graph_lib.window_sums(activation.astype(np.int64), op.window, op.stride, op.pads)
      activation = op.requant.apply(sums)
    elif isinstance(op, QGlobalAvgPool):
      activation = op.requant.apply(activation.astype(np.int64).sum(axis=(1, 2)))
    elif isinstance(op, QDense):
      acc = _int_matmul(activation, op.weight)
      activation = op.requant.apply(acc) if op.requant is not None else (acc +
                                                                         op.bias).astype(np.int32)
    elif isinstance(op, QAffine):
      activation = op.requant.apply(activation)
    elif isinstance(op, graph_lib.PoolOp):
      activation = graph_lib.max_pool(activation, op.window, op.stride, op.pads)
    elif isinstance(op, graph_lib.FlattenOp):
      activation = activation.reshape(activation.shape[0], -1)
    yield activation


def dequantize_logits(qgraph: QuantGraph, acc: np.ndarray) -> np.ndarray:
  return np.asarray(acc, np.float32) * qgraph.logit_scale

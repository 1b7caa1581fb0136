"""A deploy graph (float) or quantized graph (int8) as a TVM Relax module, built with BlockBuilder.

The module's `main` takes one uint8 image (1, H, W, C), NHWC, as the camera gives it, and returns
the logits (a map spec: its map): float32 for the float graph, int32 accumulators for the int8
one (see quantize.py).
Weights are Relax constants in HWIO / (In, Out) layout, so they go to flash unchanged. Building
Relax directly sidesteps the StableHLO frontend, which does not load jaxlib 0.10's MLIR.
"""

from __future__ import annotations

import numpy as np
import tvm
from tvm import relax
from tvm.relax import op as R

from compile import graph as graph_lib
from compile import quantize as quant_lib
from compile.dsp import conv as dsp_conv, dense as dsp_dense, depthwise as dsp_depthwise
from compile.dsp import first_layer, pack, requant


def _const(array: np.ndarray):
  array = np.ascontiguousarray(array)
  # Without the dtype, relax.const narrows int64 to int32.
  return relax.const(array, str(array.dtype))


def _conv(inputs, weight: np.ndarray, stride: int, pads, out_dtype: str, groups: int = 1):
  """A conv2d, NHWC / HWIO; `groups` = channels makes it depthwise (weight (K, K, 1, C))."""
  return R.nn.conv2d(inputs, _const(weight), strides=stride, padding=tuple(pads), groups=groups,
                     data_layout="NHWC", kernel_layout="HWIO", out_dtype=out_dtype)


def _window_sums(inputs, window: int, stride: int, pads, channels: int):
  """int32 sums over each pooling window, padded zeros included: a depthwise conv with all-one
  weights, so integer pooling is one more conv kernel (with its requantize fused after it) and
  exact, unlike avg_pool2d's integer division."""
  ones = np.ones((window, window, 1, channels), np.int8)
  return _conv(inputs, ones, stride, pads, "int32", groups=channels)


def _dsp_args(weight, packed, requants, input_dtype: str, tables: bool = False,
              biased: bool = False) -> tuple:
  """A DSP kernel's requantize stages and its constants: the `packed` weights, then the stages'
  multipliers and offsets, one row per stage, then (`tables`: a conv) its lookup tables;
  `biased`: the kernel starts its accumulators at the bias (requant.Stage)."""
  weight = weight.reshape(-1, weight.shape[-1]).astype(np.int64)
  largest_input = 255 if input_dtype == "int16" else 128       # |2p - 255| or |int8|
  bound = int(np.abs(weight).sum(axis=0).max()) * largest_input
  taps = weight.shape[0] if tables else requant.TABLE_MAX_TAPS + 1
  stages = requant.stages_for(requants, bound, taps, biased)
  constants = [_const(packed),
               _const(np.stack([rq.multiplier for rq in requants])),
               _const(requant.stage_offsets(requants, stages, bound))]
  if tables:
    constants.append(_const(requant.stage_tables(requants, stages)))
  return stages, constants


def _dsp_conv(bb, inputs, op: quant_lib.QConv, requants):
  """A conv and its requantize chain as one of compile/dsp/'s kernels (call_tir on it)."""
  in_shape = tuple(int(d) for d in inputs.ty.shape)
  dtype = str(inputs.ty.dtype)
  kernel, channels = op.weight.shape[0], op.weight.shape[-1]
  out_shape = (1, *graph_lib.out_hw(in_shape, kernel, op.stride, op.pads), channels)
  tile = pack.conv_tile(op.weight[..., 0].size, out_shape[1] * out_shape[2], channels, dtype)
  stages, constants = _dsp_args(op.weight, pack.pack_weights(op.weight, dtype, tile), requants,
                                dtype, tables=True, biased=True)
  if first_layer.fits(in_shape, dtype, kernel, channels, stages):
    func = first_layer.conv(in_shape, op.stride, op.pads, channels, stages)
  else:
    func = dsp_conv.conv(in_shape, dtype, kernel, op.stride, op.pads, channels, stages)
  gv = bb.add_func(func, f"conv2d_dsp_{op.layer}")
  return bb.emit(relax.call_tir(gv, [inputs, *constants], relax.TensorType(out_shape, "int8")))


def _dsp_depthwise(bb, inputs, weight, stride: int, pads, requants, name: str):
  """A depthwise conv (or, with all-one `weight`, an average pool's window sums) and its
  requantize chain as compile/dsp/depthwise.py's kernel."""
  in_shape = tuple(int(d) for d in inputs.ty.shape)
  kernel = weight.shape[0]
  stages, constants = _dsp_args(weight, pack.pack_depthwise(weight), requants, "int8",
                                tables=True)
  func = dsp_depthwise.depthwise(in_shape, kernel, stride, pads, stages)
  out_shape = (1, *graph_lib.out_hw(in_shape, kernel, stride, pads), in_shape[-1])
  gv = bb.add_func(func, f"conv2d_depthwise_dsp_{name}")
  return bb.emit(relax.call_tir(gv, [inputs, *constants], relax.TensorType(out_shape, "int8")))


def _dsp_dense(bb, inputs, op: quant_lib.QDense, requants):
  """A dense layer and its requantize chain (or, for the logits, + bias) as a DSP kernel."""
  channels = op.weight.shape[-1]
  packed = pack.pack_weights(op.weight, "int8", pack.dense_tile(channels))
  if op.requant is None:
    gv = bb.add_func(dsp_dense.dense(op.weight.shape[0], channels, ()), f"matmul_dsp_{op.layer}")
    args = [inputs, _const(packed), _const(op.bias.astype(np.int64))]
    return bb.emit(relax.call_tir(gv, args, relax.TensorType((1, channels), "int32")))
  stages, constants = _dsp_args(op.weight, packed, requants, "int8", biased=True)
  gv = bb.add_func(dsp_dense.dense(op.weight.shape[0], channels, stages), f"matmul_dsp_{op.layer}")
  return bb.emit(relax.call_tir(gv, [inputs, *constants], relax.TensorType((1, channels),
                                                                           "int8")))


def _depthwise_layer(activation, op):
  """(weight, stride, pads) of `op` as a depthwise conv (average pools: all-one weights) when
  compile/dsp/depthwise.py's kernel takes it on `activation`, else None."""
  shape = tuple(int(d) for d in activation.ty.shape)
  if isinstance(op, quant_lib.QDepthwise):
    weight, stride, pads = op.weight, op.stride, op.pads
  elif isinstance(op, quant_lib.QAvgPool):
    weight, stride, pads = np.ones((op.window, op.window, 1, shape[-1]), np.int8), op.stride, \
        op.pads
  elif isinstance(op, quant_lib.QGlobalAvgPool) and shape[1] == shape[2]:   # one VALID window
    weight, stride, pads = np.ones((shape[1], shape[1], 1, shape[-1]), np.int8), 1, (0, 0, 0, 0)
  else:
    return None
  fits = dsp_depthwise.fits(shape, str(activation.ty.dtype), weight.shape[0], stride, pads)
  return (weight, stride, pads) if fits else None


def _with_affines(op, ops, start: int) -> tuple[list, int]:
  """`op`'s requantize and those of the batch-norm affines from `ops[start]` on, which its DSP
  kernel computes too; and the index of the first op after them."""
  requants = [op.requant] if op.requant is not None else []
  while requants and start < len(ops) and isinstance(ops[start], quant_lib.QAffine):
    requants.append(ops[start].requant)
    start += 1
  return requants, start


def _pool(inputs, op: graph_lib.PoolOp):
  return R.nn.max_pool2d(inputs, pool_size=op.window, strides=op.stride, padding=tuple(op.pads),
                         layout="NHWC")


def _requant(bb, acc, rq: quant_lib.Requant):
  # Both factors are cast to int64 inside the kernel (kernels.py runs no FoldConstant), so the
  # code generator sees a 32 x 32 -> 64-bit multiply; the scalar shift becomes an immediate.
  scaled = bb.emit(R.multiply(R.astype(acc, "int64"), R.astype(_const(rq.multiplier), "int64")))
  scaled = bb.emit(R.add(scaled, _const(rq.offset)))
  scaled = bb.emit(R.right_shift(scaled, relax.const(np.int64(rq.shift), "int64")))
  scaled = bb.emit(R.clip(scaled, rq.lo, 127))
  return bb.emit(R.astype(scaled, "int8"))


def _float_body(bb, image, graph: graph_lib.Graph):
  activation = bb.emit(R.astype(image, "float32"))
  activation = bb.emit(
      R.subtract(
          R.multiply(activation, relax.const(np.float32(2.0 / 255.0))),
          relax.const(np.float32(1.0))))
  for op in graph.ops:
    if isinstance(op, graph_lib.ConvOp):
      activation = bb.emit(
          R.add(_conv(activation, op.weight, op.stride, op.pads, "float32"), _const(op.bias)))
      activation = bb.emit(R.nn.relu(activation)) if op.relu else activation
    elif isinstance(op, graph_lib.DepthwiseOp):
      conv = _conv(activation, op.weight, op.stride, op.pads, "float32", op.weight.shape[-1])
      activation = bb.emit(R.add(conv, _const(op.bias)))
      activation = bb.emit(R.nn.relu(activation)) if op.relu else activation
    elif isinstance(op, graph_lib.PoolOp):
      activation = bb.emit(_pool(activation, op))
    elif isinstance(op, graph_lib.AvgPoolOp):
      activation = bb.emit(R.nn.avg_pool2d(activation, pool_size=op.window, strides=op.stride,
                                           padding=tuple(op.pads), layout="NHWC",
                                           count_include_pad=True))
    elif isinstance(op, graph_lib.GlobalAvgPoolOp):
      activation = bb.emit(R.mean(activation, axis=[1, 2]))
    elif isinstance(op, graph_lib.AffineOp):
      activation = bb.emit(R.add(R.multiply(activation, _const(op.scale)), _const(op.shift)))
    elif isinstance(op, graph_lib.FlattenOp):
      activation = bb.emit(R.reshape(activation, (1, -1)))
    elif isinstance(op, graph_lib.DenseOp):
      activation = bb.emit(
          R.add(R.matmul(activation, _const(op.weight), out_dtype="float32"), _const(op.bias)))
      activation = bb.emit(R.nn.relu(activation)) if op.relu else activation
  return activation


def _int_body(bb, image, qgraph: quant_lib.QuantGraph, dsp: bool):
  if dsp:
    shape = tuple(int(d) for d in image.ty.shape)
    gv = bb.add_func(first_layer.int16_image(shape), "image_int16_dsp")
    activation = bb.emit(relax.call_tir(gv, [image], relax.TensorType(shape, "int16")))
  else:
    activation = bb.emit(R.astype(image, "int16"))
    activation = bb.emit(
        R.subtract(R.multiply(activation, relax.const(np.int16(2))), relax.const(np.int16(255))))
  ops, i = qgraph.ops, 0
  while i < len(ops):
    op = ops[i]
    i += 1
    if dsp and isinstance(op, quant_lib.QConv):
      requants, i = _with_affines(op, ops, i)
      activation = _dsp_conv(bb, activation, op, requants)
    elif (dsp and isinstance(op, quant_lib.QDense) and str(activation.ty.dtype) == "int8"
          and len(activation.ty.shape) == 2):   # a map's per-cell head: the generic matmul
      requants, i = _with_affines(op, ops, i)
      activation = _dsp_dense(bb, activation, op, requants)
    elif dsp and _depthwise_layer(activation, op) is not None:
      requants, i = _with_affines(op, ops, i)
      weight, stride, pads = _depthwise_layer(activation, op)
      activation = _dsp_depthwise(bb, activation, weight, stride, pads, requants, str(op.layer))
      if isinstance(op, quant_lib.QGlobalAvgPool):
        activation = bb.emit(R.reshape(activation, (1, weight.shape[-1])))
    elif isinstance(op, quant_lib.QConv):
      activation = _requant(bb, bb.emit(_conv(activation, op.weight, op.stride, op.pads, "int32")),
                            op.requant)
    elif isinstance(op, quant_lib.QDepthwise):
      groups = op.weight.shape[-1]
      acc = bb.emit(_conv(activation, op.weight, op.stride, op.pads, "int32", groups))
      activation = _requant(bb, acc, op.requant)
    elif isinstance(op, quant_lib.QAvgPool):
      channels = len(op.requant.multiplier)   # one multiplier per channel
      sums = _window_sums(activation, op.window, op.stride, op.pads, channels)
      activation = _requant(bb, bb.emit(sums), op.requant)
    elif isinstance(op, quant_lib.QGlobalAvgPool):
      _, height, width, channels = (int(d) for d in activation.ty.shape)
      sums = _window_sums(activation, height, 1, (0, 0, 0, 0), channels)    # one VALID window
      activation = _requant(bb, bb.emit(sums), op.requant)
      activation = bb.emit(R.reshape(activation, (1, channels)))
    elif isinstance(op, quant_lib.QDense):
      acc = bb.emit(R.matmul(activation, _const(op.weight), out_dtype="int32"))
      activation = _requant(bb, acc, op.requant) if op.requant is not None else bb.emit(
          R.add(acc, _const(op.bias)))
    elif isinstance(op, quant_lib.QAffine):
      activation = _requant(bb, activation, op.requant)
    elif isinstance(op, graph_lib.PoolOp):
      activation = bb.emit(_pool(activation, op))
    elif isinstance(op, graph_lib.FlattenOp):
      activation = bb.emit(R.reshape(activation, (1, -1)))
  return activation


def build(model: graph_lib.Graph | quant_lib.QuantGraph, dsp: bool = False) -> tvm.IRModule:
  """The Relax module of a float `Graph` or an int8 `QuantGraph`; `dsp`: int8 convs, dense and
  depthwise layers and average pools as compile/dsp/'s SMLAD kernels (else TVM's legalized ops,
  scheduled by kernels.py)."""
  graph = model.graph if isinstance(model, quant_lib.QuantGraph) else model
  bb = relax.BlockBuilder()
  image = relax.Var("image", relax.TensorType((1, *graph.input_shape), "uint8"))
  with bb.function("main", [image]):
    with bb.dataflow():
      if isinstance(model, quant_lib.QuantGraph):
        out = _int_body(bb, image, model, dsp)
      else:
        out = _float_body(bb, image, model)
      out = bb.emit_output(out)
    bb.emit_func_output(out)
  return bb.get()

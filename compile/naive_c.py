"""A plain C reference implementation of a deploy graph: the naive baseline TVM's kernels are
measured against (benchmarks/deploy_cycles.py), and an independent check of their arithmetic.

Straightforward loops, one function per op, two ping-pong activation buffers, the same
`smile_model_run` entry point and the same arithmetic as quantize.py (int8) or graph.py (float),
so its outputs must equal the TVM build's: bit for bit in int8. Compiled with gcc -O2 like
everything else.
"""

from __future__ import annotations

import numpy as np

from compile import model_source, quantize


def c_array(name: str, array: np.ndarray, ctype: str) -> str:
  return f"static const {ctype} {name}[{array.size}] = {model_source.array_literal(array)};"


def _conv_loop(index, height, width, channels, oh, ow, oc, kernel, stride, pads, acc, xt,
               inner_epilogue) -> str:
  return f"""
static void op{index}(const {xt}* x, void* out_) {{
  for (int oy = 0; oy < {oh}; ++oy) for (int ox = 0; ox < {ow}; ++ox) for (int o = 0; o < {oc};
  ++o) {{
    {acc} acc = 0;
    for (int ky = 0; ky < {kernel}; ++ky) {{
      int iy = oy * {stride} + ky - {pads[0]};
      if (iy < 0 || iy >= {height}) continue;
      for (int kx = 0; kx < {kernel}; ++kx) {{
        int ix = ox * {stride} + kx - {pads[1]};
        if (ix < 0 || ix >= {width}) continue;
        for (int ci = 0; ci < {channels}; ++ci)
          acc += ({acc})x[(iy * {width} + ix) * {channels} + ci] * ({acc})w{index}[((ky *
          {kernel} + kx) * {channels}
          + ci) * {oc} + o];
      }}
    }}
    {inner_epilogue}
  }}
}}"""


def _channel_loop(index, height, width, channels, out_h, out_w, window, stride, pads, acc, xt,
                  weight, epilogue) -> str:
  """Each output channel from its own input channel over a window (depthwise conv, pooling sums):
  `weight` is a C expression in ky, kx, c (e.g. "1" for a plain sum)."""
  return f"""
static void op{index}(const {xt}* x, void* out_) {{
  for (int oy = 0; oy < {out_h}; ++oy) for (int ox = 0; ox < {out_w}; ++ox)
  for (int c = 0; c < {channels}; ++c) {{
    {acc} acc = 0;
    for (int ky = 0; ky < {window}; ++ky) {{
      int iy = oy * {stride} + ky - {pads[0]};
      if (iy < 0 || iy >= {height}) continue;
      for (int kx = 0; kx < {window}; ++kx) {{
        int ix = ox * {stride} + kx - {pads[1]};
        if (ix < 0 || ix >= {width}) continue;
        acc += ({acc})x[(iy * {width} + ix) * {channels} + c] * ({acc})({weight});
      }}
    }}
    int idx = (oy * {out_w} + ox) * {channels} + c;
    {epilogue}
  }}
}}"""


def _requant_expr(index: int, rq: quantize.Requant, value: str, channel: str) -> str:
  return (
      f"{{ int64_t y = ((int64_t)({value}) * (int64_t)m{index}[{channel}] + off{index}[{channel}])"
      f" >> {rq.shift};"
      f" y = y < {rq.lo} ? {rq.lo} : (y > 127 ? 127 : y); out[idx] = (int8_t)y; }}")


def _out_hw(shape, window: int, stride: int, pads) -> tuple[int, int]:
  return ((shape[0] + pads[0] + pads[2] - window) // stride + 1,
          (shape[1] + pads[1] + pads[3] - window) // stride + 1)


def _requant_arrays(index: int, rq: quantize.Requant) -> list[str]:
  return [c_array(f"m{index}", rq.multiplier, "int32_t"),
          c_array(f"off{index}", rq.offset, "int64_t")]


def _float_arrays(index: int, op) -> list[str]:
  return [c_array(f"w{index}", op.weight, "float"), c_array(f"b{index}", op.bias, "float")]


def _relu(op) -> str:
  return "v = v > 0.0f ? v : 0.0f;" if op.relu else ""


# Each op's C: (index, op, input shape (H, W, C) or (N,), int8 model?, input C type) ->
# (declarations, the op's function or None (no call), output shape, output C type).
def _conv(index, op, shape, is_int, in_t):
  window, oc = op.weight.shape[0], op.weight.shape[-1]
  oh, ow = _out_hw(shape, window, op.stride, op.pads)
  if is_int:
    decls = [c_array(f"w{index}", op.weight, "int8_t")] + _requant_arrays(index, op.requant)
    epi = (f"int8_t* out = (int8_t*)out_; int idx = (oy * {ow} + ox) * {oc} + o; "
           + _requant_expr(index, op.requant, "acc", "o"))
    func = _conv_loop(index, *shape, oh, ow, oc, window, op.stride, op.pads, "int32_t", in_t, epi)
    return decls, func, (oh, ow, oc), "int8_t"
  epi = (f"float* out = (float*)out_; float v = acc + b{index}[o]; {_relu(op)} "
         f"out[(oy * {ow} + ox) * {oc} + o] = v;")
  func = _conv_loop(index, *shape, oh, ow, oc, window, op.stride, op.pads, "float", in_t, epi)
  return _float_arrays(index, op), func, (oh, ow, oc), in_t


def _max_pool(index, op, shape, is_int, in_t):
  window, stride, pads = op.window, op.stride, op.pads
  oh, ow = _out_hw(shape, window, stride, pads)
  low = {"float": "-INFINITY", "int8_t": "-128", "int16_t": "-32768"}[in_t]
  func = f"""
static void op{index}(const {in_t}* x, void* out_) {{
  {in_t}* out = ({in_t}*)out_;
  for (int oy = 0; oy < {oh}; ++oy) for (int ox = 0; ox < {ow}; ++ox) for (int ci = 0; ci <
  {shape[2]}; ++ci) {{
    {in_t} m = {low};
    for (int ky = 0; ky < {window}; ++ky) for (int kx = 0; kx < {window}; ++kx) {{
      int iy = oy * {stride} + ky - {pads[0]}, ix = ox * {stride} + kx - {pads[1]};
      if (iy >= 0 && iy < {shape[0]} && ix >= 0 && ix < {shape[1]}) {{
        {in_t} v = x[(iy * {shape[1]} + ix) * {shape[2]} + ci]; if (v > m) m = v; }}
    }}
    out[(oy * {ow} + ox) * {shape[2]} + ci] = m;
  }}
}}"""
  return [], func, (oh, ow, shape[2]), in_t


def _channelwise(index, op, shape, is_int, in_t):
  """Depthwise convs, average pools and the global average pool: a window per channel."""
  if op.kind == "global_avg_pool":
    window, stride, pads = shape[0], 1, (0, 0, 0, 0)
  else:
    window = op.weight.shape[0] if op.kind == "depthwise_conv" else op.window
    stride, pads = op.stride, op.pads
  oh, ow = _out_hw(shape, window, stride, pads)
  ch = shape[2]
  weight = f"w{index}[(ky * {window} + kx) * {ch} + c]" if op.kind == "depthwise_conv" else "1"
  acc, out_t, decls = ("int32_t" if is_int else "float"), in_t, []
  if is_int:
    if op.kind == "depthwise_conv":
      decls.append(c_array(f"w{index}", op.weight, "int8_t"))
    decls += _requant_arrays(index, op.requant)
    epi = "int8_t* out = (int8_t*)out_; " + _requant_expr(index, op.requant, "acc", "c")
    out_t = "int8_t"
  elif op.kind == "depthwise_conv":
    decls = _float_arrays(index, op)
    epi = f"float* out = (float*)out_; float v = acc + b{index}[c]; {_relu(op)} out[idx] = v;"
  else:
    epi = f"float* out = (float*)out_; out[idx] = acc / {float(window * window)!r}f;"
  func = _channel_loop(index, *shape, oh, ow, window, stride, pads, acc, in_t, weight, epi)
  return decls, func, (ch,) if op.kind == "global_avg_pool" else (oh, ow, ch), out_t


def _affine(index, op, shape, is_int, in_t):
  count, ch = int(np.prod(shape)), shape[-1]
  if is_int:
    requant = _requant_expr(index, op.requant, "x[idx]", f"idx % {ch}")
    body = f"int8_t* out = (int8_t*)out_; for (int idx = 0; idx < {count}; ++idx) {requant}"
    decls, out_t = _requant_arrays(index, op.requant), "int8_t"
  else:
    decls = [c_array(f"s{index}", op.scale, "float"), c_array(f"t{index}", op.shift, "float")]
    body = (f"float* out = (float*)out_; for (int idx = 0; idx < {count}; ++idx) "
            f"out[idx] = x[idx] * s{index}[idx % {ch}] + t{index}[idx % {ch}];")
    out_t = in_t
  return decls, f"\nstatic void op{index}(const {in_t}* x, void* out_) {{ {body} }}", shape, out_t


def _flatten(index, op, shape, is_int, in_t):
  return [], None, (int(np.prod(shape)),), in_t


def _dense(index, op, shape, is_int, in_t):
  n_in, n_out = op.weight.shape
  acc = "int32_t" if is_int else "float"
  if is_int and op.requant is None:     # the logits: int32 accumulators plus the bias
    decls = [c_array(f"w{index}", op.weight, "int8_t"), c_array(f"b{index}", op.bias, "int32_t")]
    epi, out_t = "int32_t* out = (int32_t*)out_; out[idx] = acc + b%d[idx];" % index, "int32_t"
  elif is_int:
    decls = [c_array(f"w{index}", op.weight, "int8_t")] + _requant_arrays(index, op.requant)
    epi = "int8_t* out = (int8_t*)out_; " + _requant_expr(index, op.requant, "acc", "idx")
    out_t = "int8_t"
  else:
    decls, out_t = _float_arrays(index, op), in_t
    epi = f"float* out = (float*)out_; float v = acc + b{index}[idx]; {_relu(op)} out[idx] = v;"
  func = f"""
static void op{index}(const {in_t}* x, void* out_) {{
  for (int idx = 0; idx < {n_out}; ++idx) {{
    {acc} acc = 0;
    for (int j = 0; j < {n_in}; ++j) acc += ({acc})x[j] * ({acc})w{index}[j * {n_out} + idx];
    {epi}
  }}
}}"""
  return decls, func, (n_out,), out_t


OPS = {"conv": _conv, "max_pool": _max_pool, "depthwise_conv": _channelwise,
       "avg_pool": _channelwise, "global_avg_pool": _channelwise, "affine": _affine,
       "flatten": _flatten, "dense": _dense}
C_BYTES = {"float": 4, "int8_t": 1, "int16_t": 2, "int32_t": 4}


def generate(model, threshold_logit: float = 0.0) -> tuple[str, str]:
  """(model.h, model.c) for a float Graph or an int8 QuantGraph."""
  is_int = isinstance(model, quantize.QuantGraph)
  graph = model.graph if is_int else model
  height, width, channels = shape = graph.input_shape
  in_t = xt = "int16_t" if is_int else "float"
  convert = "(int16_t)(2 * image[i] - 255)" if is_int else "image[i] * (2.0f / 255.0f) - 1.0f"
  decls, calls = [], []
  funcs = [f"""
static void op_input(const uint8_t* image, void* out_) {{
  {xt}* out = ({xt}*)out_;
  for (int i = 0; i < {height * width * channels}; ++i) out[i] = {convert};
}}"""]
  sizes = [height * width * channels * C_BYTES[xt]]   # bytes of the converted input
  for index, op in enumerate(model.ops if is_int else graph.ops):
    op_decls, func, shape, out_t = OPS[op.kind](index, op, tuple(shape), is_int, in_t)
    decls += op_decls
    if func is None:
      continue
    funcs.append(func)
    calls.append((index, in_t))
    sizes.append(int(np.prod(shape)) * C_BYTES[out_t])
    in_t = out_t
  scale = model.logit_scale if is_int else np.ones(2, np.float32)
  source = _run_function(decls, funcs, calls, max(sizes), threshold_logit, scale)
  header = model_header("compile/naive_c.py", height * width * channels, graph.spec.num_classes,
                        "int32_t" if is_int else "float")
  return header, source


def _run_function(decls, funcs, calls, biggest: int, threshold_logit: float, scale) -> str:
  """model.c: the constants, the ops' functions, and smile_model_run calling them between two
  ping-pong buffers."""
  lines = ["/* Generated by compile/naive_c.py: the plain C reference, do not edit. */",
           "#include <stdint.h>", "#include <math.h>", '#include "model.h"', *decls, *funcs,
           f"static uint8_t buf[2][{biggest}] __attribute__((aligned(8)));",
           f"const float smile_model_threshold = {float(threshold_logit)!r}f;",
           "int smile_model_run(const uint8_t* image, smile_logit_t* logits) {",
           "  op_input(image, buf[0]);"]
  for count, (index, dtype) in enumerate(calls):
    dst = "logits" if count == len(calls) - 1 else f"buf[{(count + 1) % 2}]"
    lines.append(f"  op{index}((const {dtype}*)buf[{count % 2}], {dst});")
  lines += [
      "  return 0;", "}",
      f"static const float logit_scale[{scale.size}] = "
      f"{model_source.array_literal(np.asarray(scale, np.float32))};",
      "float smile_model_score(const smile_logit_t* logits) {",
      "  return (float)logits[1] * logit_scale[1] - (float)logits[0] * logit_scale[0];", "}"
  ]
  return "\n".join(lines) + "\n"


def model_header(generator: str, input_size: int, classes: int, logit_type: str) -> str:
  """The model.h of a self-contained model.c (this file's, compile/cmsis_nn.py's): what the
  boards' firmware calls."""
  return f"""/* Generated by {generator}. */
#ifndef SMILE_MODEL_H_
#define SMILE_MODEL_H_
#include <stdint.h>
#define SMILE_MODEL_INPUT_SIZE {input_size}
#define SMILE_MODEL_NUM_CLASSES {classes}
#define SMILE_MODEL_OUTPUT_SIZE {classes}
typedef {logit_type} smile_logit_t;
int smile_model_run(const uint8_t* image, smile_logit_t* logits);
float smile_model_score(const smile_logit_t* logits);
extern const float smile_model_threshold;
#endif
"""

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


def generate(model, threshold_logit: float = 0.0) -> tuple[str, str]:
  """(model.h, model.c) for a float Graph or an int8 QuantGraph."""
  is_int = isinstance(model, quantize.QuantGraph)
  graph = model.graph if is_int else model
  ops = model.ops if is_int else graph.ops
  height, width, channels = graph.input_shape
  shape = (height, width, channels)
  xt = "int16_t" if is_int else "float"
  decls, funcs, calls = [], [], []
  sizes = [height * width * channels * (2 if is_int else 4)]   # bytes of the converted input
  funcs.append(f"""
static void op_input(const uint8_t* image, void* out_) {{
  {xt}* out = ({xt}*)out_;
  for (int i = 0; i < {height * width * channels}; ++i) out[i] = {'(int16_t)(2 * image[i] - 255)'
  if is_int else
  'image[i] * (2.0f / 255.0f) - 1.0f'};
}}""")
  in_t = xt
  for index, op in enumerate(ops):
    out_t = in_t
    if op.kind == "conv":
      window, oc = op.weight.shape[0], op.weight.shape[-1]
      oh = (shape[0] + op.pads[0] + op.pads[2] - window) // op.stride + 1
      ow = (shape[1] + op.pads[1] + op.pads[3] - window) // op.stride + 1
      if is_int:
        decls += [
            c_array(f"w{index}", op.weight, "int8_t"),
            c_array(f"m{index}", op.requant.multiplier, "int32_t"),
            c_array(f"off{index}", op.requant.offset, "int64_t")
        ]
        epi = (f"int8_t* out = (int8_t*)out_; int idx = (oy * {ow} + ox) * {oc} + o; "
               + _requant_expr(index, op.requant, "acc", "o"))
        funcs.append(
            _conv_loop(index, *shape, oh, ow, oc, window, op.stride, op.pads, "int32_t", in_t, epi))
        out_t = "int8_t"
      else:
        decls += [c_array(f"w{index}", op.weight, "float"), c_array(f"b{index}", op.bias, "float")]
        relu = "v = v > 0.0f ? v : 0.0f;" if op.relu else ""
        epi = (f"float* out = (float*)out_; float v = acc + b{index}[o]; {relu} "
               f"out[(oy * {ow} + ox) * {oc} + o] = v;")
        funcs.append(
            _conv_loop(index, *shape, oh, ow, oc, window, op.stride, op.pads, "float", in_t, epi))
      shape = (oh, ow, oc)
    elif op.kind == "max_pool":
      window, stride, pads = op.window, op.stride, op.pads
      oh = (shape[0] + pads[0] + pads[2] - window) // stride + 1
      ow = (shape[1] + pads[1] + pads[3] - window) // stride + 1
      low = {"float": "-INFINITY", "int8_t": "-128", "int16_t": "-32768"}[in_t]
      funcs.append(f"""
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
}}""")
      shape = (oh, ow, shape[2])
    elif op.kind in ("depthwise_conv", "avg_pool", "global_avg_pool"):
      if op.kind == "global_avg_pool":
        window, stride, pads = shape[0], 1, (0, 0, 0, 0)
      else:
        window, stride, pads = op.weight.shape[0] if op.kind == "depthwise_conv" else op.window, \
            op.stride, op.pads
      oh = (shape[0] + pads[0] + pads[2] - window) // stride + 1
      ow = (shape[1] + pads[1] + pads[3] - window) // stride + 1
      ch = shape[2]
      weight = f"w{index}[(ky * {window} + kx) * {ch} + c]" if op.kind == "depthwise_conv" else "1"
      acc = "int32_t" if is_int else "float"
      if is_int:
        if op.kind == "depthwise_conv":
          decls.append(c_array(f"w{index}", op.weight, "int8_t"))
        decls += [c_array(f"m{index}", op.requant.multiplier, "int32_t"),
                  c_array(f"off{index}", op.requant.offset, "int64_t")]
        epi = "int8_t* out = (int8_t*)out_; " + _requant_expr(index, op.requant, "acc", "c")
        out_t = "int8_t"
      elif op.kind == "depthwise_conv":
        decls += [c_array(f"w{index}", op.weight, "float"), c_array(f"b{index}", op.bias, "float")]
        relu = "v = v > 0.0f ? v : 0.0f;" if op.relu else ""
        epi = f"float* out = (float*)out_; float v = acc + b{index}[c]; {relu} out[idx] = v;"
      else:
        epi = f"float* out = (float*)out_; out[idx] = acc / {float(window * window)!r}f;"
      funcs.append(_channel_loop(index, *shape, oh, ow, window, stride, pads, acc, in_t, weight,
                                 epi))
      shape = (ch,) if op.kind == "global_avg_pool" else (oh, ow, ch)
    elif op.kind == "affine":
      count, ch = int(np.prod(shape)), shape[-1]
      if is_int:
        decls += [
            c_array(f"m{index}", op.requant.multiplier, "int32_t"),
            c_array(f"off{index}", op.requant.offset, "int64_t")
        ]
        requant = _requant_expr(index, op.requant, "x[idx]", f"idx % {ch}")
        body = f"int8_t* out = (int8_t*)out_; for (int idx = 0; idx < {count}; ++idx) {requant}"
        out_t = "int8_t"
      else:
        decls += [c_array(f"s{index}", op.scale, "float"), c_array(f"t{index}", op.shift, "float")]
        body = (f"float* out = (float*)out_; for (int idx = 0; idx < {count}; ++idx) "
                f"out[idx] = x[idx] * s{index}[idx % {ch}] + t{index}[idx % {ch}];")
      funcs.append(f"\nstatic void op{index}(const {in_t}* x, void* out_) {{ {body} }}")
    elif op.kind == "flatten":
      shape = (int(np.prod(shape)),)
      continue
    elif op.kind == "dense":
      n_in, n_out = op.weight.shape
      last = is_int and op.requant is None
      acc = "int32_t" if is_int else "float"
      if is_int:
        decls.append(c_array(f"w{index}", op.weight, "int8_t"))
        if last:
          decls.append(c_array(f"b{index}", op.bias, "int32_t"))
          epi = "int32_t* out = (int32_t*)out_; out[idx] = acc + b%d[idx];" % index
          out_t = "int32_t"
        else:
          decls += [
              c_array(f"m{index}", op.requant.multiplier, "int32_t"),
              c_array(f"off{index}", op.requant.offset, "int64_t")
          ]
          epi = "int8_t* out = (int8_t*)out_; " + _requant_expr(index, op.requant, "acc", "idx")
          out_t = "int8_t"
      else:
        decls += [c_array(f"w{index}", op.weight, "float"), c_array(f"b{index}", op.bias, "float")]
        relu = "v = v > 0.0f ? v : 0.0f;" if op.relu else ""
        epi = f"float* out = (float*)out_; float v = acc + b{index}[idx]; {relu} out[idx] = v;"
      funcs.append(f"""
static void op{index}(const {in_t}* x, void* out_) {{
  for (int idx = 0; idx < {n_out}; ++idx) {{
    {acc} acc = 0;
    for (int j = 0; j < {n_in}; ++j) acc += ({acc})x[j] * ({acc})w{index}[j * {n_out} + idx];
    {epi}
  }}
}}""")
      shape = (n_out,)
    calls.append((index, in_t))
    sizes.append(int(np.prod(shape)) * {"float": 4, "int8_t": 1, "int16_t": 2, "int32_t": 4}[out_t])
    in_t = out_t
  logit_t = "int32_t" if is_int else "float"
  biggest = max(sizes)
  lines = ["/* Generated by compile/naive_c.py: the plain C reference, do not edit. */",
           "#include <stdint.h>", "#include <math.h>", '#include "model.h"', *decls, *funcs,
           f"static uint8_t buf[2][{biggest}] __attribute__((aligned(8)));",
           f"const float smile_model_threshold = {float(threshold_logit)!r}f;",
           "int smile_model_run(const uint8_t* image, smile_logit_t* logits) {",
           "  op_input(image, buf[0]);"]
  for count, (index, dtype) in enumerate(calls):
    dst = "logits" if count == len(calls) - 1 else f"buf[{(count + 1) % 2}]"
    lines.append(f"  op{index}((const {dtype}*)buf[{count % 2}], {dst});")
  scale = model.logit_scale if is_int else np.ones(2, np.float32)
  lines += [
      "  return 0;", "}",
      f"static const float logit_scale[{scale.size}] = "
      f"{model_source.array_literal(np.asarray(scale, np.float32))};",
      "float smile_model_score(const smile_logit_t* logits) {",
      "  return (float)logits[1] * logit_scale[1] - (float)logits[0] * logit_scale[0];", "}"
  ]
  header = model_header("compile/naive_c.py", height * width * channels, graph.spec.num_classes,
                        logit_t)
  return header, "\n".join(lines) + "\n"


def model_header(generator: str, input_size: int, classes: int, logit_type: str) -> str:
  """The model.h of a self-contained model.c (this file's, compile/cmsis_nn.py's): what the
  boards' firmware calls."""
  return f"""/* Generated by {generator}. */
#ifndef SMILE_MODEL_H_
#define SMILE_MODEL_H_
#include <stdint.h>
#define SMILE_MODEL_INPUT_SIZE {input_size}
#define SMILE_MODEL_NUM_CLASSES {classes}
typedef {logit_type} smile_logit_t;
int smile_model_run(const uint8_t* image, smile_logit_t* logits);
float smile_model_score(const smile_logit_t* logits);
extern const float smile_model_threshold;
#endif
"""

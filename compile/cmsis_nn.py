"""The same int8 net on CMSIS-NN, the kernels TFLite Micro calls on a Cortex-M: the peer that
benchmarks/deploy_cycles.py measures TVM's kernels against, on the same emulator and firmware.

`generate(qgraph)` writes a `model.c` with the `smile_model_run` entry point of every other build:
one function per layer (`smile_NN_<kind>`, so the profiler counts each layer apart), each calling
`arm_convolve_wrapper_s8`, `arm_depthwise_conv_wrapper_s8`, `arm_fully_connected_per_channel_s8`,
`arm_max_pool_s8` or `arm_avgpool_s8` on int8 NHWC tensors. CMSIS-NN rounds like TFLite, so the
graph is requantized TFLite's way, and outputs may differ from the project's integer reference
(quantize.py) by a unit here and there; the benchmark reports by how much:
  * input: TFLite's int8 image, p - 128 (scale 2/255, the half-unit offset of our int16 `2p - 255`
    folded into the first layer's bias, exact but at the zero-padded border);
  * per-channel requantization: our M / 2^shift as TFLite's multiplier in [2^30, 2^31) and shift
    (`arm_nn_requantize`: rounding doubling high multiply, then a rounding shift), the bias
    rounded to the accumulator's integer grid;
  * average pools: CMSIS-NN divides by the window's in-bounds count (ours by the whole window)
    and keeps the input's scale, so a per-tensor requantize to the output scale follows;
  * the logits: int8 at a scale set from the calibration images (CMSIS-NN has no int32 output);
  * a batch norm kept after a ReLU (our `affine`) has no CMSIS-NN kernel (TFLite makes it a MUL
    and an ADD): it runs as a loop of TFLite's per-channel requantize (`arm_nn_requantize`) in a
    layer function of its own.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import subprocess

import numpy as np

from compile import firmware, graph as graph_lib, model_source, naive_c, profile, quantize
from smile_jax.models import spec as spec_lib

CMSIS_NN_URL = "https://github.com/ARM-software/CMSIS-NN"
CMSIS_NN_COMMIT = "99f736a63036613032f9b70de36b493bcd7802d4"
CMSIS_CORE_URL = "https://github.com/ARM-software/CMSIS_6"
CMSIS_CORE_COMMIT = "7f62ddc8ab8e9af22039912b8f9f46a9290f49ba"
DEFINES = ["-DARM_MATH_DSP"]
THIRD_PARTY_ENV = "SMILE_JAX_THIRD_PARTY_DIR"
DEFAULT_THIRD_PARTY = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "shared", "third_party")     # ../shared/third_party


def third_party_dir(flag_value: str | None = None) -> str:
  """Where CMSIS-NN/ and CMSIS-Core/ are: the flag, else $SMILE_JAX_THIRD_PARTY_DIR, else
  ../shared/third_party beside this repository."""
  return flag_value or os.environ.get(THIRD_PARTY_ENV) or DEFAULT_THIRD_PARTY


def include_dirs(third_party: str) -> list[str]:
  return [os.path.join(third_party, "CMSIS-NN", "Include"),
          os.path.join(third_party, "CMSIS-Core", "CMSIS", "Core", "Include")]


def compile_flags(third_party: str) -> list[str]:
  """What sources using CMSIS-NN compile with, besides the firmware's CFLAGS."""
  return [*DEFINES, *(f"-I{path}" for path in include_dirs(third_party))]


def check_dir(third_party: str) -> None:
  """Fails with how to get the sources when `third_party` lacks CMSIS-NN or CMSIS-Core."""
  missing = [path for path in include_dirs(third_party) if not os.path.isdir(path)]
  if missing:
    raise FileNotFoundError(
        f"--cmsis_nn_dir={third_party}: no {missing[0]}. Get them with `git clone "
        f"{CMSIS_NN_URL} CMSIS-NN && git -C CMSIS-NN checkout {CMSIS_NN_COMMIT}` and `git clone "
        f"{CMSIS_CORE_URL} CMSIS-Core && git -C CMSIS-Core checkout {CMSIS_CORE_COMMIT}` (its "
        "CMSIS/Core/Include is what is needed) in one folder, and pass that folder")


def build_library(third_party: str, out_dir: str) -> str:
  """CMSIS-NN's int8 sources compiled with the firmware's flags into `out_dir/libcmsisnn.a`."""
  check_dir(third_party)
  gcc = firmware.require_tool("arm-none-eabi-gcc")
  sources = [path for path in sorted(glob.glob(os.path.join(third_party, "CMSIS-NN", "Source",
                                                             "*", "*.c")))
             if "_s8" in os.path.basename(path) or "NNSupportFunctions" in path]
  sources = [path for path in sources if not path.endswith(("_f16.c", "_f32.c"))]
  os.makedirs(out_dir, exist_ok=True)
  objects, flags = [], [*firmware.CFLAGS, *compile_flags(third_party)]
  for source in sources:
    obj = os.path.join(out_dir, os.path.basename(source)[:-2] + ".o")
    subprocess.run([gcc, *flags, "-c", source, "-o", obj], check=True, capture_output=True)
    objects.append(obj)
  library = os.path.join(out_dir, "libcmsisnn.a")
  subprocess.run([firmware.require_tool("arm-none-eabi-ar"), "rcs", library, *objects],
                 check=True)
  return library


def tflite_multipliers(real: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """TFLite's (multiplier in [2^30, 2^31), shift) with multiplier * 2^(shift - 31) ~= real."""
  mantissa, exponent = np.frexp(np.asarray(real, np.float64))
  mult = np.round(mantissa * 2.0 ** 31).astype(np.int64)
  carry = mult == 2 ** 31
  mult[carry] //= 2
  exponent = exponent + carry
  return mult.astype(np.int32), exponent.astype(np.int32)


def _real(rq: quantize.Requant) -> tuple[np.ndarray, np.ndarray]:
  """Our requantize as (real multiplier, bias at the accumulator's scale) per channel."""
  mult = rq.multiplier.astype(np.float64)
  return mult / 2.0 ** rq.shift, (rq.offset.astype(np.float64) - 2.0 ** (rq.shift - 1)) / mult


def _dims(n, h, w, c) -> str:
  return f"{{{n}, {h}, {w}, {c}}}"


def _function(name: str, body: list[str]) -> str:
  return (f"\n__attribute__((noinline)) static void {name}(const int8_t* x, int8_t* out) {{\n"
          + "\n".join(body) + "\n}")


def _quant_arrays(name: str, real: np.ndarray) -> list[str]:
  mult, shift = tflite_multipliers(real)
  return [f"static int32_t m{name}[{mult.size}] = {model_source.array_literal(mult)};",
          f"static int32_t s{name}[{shift.size}] = {model_source.array_literal(shift)};"]


@dataclasses.dataclass(frozen=True)
class CmsisModel:
  header: str                  # model.h
  source: str                  # model.c
  logit_scale: float           # float logits = int8 output * logit_scale
  layers: dict                 # layer function -> the graph ops it computes


# Each layer's translation: (decls, the function's body lines, output shape, scratch bytes).
def _conv_layer(name: str, op, shape, first: bool):
  kernel, oc = op.weight.shape[0], op.weight.shape[-1]
  oh, ow = graph_lib.out_hw((1, *shape), kernel, op.stride, op.pads)
  real, bias = _real(op.requant)
  weight = op.weight.astype(np.int32)
  if first:   # int16 input 2p - 255 = 2 (p - 128) + 1: see the module docstring
    real, bias = 2 * real, (bias + weight.reshape(-1, oc).sum(0)) / 2
  if op.kind == "conv":
    decls = [naive_c.c_array(f"w{name}", np.transpose(op.weight, (3, 0, 1, 2)), "int8_t")]
    scratch = 4 * -(-kernel * kernel * shape[2] // 4) * 2
    call = (f"arm_convolve_wrapper_s8(&ctx, &(cmsis_nn_conv_params){{0, 0, {{{op.stride}, "
            f"{op.stride}}}, {{{op.pads[1]}, {op.pads[0]}}}, {{1, 1}}, "
            f"{{{op.requant.lo}, 127}}}}")
  else:
    decls = [naive_c.c_array(f"w{name}", op.weight, "int8_t")]
    scratch = 2 * kernel * kernel * shape[2]
    call = (f"arm_depthwise_conv_wrapper_s8(&ctx, &(cmsis_nn_dw_conv_params){{0, 0, 1, "
            f"{{{op.stride}, {op.stride}}}, {{{op.pads[1]}, {op.pads[0]}}}, {{1, 1}}, "
            f"{{{op.requant.lo}, 127}}}}")
  decls.append(naive_c.c_array(f"b{name}", np.round(bias).astype(np.int32), "int32_t"))
  decls += _quant_arrays(name, real)
  filter_dims = _dims(oc if op.kind == "conv" else 1, kernel, kernel,
                      shape[2] if op.kind == "conv" else oc)
  body = [f"  status |= {call}, &(cmsis_nn_per_channel_quant_params){{m{name}, s{name}}}, "
          f"&(cmsis_nn_dims){_dims(1, *shape)}, x, &(cmsis_nn_dims){filter_dims}, w{name}, "
          f"&(cmsis_nn_dims){_dims(1, 1, 1, oc)}, b{name}, &(cmsis_nn_dims){_dims(1, oh, ow, oc)}"
          ", out);"]
  return decls, body, (oh, ow, oc), scratch


def _pool_layer(name: str, op, shape):
  del name
  window = shape[0] if op.kind == "global_avg_pool" else op.window
  stride = 1 if op.kind == "global_avg_pool" else op.stride
  pads = (0, 0, 0, 0) if op.kind == "global_avg_pool" else op.pads
  oh, ow = graph_lib.out_hw((1, *shape), window, stride, pads)
  function = "arm_max_pool_s8" if op.kind == "max_pool" else "arm_avgpool_s8"
  body = [f"  status |= {function}(&ctx, &(cmsis_nn_pool_params){{{{{stride}, {stride}}}, "
          f"{{{pads[1]}, {pads[0]}}}, {{-128, 127}}}}, &(cmsis_nn_dims){_dims(1, *shape)}, x, "
          f"&(cmsis_nn_dims){_dims(1, window, window, 1)}, "
          f"&(cmsis_nn_dims){_dims(1, oh, ow, shape[2])}, out);"]
  scratch = 0
  if op.kind != "max_pool":   # to the output scale: our 1 / window^2 taken back out
    scratch = 4 * shape[2]
    real, _ = _real(op.requant)
    mult, shift = tflite_multipliers(real[:1] * window * window)
    body.append(
        f"  for (int i = 0; i < {oh * ow * shape[2]}; ++i) {{ int32_t y = arm_nn_requantize("
        f"out[i], {mult[0]}, {shift[0]}); out[i] = (int8_t)(y < {op.requant.lo} ? "
        f"{op.requant.lo} : (y > 127 ? 127 : y)); }}")
  return [], body, (shape[2],) if op.kind == "global_avg_pool" else (oh, ow, shape[2]), scratch


def _dense_layer(name: str, op, real_logits: np.ndarray):
  """`real_logits`: the logits layer's real multipliers (to int8 at the model's logit scale)."""
  n_in, n_out = op.weight.shape
  if op.requant is None:
    real, bias, lo = real_logits, op.bias.astype(np.float64), -128
  else:
    (real, bias), lo = _real(op.requant), op.requant.lo
  decls = [naive_c.c_array(f"w{name}", op.weight.T, "int8_t"),
           naive_c.c_array(f"b{name}", np.round(bias).astype(np.int32), "int32_t"),
           *_quant_arrays(name, real)]
  body = [f"  status |= arm_fully_connected_per_channel_s8(&ctx, &(cmsis_nn_fc_params){{0, 0, 0, "
          f"{{{lo}, 127}}}}, &(cmsis_nn_per_channel_quant_params){{m{name}, s{name}}}, "
          f"&(cmsis_nn_dims){_dims(1, 1, 1, n_in)}, x, &(cmsis_nn_dims){_dims(n_in, 1, 1, n_out)}"
          f", w{name}, &(cmsis_nn_dims){_dims(1, 1, 1, n_out)}, b{name}, "
          f"&(cmsis_nn_dims){_dims(1, 1, 1, n_out)}, out);"]
  return decls, body, (n_out,), 0


def _affine_layer(name: str, op, shape):
  """A batch norm that stayed an affine op: a requantize per channel (TFLite's way)."""
  real, bias = _real(op.requant)
  decls = [naive_c.c_array(f"b{name}", np.round(bias).astype(np.int32), "int32_t"),
           *_quant_arrays(name, real)]
  lo, ch = op.requant.lo, shape[-1]
  body = [f"  for (int p = 0; p < {int(np.prod(shape)) // ch}; ++p, x += {ch}, out += {ch})",
          f"    for (int c = 0; c < {ch}; ++c) {{ int32_t y = arm_nn_requantize(x[c] + "
          f"b{name}[c], m{name}[c], s{name}[c]); out[c] = (int8_t)(y < {lo} ? {lo} : "
          "(y > 127 ? 127 : y)); }"]
  return decls, body, shape, 0


def generate(model: quantize.QuantGraph, calibration: np.ndarray) -> CmsisModel:
  """`model` on CMSIS-NN; `calibration` (uint8 images) sets the int8 logits' scale (their
  largest magnitude maps to 127)."""
  graph = model.graph
  height, width, channels = shape = graph.input_shape
  logits_float = quantize.dequantize_logits(model, quantize.run_int(model, calibration))
  logit_scale = max(float(np.abs(logits_float).max()), 1e-6) / 127.0
  decls, scratch = [], 16
  funcs = [f"""
__attribute__((noinline)) static void smile_00_input(const uint8_t* image, int8_t* out) {{
  for (int i = 0; i < {height * width * channels}; ++i) out[i] = (int8_t)(image[i] - 128);
}}"""]
  calls, layers = ["smile_00_input"], {"smile_00_input": []}
  for index, op in enumerate(model.ops):
    name = f"{len(calls):02d}"
    if op.kind == "flatten":
      shape = (int(np.prod(shape)),)
      continue
    if op.kind in ("conv", "depthwise_conv"):
      layer = _conv_layer(name, op, shape, index == 0)
    elif op.kind in ("max_pool", "avg_pool", "global_avg_pool"):
      layer = _pool_layer(name, op, shape)
    elif op.kind == "dense":
      layer = _dense_layer(name, op, model.logit_scale.astype(np.float64) / logit_scale)
    elif op.kind == "affine" and index > 0:
      layer = _affine_layer(name, op, shape)
    else:
      raise NotImplementedError(f"no CMSIS-NN translation of {op.kind!r} (layer {op.layer})")
    op_decls, body, shape, op_scratch = layer
    decls += op_decls
    scratch = max(scratch, op_scratch)
    function = f"smile_{name}_{op.kind}"
    funcs.append(_function(function, body))
    calls.append(function)
    layers[function] = [op]
  biggest = max(int(np.prod(graph.input_shape)), *_activation_sizes(model))
  header = naive_c.model_header("compile/cmsis_nn.py", height * width * channels,
                                graph.spec.num_classes, "int8_t")
  return CmsisModel(header, _source(decls, funcs, calls, scratch, biggest, logit_scale),
                    logit_scale, layers)


def _source(decls, funcs, calls, scratch: int, biggest: int, logit_scale: float) -> str:
  """model.c: the scratch buffer and constants, the layers' functions, and smile_model_run
  calling them between two ping-pong buffers."""
  lines = ["/* Generated by compile/cmsis_nn.py: the net on CMSIS-NN, do not edit. */",
           "#include <stdint.h>", '#include "arm_nnfunctions.h"',
           '#include "arm_nnsupportfunctions.h"', '#include "model.h"',
           f"static int16_t scratch[{(scratch + 1) // 2}] __attribute__((aligned(8)));",
           "static const cmsis_nn_context ctx = {scratch, sizeof(scratch)};",
           "static int32_t status;", *decls, *funcs,
           f"static int8_t buf[2][{biggest}] __attribute__((aligned(8)));",
           "const float smile_model_threshold = 0.0f;",
           "int smile_model_run(const uint8_t* image, smile_logit_t* logits) {",
           "  status = 0;", "  smile_00_input(image, buf[0]);"]
  for count, function in enumerate(calls[1:]):
    dst = "logits" if count == len(calls) - 2 else f"buf[{(count + 1) % 2}]"
    lines.append(f"  {function}(buf[{count % 2}], {dst});")
  lines += ["  return status;", "}",
            "float smile_model_score(const smile_logit_t* logits) {",
            f"  return (float)(logits[1] - logits[0]) * {logit_scale!r}f;", "}"]
  return "\n".join(lines) + "\n"


def _activation_sizes(model: quantize.QuantGraph) -> list[int]:
  """Elements of every op's int8 output (the ping-pong buffers' size)."""
  images = np.zeros((1, *model.graph.input_shape), np.uint8)
  return [int(np.asarray(a).size) for a in quantize.int_activations(model, images)]


def build_firmware(model: quantize.QuantGraph, calibration: np.ndarray, directory: str,
                   library: str, third_party: str) -> tuple[CmsisModel, firmware.Firmware]:
  """`model` on CMSIS-NN (`library` from `build_library`) linked into the QEMU board's firmware."""
  cmsis = generate(model, calibration)
  model_dir = os.path.join(directory, "model")
  os.makedirs(model_dir, exist_ok=True)
  for name, text in (("model.h", cmsis.header), ("model.c", cmsis.source)):
    with open(os.path.join(model_dir, name), "w") as file:
      file.write(text)
  fw = firmware.build(model_dir, "qemu-mps2-an386", os.path.join(directory, "qemu"),
                      kernels="none", extra_flags=compile_flags(third_party),
                      libraries=[library])
  return cmsis, fw


def cycles_per_mac(model: quantize.QuantGraph, calibration: np.ndarray, directory: str,
                   third_party: str) -> float | None:
  """Estimated cycles per MAC of `model` on CMSIS-NN (one inference profiled in unicorn, as the
  deploy report's own figure); None when the CMSIS-NN sources are not at `third_party`."""
  try:
    check_dir(third_party)
  except FileNotFoundError:
    return None
  library = build_library(third_party, os.path.join(directory, "lib"))
  _, fw = build_firmware(model, calibration, directory, library, third_party)
  spec = model.graph.spec
  prof = profile.profile_elf(fw.elf, calibration[0], np.int8, spec.num_classes)
  return prof.cycles / spec_lib.total_macs(spec)

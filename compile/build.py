"""A model compiled and built: from a deploy graph (float) or its int8 quantization to firmware
for both boards, checked and measured.

    build_model(model, directory, ...) -> (deploy.json's fields of the build, firmware logits)

The model goes through Relax and TVM to C / Thumb-2 (`compile_model`), is linked into the QEMU
firmware and the SparkFun Edge firmware, run under QEMU on the given images (parity: float logits
vs the caller's reference, int8 accumulators vs the integer reference, which must be bit-exact;
`compile/parity.py` names the first divergent layer otherwise), and profiled per kernel in unicorn
(instructions, estimated cycles), with QEMU's instruction count as a cross-check; the Edge build
adds the flash misses' stall cycles at the weights' placement (compile/weights_placement.py).
Everything that can fail fast (unsupported layer, too large for the board) fails before compiling.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from compile import emulate, firmware, graph as graph_lib, kernels, model_source
from compile.dsp import asm
from compile import profile
from compile import parity, quantize, relax_model, weights_placement
from smile_jax.cost import ops
from smile_jax.models import spec as spec_lib


@dataclasses.dataclass(frozen=True)
class Built:
  """One dtype's compiled model: sources on disk, the program, and its memory plan."""
  dtype: str
  model: object                 # graph.Graph or quantize.QuantGraph
  program: kernels.Program
  plan: model_source.MemoryPlan
  directory: str

  @property
  def logit_dtype(self):
    return np.float32 if self.dtype == "float32" else np.int32

  @property
  def graph(self) -> graph_lib.Graph:
    return self.model.graph if self.dtype == "int8" else self.model


def dtype_of(model) -> str:
  """"int8" for a QuantGraph, "float32" for a Graph."""
  return "int8" if isinstance(model, quantize.QuantGraph) else "float32"


def compile_model(model, directory: str, threshold_logit: float = 0.0, dsp: bool = False) -> Built:
  """Writes model.h, model.c, kernels.c and kernels.o for a Graph (float) or QuantGraph (int8);
  `dsp`: int8 convs and dense layers as compile/dsp/'s SMLAD kernels (and dsp_layers.S, the
  hand loops they call with this model's constants: compile/dsp/asm.py)."""
  os.makedirs(directory, exist_ok=True)
  program = kernels.compile_module(relax_model.build(model, dsp))
  plan = model_source.plan_memory(program)
  header, source = model_source.generate(program, plan, getattr(model, "logit_scale", None),
                                         threshold_logit)
  for name, text in (("model.h", header), ("model.c", source), ("kernels.c",
                                                                kernels.c_source(program))):
    with open(os.path.join(directory, name), "w") as file:
      file.write(text)
  kernels.llvm_object(program, os.path.join(directory, "kernels.o"))
  own_loops = asm.calls(program.kernels)
  layers_path = os.path.join(directory, asm.FILE_NAME)
  if own_loops:
    with open(layers_path, "w") as file:
      file.write(asm.source(own_loops))
  elif os.path.exists(layers_path):      # a directory reused for a model without them
    os.remove(layers_path)
  return Built(dtype_of(model), model, program, plan, directory)


# Kernel kind -> the graph ops such a kernel computes. int8 average pools (windowed and global)
# are all-one depthwise convs (relax_model.py), hence their place under "conv".
_CALL_KIND = {
    "conv": (graph_lib.ConvOp, graph_lib.DepthwiseOp, graph_lib.AvgPoolOp,
             graph_lib.GlobalAvgPoolOp),
    "maxpool": graph_lib.PoolOp, "avgpool": graph_lib.AvgPoolOp,
    "mean": graph_lib.GlobalAvgPoolOp, "dense": graph_lib.DenseOp, "flatten": graph_lib.FlattenOp}


def kernel_layers(built: Built) -> dict:
  """Kernel -> the graph ops it computes. TVM fuses a batch-norm affine into the kernel before it,
  so kernels are matched to ops by their anchor (conv, pool, dense), in order, and each affine op
  goes with the kernel that precedes it. A reshape is a flatten op only where one comes next (the
  int8 global average pool ends in a reshape of its own)."""
  ops = list(built.graph.ops)
  out, position = {}, 0
  for call in built.program.calls:
    wanted = _CALL_KIND.get(call.kind)
    covered = []
    if call.is_reshape and not (position < len(ops) and isinstance(ops[position], wanted)):
      wanted = None
    if wanted is not None:
      while position < len(ops) and not isinstance(ops[position], wanted):
        position += 1
      if position < len(ops):
        covered.append(ops[position])
        position += 1
      while position < len(ops) and isinstance(ops[position], graph_lib.AffineOp):
        covered.append(ops[position])
        position += 1
    out[call.kernel] = covered
  return out


def layer_rows(built: Built, prof: profile.Profile) -> list[dict]:
  """Per kernel: the spec layers it computes, their MACs, instructions, cycles, cycles per MAC."""
  graph = built.graph
  costs = {c.index: c for c in spec_lib.layer_costs(graph.spec)}
  by_kernel = {kernel_profile.name: kernel_profile for kernel_profile in prof.kernels}
  covered = kernel_layers(built)
  rows = []
  for call in built.program.calls:
    if call.is_reshape:
      continue
    ops = covered[call.kernel]
    kernel_profile = by_kernel.get(call.kernel, profile.KernelProfile(call.kernel, 0, 0))
    macs = sum(costs[op.layer].macs for op in ops)
    layer = " + ".join(f"{graph.spec.layers[op.layer].type}_{op.layer}" for op in ops) or "input"
    rows.append({
        "kernel": call.kernel,
        "layer": layer,
        "macs": macs,
        "instructions": kernel_profile.instructions,
        "cycles": kernel_profile.cycles,
        "cycles_per_mac": kernel_profile.cycles / macs if macs else None
    })
  glue = by_kernel.get("glue")
  if glue:
    rows.append({"kernel": "smile_model_run", "layer": "calls", "macs": 0,
                 "instructions": glue.instructions, "cycles": glue.cycles, "cycles_per_mac": None})
  return rows


def check_fits(spec: spec_lib.ModelSpec, board: str = "sparkfun-edge") -> None:
  """Raises DoesNotFit, before any compilation, when the int8 weights or activations cannot fit."""
  limits = firmware.BOARDS[board]
  cost = ops.analyze(spec)
  weights, activations = cost.param_bytes("int8"), cost.peak_activation_bytes("int8")
  if weights > limits.flash_capacity_bytes or activations + limits.stack_bytes > limits.ram_capacity_bytes:
    raise firmware.DoesNotFit(
        f"{spec.name}: int8 weights {weights:,} B (flash {limits.flash_capacity_bytes:,} B) and peak "
        f"activations {activations:,} B + {limits.stack_bytes:,} B stack (RAM "
        f"{limits.ram_capacity_bytes:,} B) do not fit the {board}: deploy a smaller net (the search's "
        "max_flash_bytes / max_peak_ram_bytes keep it in bounds)")


def build_model(model,
                directory: str,
                parity_images: np.ndarray,
                reference_logits: np.ndarray,
                kernels_route: str = "llvm",
                threshold_logit: float = 0.0,
                label: str = "",
                dsp: bool = False,
                weights_in_sram: str = "auto",
                max_model_ram_bytes: int = 0) -> tuple[dict, np.ndarray]:
  """Compiles `model`, builds both boards' firmware, checks parity under QEMU (raising
  `parity.ParityError` with the first divergent layer) and profiles one inference in unicorn;
  returns deploy.json's fields of this build and the firmware's own logits on `parity_images`.
  `reference_logits`: what the firmware must reproduce there (int8: the integer reference's
  int32 accumulators; float32: the float model's logits). The Edge build: `_edge_build`."""
  built = compile_model(model, directory, threshold_logit, dsp)
  spec = built.graph.spec
  fw = firmware.build(
      directory, "qemu-mps2-an386", os.path.join(directory, "qemu"), kernels=kernels_route)
  run = emulate.run_qemu(fw, parity_images, built.logit_dtype)
  stack = int(run.stack_bytes.max())
  edge = _edge_build(built, directory, kernels_route, parity_images[0], reference_logits[0],
                     weights_in_sram, max_model_ram_bytes, built.plan.arena_bytes + stack)
  worst = parity.check(built, kernel_layers(built), fw.elf, parity_images, run.logits,
                       reference_logits, label or f"{spec.name} ({built.dtype})")
  prof = profile.profile_elf(fw.elf, parity_images[0], built.logit_dtype, spec.output_size)
  macs = spec_lib.total_macs(spec)
  stalls = edge.pop("stalls")
  return {
      "board": "sparkfun-edge",
      "dtype": built.dtype,
      "kernels": kernels_route,
      "dsp_kernels": bool(dsp and built.dtype == "int8"),
      "macs": macs,
      "instructions": prof.instructions,
      "qemu_instructions": int(run.instructions[0]),
      "cycles": prof.cycles,
      "cycles_per_mac": prof.cycles / macs,
      "stall_cycles_48mhz": stalls[48],
      "stall_cycles_96mhz": stalls[96],
      "latency_ms_48mhz": (prof.cycles + stalls[48]) / 48e3,
      "latency_ms_96mhz": (prof.cycles + stalls[96]) / 96e3,
      "linked_flash_bytes": fw.linked_flash_bytes,     # the QEMU firmware's, read from its ELF
      "linked_ram_bytes": fw.linked_ram_bytes,
      "arena_bytes": built.plan.arena_bytes,
      "arena_lower_bound_bytes": built.plan.live_bytes,
      "stack_bytes_measured": stack,
      "max_model_ram_bytes": max_model_ram_bytes,
      "parity_max_abs_diff": worst,
      "parity_images": int(len(parity_images)),
      "parity_reference": ("integer reference (bit-exact required)" if built.dtype == "int8" else
                           f"JAX float32 (within {parity.tolerance('float32'):g})"),
      "logit_scale": [float(v) for v in getattr(model, "logit_scale", np.ones(spec.num_classes))],
      "layers": layer_rows(built, prof),
      "directory": directory,
  } | edge, run.logits


def _edge_build(built: Built, directory: str, kernels_route: str, image, reference,
                weights_in_sram: str, max_model_ram_bytes: int, model_ram: int) -> dict:
  """The SparkFun Edge firmware with the weights where `weights_in_sram` puts them
  (compile/weights_placement.py; "auto" keeps them in flash when SRAM would pass
  `max_model_ram_bytes`, 0: no limit, of RAM for the model: arena, measured stack (together
  `model_ram`) and the weights copied): deploy.json's Edge fields, and `stalls` (MHz -> the kept
  placement's flash-miss stall cycles, which the latencies add to the core's)."""
  try:
    placed = weights_placement.place(
        directory, kernels_route, image, reference, parity.tolerance(built.dtype),
        built.logit_dtype, built.graph.spec.num_classes, weights_in_sram,
        max_model_ram_bytes - model_ram if max_model_ram_bytes else None)
    edge = placed.pop("firmware")
    fits, image_path, note = True, edge.bin, ""
  except firmware.DoesNotFit as e:
    placed = {"weights_in_sram": False, "flash": None, "sram": None, "sram_weights_bytes": None}
    fits, image_path, note = False, None, str(e)
  kept = placed["sram" if placed["weights_in_sram"] else "flash"] or {}
  if placed["weights_in_sram"]:
    model_ram += placed["sram_weights_bytes"]
  return {
      # What the model takes of the Edge's RAM: arena + measured stack + weights in SRAM.
      "model_ram_bytes": model_ram,
      "fits_sparkfun_edge": fits,
      "sparkfun_edge_image": image_path,
      "sparkfun_edge_image_bytes": os.path.getsize(image_path) if fits else None,
      "sparkfun_edge_note": note,
      "weights_in_sram": placed["weights_in_sram"],
      "weights_placements": {"flash": placed["flash"], "sram": placed["sram"]},
      "stalls": {mhz: kept.get(f"stall_cycles_{mhz}mhz", 0) for mhz in (48, 96)},
  }

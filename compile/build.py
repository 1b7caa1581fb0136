"""A trained run, deployed: compiled (int8 and float), built for both boards, checked, measured.

    deploy_run(run_dir, out_dir, cfg) -> deploy.json content

For each dtype in `cfg.dtypes`: the graph (float) or its int8 quantization (activation ranges taken on training
images) goes through Relax and TVM to C / Thumb-2, is linked into the QEMU firmware and the
SparkFun Edge firmware, run under QEMU on real test images (parity: float logits vs JAX, int8
accumulators vs the integer reference, which must be bit-exact), and profiled per kernel in
unicorn (instructions, estimated cycles), with QEMU's instruction count as a cross-check.
Everything that can fail fast (unsupported layer, missing toolchain) fails before compiling.
"""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np

from compile import emulate, firmware, graph as graph_lib, kernels, model_source, profile
from compile import quantize, relax_model
from smile_jax.cost import ops
from smile_jax.eval import calibration, metrics, predict
from smile_jax.models import spec as spec_lib
from smile_jax.train import loop


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


def compile_model(model, directory: str, threshold_logit: float = 0.0) -> Built:
  """Writes model.h, model.c, kernels.c and kernels.o for a Graph (float) or QuantGraph (int8)."""
  os.makedirs(directory, exist_ok=True)
  program = kernels.compile_module(relax_model.build(model))
  plan = model_source.plan_memory(program)
  header, source = model_source.generate(program, plan, getattr(model, "logit_scale", None),
                                         threshold_logit)
  for name, text in (("model.h", header), ("model.c", source), ("kernels.c", kernels.c_source(program))):
    with open(os.path.join(directory, name), "w") as f:
      f.write(text)
  kernels.llvm_object(program, os.path.join(directory, "kernels.o"))
  return Built(dtype_of(model), model, program, plan, directory)


_CALL_KIND = {"conv": graph_lib.ConvOp, "maxpool": graph_lib.PoolOp, "dense": graph_lib.DenseOp,
              "flatten": graph_lib.FlattenOp}


def kernel_layers(built: Built) -> dict:
  """Kernel -> the graph ops it computes. TVM fuses a batch-norm affine into the kernel before it,
  so kernels are matched to ops by their anchor (conv, pool, dense), in order, and each affine op
  goes with the kernel that precedes it."""
  ops = list(built.graph.ops)
  out, i = {}, 0
  for call in built.program.calls:
    kind = call.kernel.split("_", 2)[-1]
    wanted = _CALL_KIND.get(kind)
    covered = []
    if wanted is not None:
      while i < len(ops) and not isinstance(ops[i], wanted):
        i += 1
      if i < len(ops):
        covered.append(ops[i])
        i += 1
      while i < len(ops) and isinstance(ops[i], graph_lib.AffineOp):
        covered.append(ops[i])
        i += 1
    out[call.kernel] = covered
  return out


def layer_rows(built: Built, prof: profile.Profile) -> list[dict]:
  """Per kernel: the spec layers it computes, their MACs, instructions, cycles, cycles per MAC."""
  graph = built.graph
  costs = {c.index: c for c in spec_lib.layer_costs(graph.spec)}
  by_kernel = {k.name: k for k in prof.kernels}
  covered = kernel_layers(built)
  rows = []
  for call in built.program.calls:
    if call.is_reshape:
      continue
    ops = covered[call.kernel]
    k = by_kernel.get(call.kernel, profile.KernelProfile(call.kernel, 0, 0))
    macs = sum(costs[op.layer].macs for op in ops)
    layer = " + ".join(f"{graph.spec.layers[op.layer].type}_{op.layer}" for op in ops) or "input"
    rows.append({"kernel": call.kernel, "layer": layer, "macs": macs, "instructions": k.instructions,
                 "cycles": k.cycles, "cycles_per_mac": k.cycles / macs if macs else None})
  glue = by_kernel.get("glue")
  if glue:
    rows.append({"kernel": "smile_model_run", "layer": "calls", "macs": 0,
                 "instructions": glue.instructions, "cycles": glue.cycles, "cycles_per_mac": None})
  return rows


def check_fits(spec: spec_lib.ModelSpec, board: str = "sparkfun-edge") -> None:
  """Raises DoesNotFit, before any compilation, when the int8 weights or activations cannot fit."""
  b = firmware.BOARDS[board]
  cost = ops.analyze(spec)
  weights, activations = cost.param_bytes("int8"), cost.peak_activation_bytes("int8")
  if weights > b.flash_bytes or activations + b.stack_bytes > b.ram_bytes:
    raise firmware.DoesNotFit(
        f"{spec.name}: int8 weights {weights:,} B (flash {b.flash_bytes:,} B) and peak activations "
        f"{activations:,} B + {b.stack_bytes:,} B stack (RAM {b.ram_bytes:,} B) do not fit the {board}: "
        "deploy a smaller net (the search's max_flash_bytes / max_peak_ram_bytes keep it in bounds)")


def deploy_run(run_dir: str, out_dir: str, cfg) -> dict:
  """Compiles, builds, checks and measures a trained run; writes out_dir/deploy.json and returns it."""
  firmware.check_toolchain(qemu=True)
  run_dir, predictor, _, data = predict.load_run(run_dir)
  val_threshold = predict.val_threshold(run_dir)
  spec = predictor.spec
  graph_lib.check_supported(spec)
  check_fits(spec)
  graph = graph_lib.from_spec(spec, predictor.variables)
  rng = np.random.default_rng(cfg.seed)
  range_images = data.train.images[rng.permutation(len(data.train.images))[:cfg.range_images]]
  test_images, test_labels = data.test.images, data.test.labels
  parity_images = test_images[:cfg.parity_images]
  _, jax_logits = loop.predict_scores(predictor.apply_fn, predictor.variables, test_images, 256)
  threshold_logit = float(calibration.logit(val_threshold)) if 0 < val_threshold < 1 else 0.0
  float_auc = metrics.roc_auc(test_labels, jax_logits[:, 1] - jax_logits[:, 0])
  entries = []
  for dtype in cfg.dtypes:
    model = quantize.quantize(graph, range_images, cfg.percentile) if dtype == "int8" else graph
    built = compile_model(model, os.path.join(out_dir, dtype), threshold_logit)
    fw = firmware.build(built.directory, "qemu-mps2-an386", os.path.join(built.directory, "qemu"),
                        kernels=cfg.kernels)
    try:
      edge = firmware.build(built.directory, "sparkfun-edge", os.path.join(built.directory, "sparkfun_edge"),
                            kernels=cfg.kernels, test_image=test_images[0])
      fits, edge_note = True, f"{edge.bin} ({os.path.getsize(edge.bin):,} bytes)"
    except firmware.DoesNotFit as e:
      fits, edge_note = False, str(e)
    run = emulate.run_qemu(fw, parity_images, built.logit_dtype)
    if dtype == "int8":
      ref = quantize.run_int(model, parity_images)
      parity = float(np.abs(run.logits.astype(np.int64) - ref).max())
      deployed_scores = quantize.dequantize_logits(model, quantize.run_int(model, test_images))
    else:
      parity = float(np.abs(run.logits - jax_logits[:cfg.parity_images]).max())
      deployed_scores = graph_lib.run_float(graph, test_images)
    prof = profile.profile_elf(fw.elf, parity_images[0], built.logit_dtype, spec.num_classes)
    macs = spec_lib.total_macs(spec)
    entry = {
        "board": "sparkfun-edge", "dtype": dtype, "kernels": cfg.kernels, "macs": macs,
        "instructions": prof.instructions, "qemu_instructions": int(run.instructions[0]),
        "cycles": prof.cycles, "cycles_per_mac": prof.cycles / macs,
        "latency_ms_48mhz": prof.cycles / 48e3, "latency_ms_96mhz": prof.cycles / 96e3,
        "flash_bytes": fw.flash_bytes, "ram_bytes": fw.ram_bytes, "arena_bytes": built.plan.arena_bytes,
        "fits_sparkfun_edge": fits, "sparkfun_edge": edge_note,
        "parity_max_abs_diff": parity, "parity_images": int(len(parity_images)),
        "parity_reference": "integer reference (bit-exact required)" if dtype == "int8" else "JAX float32",
        "test_auc": metrics.roc_auc(test_labels, deployed_scores[:, 1] - deployed_scores[:, 0]),
        "float_test_auc": float_auc,
        "logit_scale": [float(v) for v in getattr(model, "logit_scale", np.ones(spec.num_classes))],
        "layers": layer_rows(built, prof), "directory": built.directory,
    }
    entries.append(entry)
  result = {"run_dir": run_dir, "model": spec.name, "val_threshold": val_threshold, "builds": entries}
  with open(os.path.join(out_dir, "deploy.json"), "w") as f:
    json.dump(result, f, indent=1)
  return result

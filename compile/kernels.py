"""Relax -> fused TIR kernels -> plain C functions (C source, or a Thumb-2 object from TVM's LLVM).

TVM 0.27 has no microTVM, AOT executor or unpacked C API, so this module owns the bare-metal
emission (see ../shared/notes/toolchain.md):
  1. Relax passes legalize and fuse the graph: conv + bias + ReLU + requantize become one kernel.
  2. A small schedule per kernel inlines padding and the elementwise epilogue into the anchor
     (conv / matmul / pool) loop nest, so no kernel needs a scratch buffer the size of a feature
     map: each output element is accumulated in a register and written once.
  3. The standard TIR lowering passes run, except MakePackedAPI: instead, `unpack_params` turns
     each buffer parameter into a typed pointer, so kernels come out as
     `void smile_fused_conv2d_add_..(int16_t* x, int8_t* w, int32_t* b, ..., int8_t* out)`
     with no TVM runtime symbols. The only library call left is memcpy (from LLVM).
The calls of `main`, in order, with their argument roles, come back as a `Program` that
`model_source.py` turns into model.c.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tvm
import tvm_ffi
from tvm import relax, s_tir, tirx
from tvm.ir import Call
from tvm.tirx.buffer import buffer_data_pointer_type

from compile.dsp import instructions as dsp_instructions

KERNEL_PREFIX = "smile_"

C_TARGET = {"kind": "c", "keys": ["arm_cpu", "cpu"], "mcpu": "cortex-m4"}
LLVM_TARGET = {"kind": "llvm", "mtriple": "thumbv7em-none-eabihf", "mcpu": "cortex-m4",
               "mfloat-abi": "hard"}


C_TYPES = {"float32": "float", "int8": "int8_t", "uint8": "uint8_t", "int16": "int16_t",
            "int32": "int32_t", "int64": "int64_t"}


@dataclasses.dataclass(frozen=True)
class Tensor:
  name: str
  shape: tuple
  dtype: str

  @property
  def nbytes(self) -> int:
    return int(np.prod(self.shape)) * np.dtype(self.dtype).itemsize


@dataclasses.dataclass(frozen=True)
class KernelCall:
  kernel: str                 # C symbol
  kind: str                   # "input", "conv", "maxpool", "dense", "flatten" or "op"
  args: tuple                 # names: "image", a constant "c<i>", or an intermediate tensor
  out: Tensor

  @property
  def is_reshape(self) -> bool:
    """A flatten is a pure copy in NHWC: the planner aliases instead of calling."""
    return self.kind == "flatten"


@dataclasses.dataclass(frozen=True)
class Program:
  calls: tuple                          # KernelCall in execution order
  constants: dict                       # name -> np.ndarray
  image: Tensor
  kernels: tvm.IRModule                 # lowered, unpacked TIR, ready for a code generator


def _relax_passes() -> tvm.transform.Pass:
  return tvm.transform.Sequential([
      # No FoldConstant: the graph's constants are final already, and folding would turn the
      # in-kernel int32 -> int64 casts of multipliers into int64 tables (and a slower multiply).
      relax.transform.LegalizeOps(), relax.transform.AnnotateTIROpPattern(),
      relax.transform.FuseOps(), relax.transform.FuseTIR(),
      relax.transform.DeadCodeElimination()])


def _is_reduction(sch: s_tir.Schedule, block) -> bool:
  return any(int(iv.iter_type) == 2 for iv in sch.get(block).iter_vars)   # 2 = CommReduce


def _block_name(sch: s_tir.Schedule, block) -> str:
  return sch.get(block).name_hint


def _largest_divisor(extent: int, candidates=(4, 2)) -> int:
  return next((c for c in candidates if extent % c == 0), 1)


def schedule(func: tirx.PrimFunc, tile: int = 4) -> tirx.PrimFunc:
  """The loop nest each fused kernel runs as, chosen for a single-issue in-order core:
    * padding: a conv's padded input is materialised one output row at a time (a K-row band),
      so the inner loops carry no bounds checks and scratch stays a few hundred bytes;
      a pool keeps the bounds check inlined (it is a small share of the time);
    * register tiling: `tile` output channels per pass (the weights' innermost, contiguous axis)
      share each input load, with their accumulators in registers (the tile loop is unrolled);
    * the epilogue (bias, ReLU, batch-norm affine, requantization) runs once per output element,
      right after its accumulation, and the accumulator is initialised outside the reduction.
  """
  sch = s_tir.Schedule(tvm.IRModule({"main": func}))
  blocks = sch.get_child_blocks(sch.get_sblock("root"))
  anchors = [b for b in blocks if _is_reduction(sch, b)]
  anchor = anchors[0] if len(anchors) == 1 else None
  output = blocks[-1]
  is_anchor = lambda b: anchor is not None and sch.get(b).same_as(sch.get(anchor))
  anchor_name = _block_name(sch, anchor) if anchor is not None else ""
  conv = anchor_name.startswith("conv2d")
  dense = anchor_name.startswith("matmul")
  pads = []
  for block in blocks[:-1]:
    if is_anchor(block):
      continue
    if conv and _block_name(sch, block).startswith("pad_temp"):
      pads.append(block)
      continue
    try:
      sch.compute_inline(block)
    except s_tir.ScheduleError:
      pass  # a producer that cannot be inlined keeps its buffer
  if anchor is None:
    return sch.mod["main"]
  loops = sch.get_loops(anchor)
  spatial = sum(1 for iv in sch.get(anchor).iter_vars if int(iv.iter_type) == 0)
  if conv or dense:
    channels = loops[spatial - 1]
    extent = int(sch.get(channels).extent)
    target = _largest_divisor(extent, tuple(c for c in (tile, 2) if c <= tile))
    outer, inner = sch.split(channels, [None, target])
    sch.reorder(outer, *loops[spatial:], inner)
    if not is_anchor(output):
      sch.reverse_compute_at(output, outer)
    sch.decompose_reduction(anchor, loops[spatial])
    sch.unroll(inner)
    for pad in pads:
      sch.compute_at(pad, loops[1])          # one output row's K-row band of the padded input
  elif not is_anchor(output):
    try:
      sch.reverse_compute_at(output, loops[spatial - 1])
    except s_tir.ScheduleError:
      pass
  return sch.mod["main"]


def _tir_passes() -> list:
  """tvm.s_tir's default CPU lowering, in its order, without MakePackedAPI and the GPU passes."""
  return [
      s_tir.transform.CanonicalizeLoop(), s_tir.transform.LowerInitBlock(),
      s_tir.transform.PlanAndUpdateBufferAllocationLocation(),
      s_tir.transform.ConvertBlocksToOpaque(), s_tir.transform.CompactBufferAllocation(),
      s_tir.transform.LowerMatchBuffer(), s_tir.transform.StmtSimplify(),
      s_tir.transform.LowerOpaqueBlock(), tirx.transform.FlattenBuffer(),
      tirx.transform.NarrowDataType(32), s_tir.transform.LoopPartition(),
      tirx.transform.StorageRewrite(), tirx.transform.UnrollLoop(), tirx.transform.StmtSimplify(),
      tirx.transform.RemoveNoOp(), tirx.transform.CommonSubexprElim()]


def unpack_params(func: tirx.PrimFunc) -> tirx.PrimFunc:
  """Buffer parameters -> typed data pointers (the plain C calling convention)."""
  pointers = {p: tirx.Var(p.name, buffer_data_pointer_type(p)) for p in func.params}

  def replace(call):
    if getattr(call.op, "name", "") == "tirx.buffer_data" and call.args[0] in pointers:
      return pointers[call.args[0]]
    return call
  body = tvm_ffi.structural_map(func.body, [(Call, replace)], order="post")
  return tirx.PrimFunc(list(pointers.values()), body, attrs=func.attrs)


def _kernel_names(main: relax.Function) -> dict:
  """Short C names in call order, e.g. smile_01_conv2d (TVM's fused names run to 80 characters)."""
  names = {}
  for block in main.body.blocks:
    for binding in block.bindings:
      name = binding.value.args[0].name_hint
      names.setdefault(name, f"{KERNEL_PREFIX}{len(names):02d}_{_kind(name)}")
  return names


# In order of precedence: a reshape fused into another op (the input conversion of a net that
# flattens the image first) is that op's kernel, not a copy the planner may skip.
_KINDS = {"conv2d": "conv", "max_pool2d": "maxpool", "avg_pool2d": "avgpool", "mean": "mean",
          "matmul": "dense", "cast": "input", "reshape": "flatten"}


def _kind(tvm_name: str) -> str:
  """What a fused TVM function computes, from the op names TVM puts in its name."""
  return next((kind for op, kind in _KINDS.items() if op in tvm_name), "op")


def _program_calls(main: relax.Function, names: dict) -> tuple[list, dict]:
  calls, constants, tensors = [], {}, {}
  for block in main.body.blocks:
    for binding in block.bindings:
      value = binding.value
      if not (isinstance(value, tvm.ir.expr.Call) and value.op.name == "relax.call_tir"):
        raise NotImplementedError(
            f"deploy emission expects only call_tir after fusion, got {value.op}")
      args = []
      for arg in value.args[1].fields:
        if isinstance(arg, tvm.ir.expr.Constant):
          name = f"c{len(constants)}"
          constants[name] = arg.value.numpy()
          args.append(name)
        else:
          args.append(tensors.get(arg, arg.name))
      ty = binding.var.ty
      # Relax names need not be unique (a hand-written kernel's output may share one with a
      # fused op's), the planner's tensor names must: by variable, renamed on a clash.
      name = binding.var.name
      if name in tensors.values() or name == "image":
        name = f"{name}_{len(calls)}"
      out = Tensor(name, tuple(int(d) for d in ty.shape), str(ty.dtype))
      tensors[binding.var] = out.name
      name = value.args[0].name_hint
      calls.append(KernelCall(names[name], _kind(name), tuple(args), out))
  return calls, constants


def compile_module(mod: tvm.IRModule) -> Program:
  """Fused, scheduled, lowered kernels and the call sequence of a `relax_model.build` module."""
  mod = _relax_passes()(mod)
  names = _kernel_names(mod["main"])
  prims = {}
  for gv, func in mod.functions.items():
    if isinstance(func, tirx.PrimFunc) and not gv.name_hint.startswith("reshape"):
      # compile/dsp/'s kernels come with their loop nest; TVM's legalized ops get kernels.py's.
      scheduled = func if dsp_instructions.DSP_ATTR in (func.attrs or {}) else schedule(func)
      prims[names[gv.name_hint]] = scheduled.with_attr("global_symbol", names[gv.name_hint])
  kernels = tvm.transform.Sequential(_tir_passes())(tvm.IRModule(prims))
  kernels = tvm.IRModule({gv: unpack_params(f) for gv, f in kernels.functions.items()})
  calls, constants = _program_calls(mod["main"], names)
  image_ty = mod["main"].params[0].ty
  image = Tensor("image", tuple(int(d) for d in image_ty.shape), str(image_ty.dtype))
  return Program(tuple(calls), constants, image, kernels)


def _llvm_intrinsics(func: tirx.PrimFunc) -> tirx.PrimFunc:
  """compile/dsp/'s DSP calls (`smile_smlad(...)`) as the LLVM intrinsics of those instructions."""
  def replace(call):
    if getattr(call.op, "name", "") == "tirx.call_extern" and call.args[0].value in (
        dsp_instructions.LLVM_INTRINSICS):
      return tirx.call_llvm_pure_intrin("int32", dsp_instructions.LLVM_INTRINSICS[call.args[0].value],
                                        *call.args[1:])
    return call
  return func.with_body(tvm_ffi.structural_map(func.body, [(Call, replace)], order="post"))


def _finalize(kernels: tvm.IRModule, target: dict) -> tvm.IRModule:
  tvm_target = tvm.target.Target(target)
  if target["kind"] == "llvm":
    kernels = tvm.IRModule({gv: _llvm_intrinsics(f) for gv, f in kernels.functions.items()})
  return tirx.transform.LowerIntrin()(tirx.transform.BindTarget(tvm_target)(kernels))


# compile/dsp/'s DSP operations for the C route: the instructions where GCC targets a core with the
# DSP extension (the M4), the same arithmetic in portable C elsewhere (e.g. a host build).
C_PRELUDE = r"""
static inline int32_t smile_smlad(int32_t x, int32_t y, int32_t acc) {
#if defined(__ARM_FEATURE_DSP)
  int32_t out;
  __asm__("smlad %0, %1, %2, %3" : "=r"(out) : "r"(x), "r"(y), "r"(acc));
  return out;
#else
  int32_t sum = (int32_t)(int16_t)x * (int16_t)y + (int32_t)(int16_t)(x >> 16) * (int16_t)(y >> 16);
  return (int32_t)((uint32_t)acc + (uint32_t)sum);
#endif
}
static inline int32_t smile_sxtb16(int32_t x) {
#if defined(__ARM_FEATURE_DSP)
  int32_t out;
  __asm__("sxtb16 %0, %1" : "=r"(out) : "r"(x));
  return out;
#else
  return (int32_t)(((uint32_t)(int32_t)(int8_t)x & 0xFFFFu) | ((uint32_t)(int8_t)(x >> 16) << 16));
#endif
}
"""


def c_source(program: Program) -> str:
  """The kernels as portable C (TVM's C code generator)."""
  target = tvm.target.Target(C_TARGET)
  lib = tvm.get_global_func("target.build.c")(_finalize(program.kernels, C_TARGET), target)
  # TVM's C prelude includes its runtime headers and defines a library context for its FFI; the
  # kernels use neither, so a plain prelude replaces them.
  body = [line for line in lib.inspect_source().splitlines()
          if not line.startswith(("#include \"tvm/", "#define TVM_EXPORTS", "void* __tvm_ffi__"))]
  return "\n".join(["/* Generated by smile_jax compile/kernels.py (TVM C codegen). */",
                    "#include <stdint.h>", "#include <stdbool.h>", "#include <math.h>",
                    "#ifndef TVM_DLL", "#define TVM_DLL", "#endif", C_PRELUDE, *body, ""])


def llvm_object(program: Program, path: str) -> None:
  """The kernels as a Cortex-M4 hard-float Thumb-2 object file (TVM's bundled LLVM)."""
  target = tvm.target.Target(LLVM_TARGET)
  lib = tvm.get_global_func("target.build.llvm")(_finalize(program.kernels, LLVM_TARGET), target)
  lib.write_to_file(path, "o")   # never hasattr() this module: it probes the runtime and aborts


def kernel_signature(func: tirx.PrimFunc, name: str) -> str:
  """The C prototype of an unpacked kernel."""
  params = []
  for param in func.params:
    dtype = str(param.ty.element_type.dtype)
    params.append(f"{C_TYPES[dtype]}* {param.name}")
  return f"void {name}({', '.join(params)})"

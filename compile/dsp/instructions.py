"""The DSP instructions as TIR calls, and the TIR helpers every kernel of this package uses.

`smile_smlad` / `smile_sxtb16` are defined by compile/kernels.py's C_PRELUDE on the C route and
mapped to LLVM's `llvm.arm.smlad` / `llvm.arm.sxtb16` on the LLVM route (LLVM_INTRINSICS).
"""

from __future__ import annotations

import tvm
from tvm.script import tirx as T

DSP_ATTR = "smile.dsp"        # marks a kernel of this package: compile/kernels.py schedules it no further
OPAQUE = 8                    # Relax's op pattern that keeps FuseOps from fusing into it


# Buffer dtypes as names (string annotations would read as forward references to linters).
I8, I32, I64 = "int8", "int32", "int64"

# The C route defines these (compile/kernels.py's C_PRELUDE); the LLVM route maps them to its intrinsics.
SMLAD, SXTB16 = "smile_smlad", "smile_sxtb16"
# The hand-scheduled inner loops both routes link (firmware/common/smile_dsp.S), by (pixels,
# channels) a pass: convs take 3 or 2 pixels, dense layers and one-pixel convs one input row.
HAND_LOOPS = {(3, 2): "smile_dsp_mac_3x2", (2, 2): "smile_dsp_mac_2x2",
              (1, 4): "smile_dsp_mac_1x4", (1, 2): "smile_dsp_mac_1x2"}
LLVM_INTRINSICS = {SMLAD: "llvm.arm.smlad", SXTB16: "llvm.arm.sxtb16"}


def smlad(x, y, acc):
  """acc + x.lo * y.lo + x.hi * y.hi, with x, y holding two int16 each."""
  return T.call_extern("int32", SMLAD, x, y, acc)


def sxtb16(word):
  """Bytes 0 and 2 of `word`, sign-extended, as the low and high int16 of the result."""
  return T.call_extern("int32", SXTB16, word)


def sxtb16_ror8(word):
  """Bytes 1 and 3 (SXTB16 with its 8-bit rotation)."""
  rotated = T.bitwise_or(T.shift_right(T.Cast("uint32", word), T.uint32(8)),
                         T.shift_left(T.Cast("uint32", word), T.uint32(24)))
  return sxtb16(T.Cast("int32", rotated))


def select(values, index):
  """values[index] for a loop index that unrolling makes a constant (the chain then folds)."""
  expr = T.int32(values[-1])
  for i in range(len(values) - 2, -1, -1):
    expr = tvm.tirx.Select(index == i, T.int32(values[i]), expr)
  return expr


def field_tap(x, in_shape, kernel: int, element, iy0, ix0):
  """Element `element` ((ky, kx, c) order; -1: none) of the kernel x kernel receptive field whose
  top-left corner is (iy0, ix0) in `x` (NHWC `in_shape`), as int32; 0 outside the image (SAME
  padding's zeros) or past the taps."""
  _, height, width, cin = in_shape
  position, c = element // cin, element % cin
  iy, ix = iy0 + position // kernel, ix0 + position % kernel
  inside = tvm.tirx.all(0 <= element, element < kernel * kernel * cin, 0 <= iy, iy < height,
                        0 <= ix, ix < width)
  return tvm.tirx.if_then_else(inside, T.Cast("int32", x[0, iy, ix, c]), T.int32(0))


def pair16(lo, hi):
  """Two int16 values (held in int32) as one word, `lo` in the low half."""
  return T.bitwise_or(T.bitwise_and(lo, T.int32(0xFFFF)), T.shift_left(hi, T.int32(16)))


def requantizing_kernel(x_shape, x_dtype: str, w_shape, depth: int, channels: int,
                        entries: int, out_shape, body) -> tvm.tirx.PrimFunc:
  """A kernel of the package's calling convention: x, packed weights (int32 words), multipliers
  (depth, C) int32, offsets (depth, C) int64, the table stages' lookups (depth, C, entries) int8,
  out int8; `body(x, w, mult, offset, tables, out)`, a T.macro, is its root block."""
  @T.prim_func(private=True, s_tir=True)
  def func(x: T.Buffer(x_shape, dtype=x_dtype),
           w: T.Buffer(w_shape, dtype=I32),
           mult: T.Buffer((depth, channels), dtype=I32),
           offset: T.Buffer((depth, channels), dtype=I64),
           tables: T.Buffer((depth, channels, entries), dtype=I8),
           out: T.Buffer(out_shape, dtype=I8)):
    T.func_attr({"tirx.noalias": True, DSP_ATTR: True, "op_pattern": OPAQUE})
    with T.sblock("root"):
      body(x, w, mult, offset, tables, out)
  return func

"""The first layer by hand: a 3x3 conv on the int16 image (one input channel) and its
requantization, a few rows of output pixels (up to COL_PIXELS) a call of
the IMAGE_3X3 loop of firmware/common/smile_dsp_macros.inc (`smile_dsp_image_3x3_k<K>_c<C>`).

With 9 MACs an output, the first layer's cost is its loads and its requantization, not its MACs
(conv.py's generic kernel: ~25 cycles an output, 2.8 of them MACs). Here the TIR gathers
those rows' receptive fields once, five int16 pairs a pixel in pack.image_pairs' order, and
the hand loop takes one output channel at a time with its five weight words, bias and multiplier in
registers: per output two LDMs (5 words), five SMLADs, SMMLA (the high word and the rounding),
USAT (the ReLU's clip and the shift in one), the batch norm's table (LDRSB) and the store, ~17.4
cycles. The shift K (the conv's requantization shift minus 32) and the output stride C (the
layer's channels, a post-increment of the store) are immediates: the model's dsp_layers.S
defines the loop for its (K, C) from smile_dsp_macros.inc (compile/asm.py). The
call's end is a flag in the last pixel's padding half-word (its weight is 0, so the MACs do not see
it), leaving every register to the loop; the loop is entered where the flagged pixel comes last of
16, so it is tested once per 16 pixels.

The image's conversion to int16 (2p - 255) runs by hand too (`int16_image`: 16 pixels a loop of
UXTAB16 and PKH, ~2.6 cycles a pixel against LLVM's 4.6).

At an even stride and left pad (the search's 3x3 stride-2 roots) a row's two neighbouring taps
are one aligned word of the int16 image: pixels whose field lies inside the image take them as
such; the others check every tap (SAME padding's zeros). Used where `fits` holds; otherwise
conv.conv's generic kernel.
"""

from __future__ import annotations

import math

import tvm
from tvm.script import tirx as T

from compile import graph as graph_lib
from compile.dsp import asm
from compile.dsp.instructions import (DSP_ATTR, OPAQUE, field_tap, pair16, requantizing_kernel,
                                      select)
from compile.dsp.pack import image_pairs

KERNEL = 3
WORDS = 5                     # int16 pairs of a 3x3 field (image_pairs: 9 taps and a pad)
# Pixels a call's gathered fields hold (20 bytes each): enough that the loop's per-channel
# set-up (~40 cycles) is spread over 100+ outputs, little enough for the RAM.
COL_PIXELS = 128
LAST_PIXEL = 1 << 16          # the flag in the last pixel's padding half-word
# The most output channels the loop takes (its store's post-increment is an 8-bit immediate).
MAX_CHANNELS = 255
I16, U8 = "int16", "uint8"


def function_name(stages: tuple, channels: int) -> str:
  return asm.image_name(stages[0].shift - 32, channels)


def fits(in_shape, input_dtype: str, kernel: int, channels: int, stages: tuple) -> bool:
  """A 3x3 conv on the one-channel int16 image into at most MAX_CHANNELS whose requantization is
  the hand loop's: the conv's step biased with SMMUL (requant.Stage.high, K = shift - 32 in
  1..31), clipped at 0 (a ReLU), then a batch norm as a table from 0."""
  return (input_dtype == "int16" and in_shape[-1] == 1 and kernel == KERNEL and
          channels <= MAX_CHANNELS and
          len(stages) == 2 and stages[0].high and stages[0].lo == 0 and
          33 <= stages[0].shift <= 63 and stages[1].table and stages[1].base == 0)


def conv(in_shape, stride: int, pads, channels: int, stages: tuple) -> tvm.tirx.PrimFunc:
  """conv.conv's kernel (same parameters: x, packed weights, multipliers, offsets, tables, out)
  for a layer where `fits` holds."""
  _, height, width, _ = in_shape
  top, left, _, _ = pads
  out_h, out_w = graph_lib.out_hw(in_shape, KERNEL, stride, pads)
  depth = len(stages)
  entries = 128 - stages[1].base
  pairs = image_pairs(KERNEL, 1)
  aligned = stride % 2 == 0 and left % 2 == 0 and width % 2 == 0
  name = function_name(stages, channels)
  # Output rows a call: the most that divide the map with at most COL_PIXELS pixels gathered.
  rows = max(r for r in range(1, out_h + 1) if out_h % r == 0 and r * out_w <= max(COL_PIXELS,
                                                                                   out_w))

  # At stride 2 the pixels whose fields lie inside the image go two at a time to the model's own
  # gather (asm.image_fields_name), a run of them a row: columns first_inside .. by_hand_end.
  first_inside = -(-left // stride)
  inside_end = (width + left - KERNEL) // stride + 1
  pairs_by_hand = (inside_end - first_inside) // 2 if aligned and stride == 2 else 0
  by_hand_end = first_inside + 2 * pairs_by_hand

  def tap(x, element, iy0, ix0):
    return field_tap(x, in_shape, KERNEL, element, iy0, ix0)

  def image(x, iy, ix):
    return T.Cast("int32", x[0, iy, ix, 0])

  @T.macro
  def gather_one(x, xw, col, base, iy0, ix0):
    if aligned and 0 <= iy0 and iy0 + KERNEL <= height and 0 <= ix0 and ix0 + KERNEL <= width:
      # image_pairs(3, 1): rows' (kx 0, kx 1) as words, then column 2 down the rows.
      col[base] = xw[(iy0 * width + ix0) // 2]
      col[base + 1] = xw[((iy0 + 1) * width + ix0) // 2]
      col[base + 2] = xw[((iy0 + 2) * width + ix0) // 2]
      col[base + 3] = pair16(image(x, iy0, ix0 + 2), image(x, iy0 + 1, ix0 + 2))
      col[base + 4] = T.bitwise_and(image(x, iy0 + 2, ix0 + 2), T.int32(0xFFFF))
    else:
      for p in T.unroll(WORDS):
        col[base + p] = pair16(tap(x, select([a for a, _ in pairs], p), iy0, ix0),
                              tap(x, select([b for _, b in pairs], p), iy0, ix0))

  @T.macro
  def body(x, w, mult, offset, tables, out):
    col = T.sblock_alloc_buffer((rows * out_w * WORDS,), "int32")
    xw = T.decl_buffer((height * width // 2,), "int32", data=x.data)
    for group in range(out_h // rows):
      for row in range(rows):
        iy0 = T.meta_var((group * rows + row) * stride - top)
        if pairs_by_hand > 0 and 0 <= iy0 and iy0 + KERNEL <= height:
          T.evaluate(T.call_extern(
              "int32", asm.image_fields_name(width),
              T.address_of(xw[(iy0 * width + first_inside * stride - left) // 2]),
              T.address_of(col[(row * out_w + first_inside) * WORDS]), pairs_by_hand))
          for ox in range(first_inside):
            gather_one(x, xw, col, (row * out_w + ox) * WORDS, iy0, ox * stride - left)
          for ox in range(by_hand_end, out_w):
            gather_one(x, xw, col, (row * out_w + ox) * WORDS, iy0, ox * stride - left)
        else:
          for ox in range(out_w):
            gather_one(x, xw, col, (row * out_w + ox) * WORDS, iy0, ox * stride - left)
      last = T.meta_var(rows * out_w * WORDS - 1)
      col[last] = T.bitwise_or(col[last], T.int32(LAST_PIXEL))
      T.evaluate(T.call_extern("int32", name, T.address_of(col[0]), T.address_of(w[0, 0, 0]),
                               T.address_of(out[0, group * rows, 0, 0]), channels,
                               T.address_of(offset[0, 0]), T.address_of(mult[0, 0]),
                               T.address_of(tables[1, 0, 0]), entries, rows * out_w))

  return requantizing_kernel((1, height, width, 1), I16, (channels, WORDS, 1), depth, channels,
                             entries, (1, out_h, out_w, channels), body)


WIDEN_PIXELS = 16             # smile_dsp_image_int16's pixels a loop


def int16_image(shape) -> tvm.tirx.PrimFunc:
  """The uint8 image (1, H, W, C) as the integer reference's int16 input 2p - 255: whole loops of
  WIDEN_PIXELS by smile_dsp_image_int16, a remainder here."""
  count = math.prod(shape)
  body = count - count % WIDEN_PIXELS

  @T.prim_func(private=True, s_tir=True)
  def func(x: T.Buffer(shape, dtype=U8), out: T.Buffer(shape, dtype=I16)):
    T.func_attr({"tirx.noalias": True, DSP_ATTR: True, "op_pattern": OPAQUE})
    with T.sblock("root"):
      flat_x = T.decl_buffer((count,), U8, data=x.data)
      flat_out = T.decl_buffer((count,), I16, data=out.data)
      if body > 0:
        T.evaluate(T.call_extern("int32", "smile_dsp_image_int16", T.address_of(flat_x[0]),
                                 T.address_of(flat_out[0]), body))
      for i in range(body, count):
        flat_out[i] = T.Cast(I16, flat_x[i]) * T.int16(2) - T.int16(255)

  return func

"""Depthwise convs (and the integer average pools: all-one depthwise convs) on SMLAD: four
channels a word, each channel's taps paired by a pack after SXTB16.
"""

from __future__ import annotations

import tvm
from tvm.script import tirx as T

from compile import graph as graph_lib
from compile.dsp.instructions import (I8, pair16, requantizing_kernel, smlad, sxtb16,
                                      sxtb16_ror8)
from compile.dsp.pack import words_of
from compile.dsp.requant import TABLE_MAX_TAPS, requantize


# The depthwise kernel's fields that cross the image's edge check every tap (measured: a 5x5
# SAME conv on 8x8, a quarter of its fields inside, ran at 13.6 est. cycles/MAC against TVM's
# scalar 11.6; a 3x3 stride-2 one on 32x32, 88% inside, at 5.6 against 11.4): it is used where
# at least this share of the output pixels' fields lie wholly inside.
DEPTHWISE_MIN_INSIDE = 0.5


def _inside_share(in_shape, kernel: int, stride: int, pads) -> float:
  out_h, out_w = graph_lib.out_hw(in_shape, kernel, stride, pads)
  top, left = pads[0], pads[1]

  def count(size, outputs, before):
    return sum(0 <= o * stride - before and o * stride - before + kernel <= size
               for o in range(outputs))
  return (count(in_shape[1], out_h, top) * count(in_shape[2], out_w, left)) / (out_h * out_w)


def fits(in_shape, input_dtype: str, kernel: int, stride: int, pads) -> bool:
  """Whether the SMLAD depthwise kernel takes this layer: int8 activations, four channels a
  word, and most receptive fields inside the image (DEPTHWISE_MIN_INSIDE)."""
  return (input_dtype == "int8" and in_shape[-1] % 4 == 0 and
          _inside_share(in_shape, kernel, stride, pads) >= DEPTHWISE_MIN_INSIDE)


def _high_pair(lo, hi):
  """The high int16 halves of two words as one word, `lo`'s in the low half."""
  return T.bitwise_or(T.bitwise_and(T.shift_right(lo, T.int32(16)), T.int32(0xFFFF)),
                      T.bitwise_and(hi, T.int32(-65536)))


def depthwise(in_shape, kernel: int, stride: int, pads, stages: tuple) -> tvm.tirx.PrimFunc:
  """Depthwise conv2d (int8 NHWC, C % 4 == 0) + the requantize `stages`, int8 out; with all-one
  weights, the window sums of the integer average pools. Per output pixel and four channels,
  each pair of taps is two input words: SXTB16 splits each into channels (0, 2) and (1, 3), a
  pack puts one channel's two taps in one word, and SMLAD meets it with that channel's tap pair.

  Parameters: x (1, H, W, C) int8, packed weights (pack.pack_depthwise), multipliers (stages, C)
  int32, offsets (stages, C) int64, tables (stages, C, entries) int8 (stage_tables), out."""
  _, height, width, channels = in_shape
  top, left, _, _ = pads
  out_h, out_w = graph_lib.out_hw(in_shape, kernel, stride, pads)
  taps = kernel * kernel
  pairs = words_of(taps, 2)
  groups = channels // 4
  depth = len(stages)
  entries = 128 - min([stage.base for stage in stages if stage.table], default=127)
  pair_loop = T.unroll if pairs <= TABLE_MAX_TAPS // 2 else T.serial

  def word(xw, tap, oy, ox, g, checked):
    """Channels 4g..4g+3 at receptive-field position `tap` as one word; 0 outside the image
    (checked only past the last tap when the whole field is known to be inside)."""
    iy = oy * stride - top + tap // kernel
    ix = ox * stride - left + tap % kernel
    inside = (tvm.tirx.all(tap < taps, 0 <= iy, iy < height, 0 <= ix, ix < width)
              if checked else tap < taps)
    return tvm.tirx.if_then_else(inside, xw[(iy * width + ix) * groups + g], T.int32(0))

  @T.macro
  def accumulate(xw, w, acc, oy, ox, g, checked):
    for j in pair_loop(pairs):
      first = T.meta_var(word(xw, 2 * j, oy, ox, g, checked))
      second = T.meta_var(word(xw, 2 * j + 1, oy, ox, g, checked))
      even0 = T.meta_var(sxtb16(first))           # channels 0 and 2 at the first tap
      even1 = T.meta_var(sxtb16(second))
      odd0 = T.meta_var(sxtb16_ror8(first))       # channels 1 and 3
      odd1 = T.meta_var(sxtb16_ror8(second))
      acc[0] = smlad(pair16(even0, even1), w[g, j, 0], acc[0])
      acc[1] = smlad(pair16(odd0, odd1), w[g, j, 1], acc[1])
      acc[2] = smlad(_high_pair(even0, even1), w[g, j, 2], acc[2])
      acc[3] = smlad(_high_pair(odd0, odd1), w[g, j, 3], acc[3])

  @T.macro
  def body(x, w, mult, offset, tables, out):
    acc = T.sblock_alloc_buffer((4,), "int32")
    xw = T.decl_buffer((height * width * groups,), "int32", data=x.data)
    for oy, ox, g in T.grid(out_h, out_w, groups):
      for c in T.unroll(4):
        acc[c] = 0
      y0 = T.meta_var(oy * stride - top)
      x0 = T.meta_var(ox * stride - left)
      # Most fields lie wholly inside the image: no per-tap bounds checks there.
      if 0 <= y0 and y0 + kernel <= height and 0 <= x0 and x0 + kernel <= width:
        accumulate(xw, w, acc, oy, ox, g, False)
      else:
        accumulate(xw, w, acc, oy, ox, g, True)
      for c in T.unroll(4):
        out[0, oy, ox, 4 * g + c] = requantize(acc[c], mult, offset, 4 * g + c, stages,
                                               tables)


  return requantizing_kernel((1, height, width, channels), I8, (groups, pairs, 4), depth,
                             channels, entries, (1, out_h, out_w, channels), body)

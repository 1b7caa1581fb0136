"""int8 convs on SMLAD: 3 (or 2) output pixels x 2 channels a pass, the receptive fields
gathered once into int16 pairs, the inner loops by hand (package docstring).

`conv` plans a layer (`plan`: which loops, which gather, how many pixels a pass), then writes
the kernel from three macros: the gather of a pass's fields, its channels' accumulation and
requantization, and the pass that joins them.
"""

from __future__ import annotations

import dataclasses

import tvm
from tvm.script import tirx as T

from compile import graph as graph_lib
from compile.dsp import asm, requant
from compile.dsp.instructions import (HAND_LOOPS, field_tap, pair16, requantizing_kernel, select,
                                      smlad, sxtb16, sxtb16_ror8)
from compile.dsp.pack import conv_tile, image_pairs, words_of
from compile.dsp.requant import few_taps, requantize

# Where the hand-scheduled loops do not apply (the int16 image with many taps, a conv without a
# bias), the pixels of the TIR loop nest's pass: with 4 accumulators, two pixels' activation
# words and a weight word's two halves, what LLVM keeps in the M4's registers.
PIXELS = 2


def pixel_passes(pixels: int) -> tuple:
  """(pixels a pass, passes) for the hand-scheduled loops: as many passes of 3 as leave a
  multiple of 2, then passes of 2 (a lone pixel: one pass of 1)."""
  if pixels == 1:
    return ((1, 1),)
  threes = pixels // 3
  if pixels % 3 == 1 and threes:
    threes -= 1                     # 3k + 1 pixels: 3(k - 1) + 2 + 2
  twos = -(-(pixels - 3 * threes) // 2)
  return tuple((size, count) for size, count in ((3, threes), (2, twos)) if count)


@dataclasses.dataclass(frozen=True)
class Plan:
  """How `conv` runs one layer: its shapes, and which loops and gathers it takes."""
  in_shape: tuple
  input_dtype: str
  kernel: int
  stride: int
  top: int
  left: int
  out_h: int
  out_w: int
  channels: int
  stages: tuple
  taps: int
  wide: bool              # the int16 image
  unrolled: bool          # few taps of the int16 image: one pixel and channel a pass, unrolled
  tile: int               # output channels a pass
  words: int              # weight words a channel (col words a pixel for int16)
  by_word: bool           # int8 with whole words a tap: the fast gather
  by_hand: bool           # the hand-scheduled loops of firmware/common/smile_dsp.S
  passes: tuple           # (pixels a pass, passes), one or two kinds
  own: tuple | None       # the model's own loops' constants (requant.in_registers)
  fields_by_hand: bool    # the model's own gather where a pass's fields lie inside the map
  rows_inside: tuple      # output rows / columns whose fields lie inside the map
  cols_inside: tuple

  @property
  def pixels(self) -> int:
    return self.out_h * self.out_w

  @property
  def groups(self) -> int:
    return self.in_shape[-1] // 4

  @property
  def widest(self) -> int:
    return max(size for size, _ in self.passes)

  @property
  def tiles(self) -> int:
    return self.channels // self.tile

  @property
  def entries(self) -> int:
    return 128 - min([stage.base for stage in self.stages if stage.table], default=127)


def plan(in_shape, input_dtype: str, kernel: int, stride: int, pads, channels: int,
         stages: tuple) -> Plan:
  _, height, width, cin = in_shape
  top, left, _, _ = pads
  out_h, out_w = graph_lib.out_hw(in_shape, kernel, stride, pads)
  taps, wide = kernel * kernel * cin, input_dtype == "int16"
  unrolled = wide and few_taps(taps)
  pixels = out_h * out_w
  tile = conv_tile(taps, pixels, channels, input_dtype)
  px = 1 if unrolled else PIXELS
  by_word = not wide and cin % 4 == 0
  by_hand = (not wide and stages[0].biased and
             all((size, tile) in HAND_LOOPS for size, _ in pixel_passes(pixels)))
  passes = pixel_passes(pixels) if by_hand else ((px, (pixels + px - 1) // px),)
  own = (requant.in_registers(stages)
         if by_hand and all(size in (2, 3) for size, _ in passes) else None)
  widest = max(size for size, _ in passes)
  # Its offsets are 12-bit immediates.
  fields_by_hand = (own is not None and by_word and width * cin < 4096 and
                    8 * widest * kernel * (cin // 4) < 4096)
  # The pass's pixels in one output row, all with fields inside: one division for the three
  # (testing each pixel cost LLVM more than the hand gather saved).
  rows_inside = tuple(oy for oy in range(out_h) if 0 <= oy * stride - top and
                      oy * stride - top + kernel <= height)
  cols_inside = tuple(ox for ox in range(out_w) if 0 <= ox * stride - left and
                      ox * stride - left + kernel <= width)
  return Plan(tuple(in_shape), input_dtype, kernel, stride, top, left, out_h, out_w, channels,
              tuple(stages), taps, wide, unrolled, tile, words_of(taps, 2 if wide else 4),
              by_word, by_hand, passes, own, fields_by_hand, rows_inside, cols_inside)


def _gather(plan_: Plan):
  """The macro that writes a pass's receptive fields into `col` as int16 pairs (int16 input:
  the pairs of image_pairs, as the pre-widened weights hold them; int8: (x0, x2), (x1, x3) of
  each 4 taps, as the weights' SXTB16 gives)."""
  _, height, width, cin = plan_.in_shape
  kernel, stride, top, left, out_w, pixels = plan_.kernel, plan_.stride, plan_.top, plan_.left, plan_.out_w, plan_.pixels
  by_word, groups, wide = plan_.by_word, plan_.groups, plan_.wide
  pairs = plan_.words if wide else 2 * plan_.words
  pairs_of = image_pairs(kernel, cin)

  def first(pair):
    return select([a for a, _ in pairs_of], pair) if wide else (pair // 2) * 4 + pair % 2

  def second(pair):
    return select([b for _, b in pairs_of], pair) if wide else first(pair) + 2

  def tap(x, element, oy, ox):
    return field_tap(x, plan_.in_shape, kernel, element, oy * stride - top, ox * stride - left)

  @T.macro
  def gather_pass(x, xw, col, start, size):
    for half in T.unroll(size):
      n = T.meta_var(T.min(start + half, pixels - 1))
      oy = T.meta_var(n // out_w)
      ox = T.meta_var(n % out_w)
      iy0 = T.meta_var(oy * stride - top)
      ix0 = T.meta_var(ox * stride - left)
      if by_word and 0 <= iy0 and iy0 + kernel <= height and 0 <= ix0 and \
          ix0 + kernel <= width:
        # The field inside the image: its rows' words straight, no test a tap.
        for ky, kx in T.grid(kernel, kernel):
          base = T.meta_var((ky * kernel + kx) * groups)
          for g in range(groups):
            word = T.meta_var(xw[(((iy0 + ky) * width + ix0 + kx) * cin) // 4 + g])
            col[((base + g) * 2) * size + half] = sxtb16(word)
            col[((base + g) * 2 + 1) * size + half] = sxtb16_ror8(word)
      elif by_word:
        for ky, kx in T.grid(kernel, kernel):
          iy = T.meta_var(iy0 + ky)
          ix = T.meta_var(ix0 + kx)
          base = T.meta_var((ky * kernel + kx) * groups)
          if 0 <= iy and iy < height and 0 <= ix and ix < width:
            for g in range(groups):
              word = T.meta_var(xw[((iy * width + ix) * cin) // 4 + g])
              col[((base + g) * 2) * size + half] = sxtb16(word)
              col[((base + g) * 2 + 1) * size + half] = sxtb16_ror8(word)
          else:
            for g in range(groups):
              col[((base + g) * 2) * size + half] = 0
              col[((base + g) * 2 + 1) * size + half] = 0
      else:
        for p in T.unroll(pairs):
          col[p * size + half] = pair16(tap(x, first(p), oy, ox), tap(x, second(p), oy, ox))
  return gather_pass


def _accumulate(p: Plan):
  """The macro that runs a gathered pass through every channel: the model's own loop (which
  requantizes in registers), a generic hand loop, or the TIR loop nest; then the requantize of
  the accumulators where the loop did not."""
  own, by_hand, tiles, tile, words, wide = p.own, p.by_hand, p.tiles, p.tile, p.words, p.wide
  channels, stages, out_w, pixels = p.channels, p.stages, p.out_w, p.pixels
  taps_loop = T.unroll if p.unrolled else T.serial

  @T.macro
  def one_pass_tiles(w, mult, offset, tables, out, col, acc, start, size):
    if own is not None:
      T.evaluate(T.call_extern("int32", asm.conv_name(size, words, *own, channels),
                               T.address_of(col[0]), T.address_of(w[0, 0, 0]),
                               T.address_of(out[0, start // out_w, start % out_w, 0]), tiles,
                               T.address_of(mult[0, 0]), T.address_of(offset[0, 0])))
    elif by_hand:
      T.evaluate(T.call_extern("int32", HAND_LOOPS[size, tile], T.address_of(col[0]),
                               T.address_of(w[0, 0, 0]), words, tiles, T.address_of(acc[0]),
                               T.address_of(offset[0, 0])))
    else:
      for cb in range(tiles):
        for t, half in T.grid(tile, size):
          acc[(cb * tile + t) * size + half] = (T.Cast("int32", offset[0, cb * tile + t])
                                                if stages[0].biased else 0)
        for k in taps_loop(words):
          for t in T.unroll(tile):
            a = T.meta_var((cb * tile + t) * size)
            if wide:
              for half in T.unroll(size):
                acc[a + half] = smlad(col[k * size + half], w[cb, k, t], acc[a + half])
            else:
              low = T.meta_var(sxtb16(w[cb, k, t]))
              high = T.meta_var(sxtb16_ror8(w[cb, k, t]))
              for half in T.unroll(size):
                acc[a + half] = smlad(col[2 * k * size + half], low, acc[a + half])
                acc[a + half] = smlad(col[(2 * k + 1) * size + half], high, acc[a + half])
    for cb in range(tiles if own is None else 0):
      for half in T.unroll(size):
        n = T.meta_var(T.min(start + half, pixels - 1))
        for t in T.unroll(tile):
          out[0, n // out_w, n % out_w, cb * tile + t] = requantize(
              acc[(cb * tile + t) * size + half], mult, offset, cb * tile + t, stages, tables)
  return one_pass_tiles


def _one_pass(p: Plan):
  """The macro of one pass: pixels start .. start + size - 1 (the last one again past the end)
  gathered (by the model's own gather where all their fields lie inside), then accumulated.
  col: (words, per, size), acc: (tiles, tile, size), both flat."""
  gather_pass, one_pass_tiles = _gather(p), _accumulate(p)
  _, _, width, cin = p.in_shape
  fields_by_hand, kernel, groups, stride = p.fields_by_hand, p.kernel, p.groups, p.stride
  rows, cols, out_w, pixels, top, left = (p.rows_inside, p.cols_inside, p.out_w, p.pixels,
                                          p.top, p.left)

  def pass_inside(start, size):
    if not rows or not cols:
      return False
    oy, ox = start // out_w, start % out_w
    return tvm.tirx.all(start + size <= pixels, rows[0] <= oy, oy <= rows[-1],
                        cols[0] <= ox, ox + size - 1 <= cols[-1])

  def first_word(xw, start, half):
    iy0 = (start // out_w) * stride - top
    ix0 = (start % out_w + half) * stride - left
    return T.address_of(xw[((iy0 * width + ix0) * cin) // 4])

  @T.macro
  def one_pass(x, xw, w, mult, offset, tables, out, col, acc, start, size):
    if fields_by_hand and size == 3 and pass_inside(start, 3):
      T.evaluate(T.call_extern("int32", asm.fields_name(3, kernel, kernel * groups, width * cin),
                               T.address_of(col[0]), first_word(xw, start, 0),
                               first_word(xw, start, 1), first_word(xw, start, 2)))
    elif fields_by_hand and size == 2 and pass_inside(start, 2):
      T.evaluate(T.call_extern("int32", asm.fields_name(2, kernel, kernel * groups, width * cin),
                               T.address_of(col[0]), first_word(xw, start, 0),
                               first_word(xw, start, 1), 0))
    else:
      gather_pass(x, xw, col, start, size)
    one_pass_tiles(w, mult, offset, tables, out, col, acc, start, size)
  return one_pass


def conv(in_shape, input_dtype: str, kernel: int, stride: int, pads, channels: int,
         stages: tuple) -> tvm.tirx.PrimFunc:
  """conv2d (NHWC, SAME or VALID `pads` (top, left, bottom, right)) + the requantize `stages`,
  int8 out.

  Parameters, in order: x (1, H, W, C_in) `input_dtype`, packed weights, multipliers
  (stages, C_out) int32, offsets (stages, C_out) int64, the table stages' lookups (stages, C_out,
  entries) int8 (stage_tables), out (1, OH, OW, C_out) int8."""
  p = plan(in_shape, input_dtype, kernel, stride, pads, channels, stages)
  _, height, width, cin = in_shape
  one_pass = _one_pass(p)
  out_h, out_w, tiles, words, tile, depth, entries = (p.out_h, p.out_w, p.tiles, p.words, p.tile,
                                                      len(stages), p.entries)
  per = 1 if p.wide else 2            # col words per pixel and weight word
  widest, passes = p.widest, p.passes
  hw_words = max(1, height * width * cin // 4)

  @T.macro
  def body(x, w, mult, offset, tables, out):
    # col: per weight word, each pass's pixels' activations as int16 pairs the way the word
    # meets them (int16 input: one pair; int8: (x0, x2) then (x1, x3)); acc: the pass's
    # accumulators, every channel.
    col = T.sblock_alloc_buffer((words * per * widest,), "int32")
    acc = T.sblock_alloc_buffer((channels * widest,), "int32")
    xw = T.decl_buffer((hw_words,), "int32", data=x.data)
    for i in range(passes[0][1]):
      one_pass(x, xw, w, mult, offset, tables, out, col, acc, i * passes[0][0], passes[0][0])
    if len(passes) > 1:
      for i in range(passes[1][1]):
        one_pass(x, xw, w, mult, offset, tables, out, col, acc,
                 passes[0][0] * passes[0][1] + i * passes[1][0], passes[1][0])

  return requantizing_kernel((1, height, width, cin), input_dtype, (tiles, words, tile), depth,
                             channels, entries, (1, out_h, out_w, channels), body)

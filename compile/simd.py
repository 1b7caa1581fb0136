"""int8 kernels on the Cortex-M4's DSP instructions: SMLAD (two 16 x 16 multiply-accumulates a
cycle) fed by SXTB16 (two int8 -> two int16 in one instruction), written as TIR.

The scalar kernels (kernels.py's schedule of TVM's legalized ops) spend 3-4 cycles a MAC. These
spend 1.2-1.5 on the int8 convs, the way hand-tuned Cortex-M libraries do:
  * a pass takes 3 output pixels (2 for what is left: `pixel_passes`); their receptive fields
    are gathered once ("im2col") into a small int32 scratch buffer of int16 pairs: 4 input bytes
    are loaded as one word and SXTB16 splits them into (x0, x2) and (x1, x3); out-of-image taps
    are zeros (a field inside the map is copied without a test a tap);
  * per pair of output channels, one run over that buffer: each weight word (4 int8 weights,
    stored in flash as trained, only regrouped so a pair's words sit together) becomes (w0, w2)
    and (w1, w3) through SXTB16 (with an 8-bit rotation for the second), so the pairs meet their
    activations with no run-time shuffling; two SMLADs per word, channel and pixel. That loop is
    written by hand (called through call_extern on both routes): compiled from TIR, LLVM spreads
    the loads between the SMLADs (2 cycles each on the M4 instead of 1) and spilled
    accumulators, 1.56 cycles/MAC in the loop against ~1.15 by hand;
  * where the requantize chain is a conv's step and at most a batch norm's 32-bit one
    (dsp_requant.in_registers), the loop is the model's own (dsp_asm.conv_name: its shifts,
    channels and group count as immediates, instantiated in its dsp_layers.S) and requantizes
    the accumulators in registers, ~4 cycles an output; otherwise the generic loops of
    firmware/common/smile_dsp.S (`HAND_LOOPS`) leave the accumulators in a buffer and the TIR
    requantizes them (the same fixed-point step as everywhere, quantize.Requant; a batch norm
    after ReLU on 32 bits: its multipliers are small, quantize.AFFINE_MULTIPLIER_BITS);
  * dense layers and one-pixel convs (one input row) take 4 (or 2) channels a pass by hand.
The first layer reads the int16 image (2p - 255, 9 bits): its weights are stored pre-widened to
int16 pairs (a few hundred bytes, paired as `image_pairs` says), so its pairs go to SMLAD as they
are; with only 9 MACs an output there, a batch norm after its ReLU is a per-channel lookup table
(dsp_requant.TABLE_MAX_TAPS) instead of a second multiply-shift-clip. A 3x3 one with a ReLU and
that table runs by hand (simd_image.py, rows a call); otherwise `conv` takes it one pixel and one
channel a pass with the pairs unrolled into registers.

Depthwise convs and the integer average pools (all-one depthwise convs) have their own kernel
(`depthwise`): four channels a word, each channel's taps paired by a pack after SXTB16, used
where most receptive fields lie inside the image (DEPTHWISE_MIN_INSIDE).

dsp_pack.py lays the weights out at compile time; the kernels' arithmetic is exactly the integer
reference's (quantize.run_int): every product and sum is the same integer, only the order of the
additions differs, and int32 additions do not overflow at these sizes (tested bit-exact).

The TIR kernels call `smile_smlad` / `smile_sxtb16`: on the C route, functions of kernels.C_PRELUDE
(the instructions under GCC on an M4, portable C elsewhere); on the LLVM route kernels.py maps
them to LLVM's `llvm.arm.smlad` / `llvm.arm.sxtb16` intrinsics, which become the instructions.
"""

from __future__ import annotations

import tvm
from tvm.script import tirx as T

from compile import dsp_asm, dsp_requant, graph as graph_lib
from compile.dsp_pack import conv_tile, dense_tile, image_pairs, words_of
from compile.dsp_requant import TABLE_MAX_TAPS, few_taps, requantize

# Where the hand-scheduled loops do not apply (the int16 image with many taps, a conv without a
# bias), the pixels of the TIR loop nest's pass: with 4 accumulators, two pixels' activation
# words and a weight word's two halves, what LLVM keeps in the M4's registers.
PIXELS = 2
DSP_ATTR = "smile.dsp"        # marks a kernel written here: kernels.py schedules it no further
OPAQUE = 8                    # Relax's op pattern that keeps FuseOps from fusing into it


# Buffer dtypes as names (string annotations would read as forward references to linters).
I8, I32, I64 = "int8", "int32", "int64"

# The C route defines these (kernels.C_PRELUDE); the LLVM route maps them to its intrinsics.
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


def conv(in_shape, input_dtype: str, kernel: int, stride: int, pads, channels: int,
         stages: tuple) -> tvm.tirx.PrimFunc:
  """conv2d (NHWC, SAME or VALID `pads` (top, left, bottom, right)) + the requantize `stages`,
  int8 out.

  Parameters, in order: x (1, H, W, C_in) `input_dtype`, packed weights, multipliers
  (stages, C_out) int32, offsets (stages, C_out) int64, the table stages' lookups (stages, C_out,
  entries) int8 (stage_tables), out (1, OH, OW, C_out) int8."""
  _, height, width, cin = in_shape
  top, left, _, _ = pads
  out_h, out_w = graph_lib.out_hw(in_shape, kernel, stride, pads)
  taps = kernel * kernel * cin
  wide = input_dtype == "int16"
  # The int16 image with few taps: one pixel and one channel a pass, the taps' pairs unrolled
  # so they stay in registers; otherwise PIXELS pixels x `tile` channels a pass.
  unrolled = wide and few_taps(taps)
  pixels = out_h * out_w
  tile = conv_tile(taps, pixels, channels, input_dtype)
  px = 1 if unrolled else PIXELS
  taps_loop = T.unroll if unrolled else T.serial
  depth = len(stages)
  entries = 128 - min([stage.base for stage in stages if stage.table], default=127)
  words = words_of(taps, 2 if wide else 4)
  pairs = words if wide else 2 * words
  # The fast gather loads four channels as one word; it needs whole words per tap.
  by_word = not wide and cin % 4 == 0
  groups = cin // 4
  hw_words = max(1, height * width * cin // 4)
  # int16 input: the pairs of image_pairs, as the pre-widened weights hold them; int8 input:
  # (x0, x2), (x1, x3) of each 4 taps, as the weights' SXTB16 gives.
  pairs_of = image_pairs(kernel, cin)

  def first(p):
    return select([a for a, _ in pairs_of], p) if wide else (p // 2) * 4 + p % 2

  def second(p):
    return select([b for _, b in pairs_of], p) if wide else first(p) + 2

  def tap(x, element, oy, ox):
    return field_tap(x, in_shape, kernel, element, oy * stride - top, ox * stride - left)

  per = 1 if wide else 2            # col words per pixel and weight word
  # int8: the hand-scheduled loops (firmware/common/smile_dsp.S), 3 pixels a pass and 2 for
  # what is left (one-pixel convs: 1); otherwise the loop nest below, `px` pixels a pass.
  by_hand = (not wide and stages[0].biased and
             all((size, tile) in HAND_LOOPS for size, _ in pixel_passes(pixels)))
  passes = pixel_passes(pixels) if by_hand else ((px, (pixels + px - 1) // px),)
  # The model's own conv loops requantize in registers, their constants as immediates
  # (dsp_asm.conv_name); else the accumulators go to `acc` and the loop below requantizes.
  own = (dsp_requant.in_registers(stages)
         if by_hand and all(size in (2, 3) for size, _ in passes) else None)
  widest = max(size for size, _ in passes)
  tiles = channels // tile

  # A pass whose fields all lie inside the map: the model's own gather (dsp_asm.fields_name;
  # its offsets are 12-bit immediates).
  fields_by_hand = (own is not None and by_word and width * cin < 4096 and
                    8 * widest * kernel * groups < 4096)

  # The pass's pixels in one output row, all with fields inside: one division for the three
  # (testing each pixel cost LLVM more than the hand gather saved).
  rows_inside = [oy for oy in range(out_h) if 0 <= oy * stride - top and
                 oy * stride - top + kernel <= height]
  cols_inside = [ox for ox in range(out_w) if 0 <= ox * stride - left and
                 ox * stride - left + kernel <= width]

  def pass_inside(start, size):
    if not rows_inside or not cols_inside:
      return False
    oy, ox = start // out_w, start % out_w
    return tvm.tirx.all(start + size <= pixels, rows_inside[0] <= oy, oy <= rows_inside[-1],
                        cols_inside[0] <= ox, ox + size - 1 <= cols_inside[-1])

  def first_word(xw, start, half):
    iy0 = (start // out_w) * stride - top
    ix0 = (start % out_w + half) * stride - left
    return T.address_of(xw[((iy0 * width + ix0) * cin) // 4])

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

  @T.macro
  def one_pass_tiles(w, mult, offset, tables, out, col, acc, start, size):
    if own is not None:
      T.evaluate(T.call_extern("int32", dsp_asm.conv_name(size, words, *own, channels),
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

  @T.macro
  def one_pass(x, xw, w, mult, offset, tables, out, col, acc, start, size):
    """Pixels start .. start + size - 1 (the last one again past the end) through every
    channel. col: (words, per, size), acc: (tiles, tile, size), both flat."""
    if fields_by_hand and size == 3 and pass_inside(start, 3):
      T.evaluate(T.call_extern("int32", dsp_asm.fields_name(3, kernel, kernel * groups,
                                                            width * cin),
                               T.address_of(col[0]), first_word(xw, start, 0),
                               first_word(xw, start, 1), first_word(xw, start, 2)))
    elif fields_by_hand and size == 2 and pass_inside(start, 2):
      T.evaluate(T.call_extern("int32", dsp_asm.fields_name(2, kernel, kernel * groups,
                                                            width * cin),
                               T.address_of(col[0]), first_word(xw, start, 0),
                               first_word(xw, start, 1), 0))
    else:
      gather_pass(x, xw, col, start, size)
    one_pass_tiles(w, mult, offset, tables, out, col, acc, start, size)

  @T.prim_func(private=True, s_tir=True)
  def func(x: T.Buffer((1, height, width, cin), dtype=input_dtype),
           w: T.Buffer((tiles, words, tile), dtype=I32),
           mult: T.Buffer((depth, channels), dtype=I32),
           offset: T.Buffer((depth, channels), dtype=I64),
           tables: T.Buffer((depth, channels, entries), dtype=I8),
           out: T.Buffer((1, out_h, out_w, channels), dtype=I8)):
    T.func_attr({"tirx.noalias": True, DSP_ATTR: True, "op_pattern": OPAQUE})
    with T.sblock("root"):
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

  return func


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


def depthwise_fits(in_shape, input_dtype: str, kernel: int, stride: int, pads) -> bool:
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

  Parameters: x (1, H, W, C) int8, packed weights (dsp_pack.pack_depthwise), multipliers (stages, C)
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

  @T.prim_func(private=True, s_tir=True)
  def func(x: T.Buffer((1, height, width, channels), dtype=I8),
           w: T.Buffer((groups, pairs, 4), dtype=I32),
           mult: T.Buffer((depth, channels), dtype=I32),
           offset: T.Buffer((depth, channels), dtype=I64),
           tables: T.Buffer((depth, channels, entries), dtype=I8),
           out: T.Buffer((1, out_h, out_w, channels), dtype=I8)):
    T.func_attr({"tirx.noalias": True, DSP_ATTR: True, "op_pattern": OPAQUE})
    with T.sblock("root"):
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

  return func


def dense(inputs: int, channels: int, stages: tuple) -> tvm.tirx.PrimFunc:
  """(1, inputs) int8 x packed (inputs, channels) weights -> int8 (1, channels) through the
  requantize `stages`, or, for the last layer (no stages), the int32 accumulators plus the bias.

  Parameters: x, packed weights, then multipliers and offsets (stages, C) (requantized) or the
  bias (C,) int64 (last layer: small values, the hand loops read the int64 biases' low words),
  then out."""
  tile = dense_tile(channels)
  depth = len(stages)
  words = words_of(inputs, 4)
  by_word = inputs % 4 == 0
  tiles = channels // tile
  by_hand = (1, tile) in HAND_LOOPS and (not stages or stages[0].biased)

  @T.macro
  def gather(x, xw, col):
    for g in range(words):
      if by_word:
        col[2 * g] = sxtb16(xw[g])
        col[2 * g + 1] = sxtb16_ror8(xw[g])
      else:
        # Pairs (x0, x2), (x1, x3) as the weights' SXTB16 split gives them; 0 past the end.
        col[2 * g] = pair16(_element(x, 4 * g, inputs), _element(x, 4 * g + 2, inputs))
        col[2 * g + 1] = pair16(_element(x, 4 * g + 1, inputs), _element(x, 4 * g + 3, inputs))

  requantized = bool(stages)

  @T.macro
  def body(x, w, first, second, out):
    """`first`, `second`: multipliers and offsets (hidden layer) or the bias twice (logits)."""
    with T.sblock("root"):
      col = T.sblock_alloc_buffer((2 * words,), "int32")
      acc = T.sblock_alloc_buffer((channels,), "int32")
      gather(x, T.decl_buffer((words,), "int32", data=x.data), col)
      if by_hand:
        T.evaluate(T.call_extern("int32", HAND_LOOPS[1, tile], T.address_of(col[0]),
                                 T.address_of(w[0, 0, 0]), words, tiles, T.address_of(acc[0]),
                                 T.address_of(second[0, 0]) if requantized else
                                 T.address_of(second[0])))
      else:
        for cb in range(tiles):
          for t in T.unroll(tile):
            acc[cb * tile + t] = (T.Cast("int32", first[cb * tile + t]) if not requantized else
                                  T.Cast("int32", second[0, cb * tile + t])
                                  if stages[0].biased else 0)
          for k in range(words):
            for t in T.unroll(tile):
              acc[cb * tile + t] = smlad(col[2 * k], sxtb16(w[cb, k, t]), acc[cb * tile + t])
              acc[cb * tile + t] = smlad(col[2 * k + 1], sxtb16_ror8(w[cb, k, t]),
                                         acc[cb * tile + t])
      for c in range(channels):
        if requantized:
          out[0, c] = requantize(acc[c], first, second, c, stages)
        else:
          out[0, c] = acc[c]

  if not stages:
    @T.prim_func(private=True, s_tir=True)
    def logits(x: T.Buffer((1, inputs), dtype=I8),
               w: T.Buffer((tiles, words, tile), dtype=I32),
               bias: T.Buffer((channels,), dtype=I64),
               out: T.Buffer((1, channels), dtype=I32)):
      T.func_attr({"tirx.noalias": True, DSP_ATTR: True, "op_pattern": OPAQUE})
      body(x, w, bias, bias, out)
    return logits

  @T.prim_func(private=True, s_tir=True)
  def hidden(x: T.Buffer((1, inputs), dtype=I8),
             w: T.Buffer((tiles, words, tile), dtype=I32),
             mult: T.Buffer((depth, channels), dtype=I32),
             offset: T.Buffer((depth, channels), dtype=I64),
             out: T.Buffer((1, channels), dtype=I8)):
    T.func_attr({"tirx.noalias": True, DSP_ATTR: True, "op_pattern": OPAQUE})
    body(x, w, mult, offset, out)
  return hidden


def _element(x, index, size: int):
  """x[0, index] as int32, 0 past the end (the weights' zero padding meets zeros)."""
  return tvm.tirx.if_then_else(index < size, T.Cast("int32", x[0, tvm.tirx.min(index, size - 1)]),
                               T.int32(0))

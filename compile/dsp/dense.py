"""Dense layers (and one-pixel convs) on SMLAD: 4 (or 2) output channels a pass by hand."""

from __future__ import annotations

import tvm
from tvm.script import tirx as T

from compile.dsp.instructions import (DSP_ATTR, HAND_LOOPS, I8, I32, I64, OPAQUE, pair16, smlad,
                                      sxtb16, sxtb16_ror8)
from compile.dsp.pack import dense_tile, words_of
from compile.dsp.requant import requantize


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
